/* test_cross.c — deployed code on a real embedded toolchain: every spec in specs/ built for
 * a Cortex-M4 with arm-none-eabi-gcc (-mcpu=cortex-m4 -mthumb -mfloat-abi=hard
 * -mfpu=fpv4-sp-d16 -O2, warnings as errors), then linked with tests/cross/ and run on
 * QEMU's mps2-an386: the self-test, and a streaming run checked against <name>_forward.
 * Skipped where gcc-arm-none-eabi or qemu-system-arm is not installed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **specs;
static int nspecs;

static const char *const m4 = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2";

static int have(const char *tool)
{
    char *cmd = tu_strf("command -v %s", tool);
    int ok = tu_run(cmd, NULL, NULL) == 0;
    free(cmd);
    return ok;
}

static void run_ok(const char *cmd, char **out)
{
    char *err = NULL;
    int st = tu_run(cmd, out, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s%s", st, cmd, out && *out ? *out : "", err ? err : "");
    free(err);
}

/* The spec's name, its precision and whether it streams, from the generated header. */
typedef struct Model {
    char stem[64], up[64], name[64];
    int dbl, builtin, streaming;
} Model;

static void gen(const char *spec_file, const char *dir, Model *m)
{
    snprintf(m->stem, sizeof m->stem, "%.*s", (int)strlen(spec_file) - 5, spec_file);
    char *cmd = tu_strf("cd '%s' && '%s' specs/%s -o '%s/%s.c' --weights "
                        "examples/%s/weights.safetensors",
                        tu_src_root(), tu_rnnc_bin(), spec_file, dir, m->stem, m->stem);
    run_ok(cmd, NULL);
    free(cmd);
    char *h = tu_strf("%s/%s.h", dir, m->stem);
    char *text = tu_read_file(h, NULL);
    assert_non_null(text);
    const char *t = strstr(text, "typedef ");
    assert_non_null(t);
    m->dbl = strncmp(t, "typedef double", 14) == 0;
    const char *nm = strstr(t, " ") + 1;
    nm = strstr(nm, " ") + 1;
    snprintf(m->name, sizeof m->name, "%.*s", (int)(strstr(nm, "_real;") - nm), nm);
    for (size_t i = 0; i <= strlen(m->name); i++)
        m->up[i] = (char)toupper((unsigned char)m->name[i]);
    m->builtin = strstr(text, "math: builtin") != NULL;
    m->streaming = strstr(text, "_STREAMING 1") != NULL;
    free(text);
    free(h);
}

/* -c with the flags, warnings as errors; undefined symbols at most expf/tanhf
 * (none with math: builtin; float64 models also call libgcc's soft double routines). */
static void test_cross_compile(void **state)
{
    (void)state;
    if (!have("arm-none-eabi-gcc"))
        skip();
    char *dir = tu_mkdtemp();
    for (int i = 0; i < nspecs; i++) {
        Model m;
        gen(specs[i], dir, &m);
        char *cmd = tu_strf("cd '%s' && arm-none-eabi-gcc %s -std=c11 -Wall -Wextra -Wpedantic "
                            "-Werror -c %s.c -o %s.o && arm-none-eabi-nm -u %s.o",
                            dir, m4, m.stem, m.stem, m.stem);
        char *out = NULL;
        run_ok(cmd, &out);
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            char *sym = strrchr(line, ' ') ? strrchr(line, ' ') + 1 : line;
            int math = !strcmp(sym, "expf") || !strcmp(sym, "tanhf") || !strcmp(sym, "exp") ||
                       !strcmp(sym, "tanh");
            int soft_double = m.dbl && !strncmp(sym, "__aeabi_", 8);
            if ((!math || m.builtin) && !soft_double)
                fail_msg("%s for Cortex-M4: undefined symbol '%s'", m.stem, sym);
        }
        free(out);
        free(cmd);
    }
    tu_rmdir(dir);
}

/* Linked with tests/cross/startup.c and m4_main.c, run on mps2-an386 under QEMU. */
static void test_qemu(void **state)
{
    (void)state;
    if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm"))
        skip();
    char *dir = tu_mkdtemp();
    const char *root = tu_src_root();
    for (int i = 0; i < nspecs; i++) {
        Model m;
        gen(specs[i], dir, &m);
        char *cmd =
            tu_strf("cd '%s' && arm-none-eabi-gcc %s -std=c11 -Wall -Wextra -Werror -nostartfiles "
                    "-T '%s/tests/cross/m4.ld' -I. -DMODEL=%s '-DMODEL_H=\"%s.h\"' -DMODEL_UP=%s "
                    "'%s/tests/cross/startup.c' '%s/tests/cross/m4_main.c' %s.c -o %s.elf %s && "
                    "timeout 120 qemu-system-arm -M mps2-an386 -nographic "
                    "-semihosting-config enable=on,target=native -kernel %s.elf",
                    dir, m4, root, m.name, m.stem, m.up, root, root, m.stem, m.stem,
                    m.builtin ? "-nostdlib -lgcc" : "--specs=nosys.specs -lm", m.stem);
        /* QEMU's semihosting console writes to its standard error */
        char *out = NULL, *err = NULL;
        int st = tu_run(cmd, &out, &err);
        if (st != 0)
            fail_msg("failed (status %d): %s\n%s%s", st, cmd, out ? out : "", err ? err : "");
        free(out);
        out = err;
        if (!strstr(out, "selftest ok"))
            fail_msg("%s on the Cortex-M4: no passing self-test in:\n%s", m.stem, out);
        if (m.streaming && !strstr(out, "streaming ok"))
            fail_msg("%s on the Cortex-M4: streaming run failed:\n%s", m.stem, out);
        free(out);
        free(cmd);
    }
    tu_rmdir(dir);
}

int main(void)
{
    char *dir = tu_strf("%s/specs", tu_src_root());
    specs = tu_list_dir(dir, ".yaml", &nspecs);
    free(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_compile),
        cmocka_unit_test(test_qemu),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(specs, nspecs);
    return rc;
}
