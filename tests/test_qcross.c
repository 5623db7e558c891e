/* test_qcross.c — quantised deployed code (deploy.quantize) on embedded toolchains: every
 * spec in specs/ in the integer modes built for a Cortex-M4 (hard float: no floating-point
 * instruction in the object), a Cortex-M3 and a Cortex-M0 (-mfloat-abi=soft: no soft-float
 * routine, only libgcc's integer ones where the core lacks an instruction), warnings as
 * errors; then run on QEMU's mps2-an386 (M4) and mps2-an385 (M3): the self-test, streaming
 * equal to <name>_forward, and a checksum of the outputs equal to the host build's. The
 * int8-weights mode runs on the M4. Skipped where the cross tools are missing.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **specs;
static int nspecs;

static const char *const m4 = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16";
static const char *const m3 = "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft";
static const char *const m0 = "-mcpu=cortex-m0 -mthumb -mfloat-abi=soft";
static const char *const strict = "-std=c11 -Wall -Wextra -Wpedantic -Werror -O2";

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

/* One spec's quantised files in dir: m.c, m.h; its name and NAME. */
typedef struct Model {
    char stem[64], name[64], up[64];
    int streaming;
} Model;

static void gen(const char *spec_file, const char *mode, const char *dir, Model *m)
{
    const char *root = tu_src_root();
    snprintf(m->stem, sizeof m->stem, "%.*s", (int)strlen(spec_file) - 5, spec_file);
    char *l = tu_strf("%s/examples/%s/lengths.npy", root, m->stem);
    char *cmd = tu_strf("cd '%s' && '%s' specs/%s -o '%s/m.c' --weights "
                        "examples/%s/weights.safetensors --quantize %s --calib examples/%s/x.npy "
                        "%s%s",
                        root, tu_rnnc_bin(), spec_file, dir, m->stem, mode, m->stem,
                        tu_exists(l) ? "--calib-lengths " : "", tu_exists(l) ? l : "");
    run_ok(cmd, NULL);
    free(cmd);
    free(l);
    char *h = tu_strf("%s/m.h", dir);
    char *text = tu_read_file(h, NULL);
    assert_non_null(text);
    const char *at = strstr(text, "_QUANTIZE \"");
    assert_non_null(at);
    while (at > text && at[-1] != ' ')
        at--;
    snprintf(m->up, sizeof m->up, "%.*s", (int)(strstr(at, "_QUANTIZE") - at), at);
    for (size_t i = 0; i <= strlen(m->up); i++)
        m->name[i] = (char)tolower((unsigned char)m->up[i]);
    m->streaming = strstr(text, "_STREAMING 1") != NULL;
    free(text);
    free(h);
}

/* Undefined symbols of an object that are not libgcc's integer routines. */
static void only_integer_helpers(const char *dir, const char *flags, const char *what)
{
    static const char *const ok[] = {"__aeabi_lmul",  "__aeabi_idiv",     "__aeabi_idivmod",
                                     "__aeabi_uidiv", "__aeabi_uidivmod", "__aeabi_llsl",
                                     "__aeabi_llsr",  "__aeabi_lasr",     NULL};
    char *cmd = tu_strf("cd '%s' && arm-none-eabi-gcc %s %s -c m.c -o m.o && "
                        "arm-none-eabi-nm -u m.o",
                        dir, flags, strict);
    char *out = NULL;
    run_ok(cmd, &out);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *sym = strrchr(line, ' ') ? strrchr(line, ' ') + 1 : line;
        int fine = 0;
        for (int k = 0; ok[k]; k++)
            fine |= strcmp(sym, ok[k]) == 0;
        if (!fine)
            fail_msg("%s: undefined symbol '%s' (a soft-float or library routine)", what, sym);
    }
    free(out);
    free(cmd);
}

static void test_objects(void **state)
{
    (void)state;
    if (!have("arm-none-eabi-gcc"))
        skip();
    const char *modes[] = {"int8", "int16"};
    for (int i = 0; i < nspecs; i++)
        for (int k = 0; k < 2; k++) {
            char *dir = tu_mkdtemp();
            Model m;
            gen(specs[i], modes[k], dir, &m);
            char *what = tu_strf("%s %s", m.stem, modes[k]);
            only_integer_helpers(dir, m3, what);
            only_integer_helpers(dir, m0, what);
            /* the hard-float M4 object: not one VFP instruction (their mnemonics start
             * with v: vldr, vmov, vadd, vcvt, ...) */
            char *cmd = tu_strf("cd '%s' && arm-none-eabi-gcc %s %s -c m.c -o m.o && "
                                "arm-none-eabi-objdump -d m.o | awk -F'\\t' '$3 ~ /^v/'",
                                dir, m4, strict);
            char *out = NULL;
            run_ok(cmd, &out);
            if (out && *out)
                fail_msg("%s for the Cortex-M4: floating-point instructions:\n%s", what, out);
            free(out);
            free(cmd);
            free(what);
            tu_rmdir(dir);
        }
}

/* Linked with tests/cross/startup.c and q_main.c, run on `board`; the output. */
static char *run_board(const char *dir, const Model *m, const char *flags, const char *board,
                       const char *elem)
{
    const char *root = tu_src_root();
    char *cmd =
        tu_strf("cd '%s' && arm-none-eabi-gcc %s -std=c11 -O2 -Wall -Wextra -Werror -nostartfiles "
                "-T '%s/tests/cross/m4.ld' -I. -DMODEL=%s '-DMODEL_H=\"m.h\"' -DMODEL_UP=%s "
                "-DELEM=%s_%s '%s/tests/cross/startup.c' '%s/tests/cross/q_main.c' m.c -o m.elf "
                "-nostdlib -lgcc && timeout 120 qemu-system-arm -M %s -nographic "
                "-semihosting-config enable=on,target=native -kernel m.elf",
                dir, flags, root, m->name, m->up, m->name, elem, root, root, board);
    char *out = NULL, *err = NULL; /* QEMU's semihosting console writes to stderr */
    int st = tu_run(cmd, &out, &err);
    if (st != 0)
        fail_msg("failed (status %d): %s\n%s%s", st, cmd, out ? out : "", err ? err : "");
    free(out);
    free(cmd);
    return err;
}

/* The checksum q_main.c prints, built for this machine by gcc. */
static char *host_checksum(const char *dir, const Model *m, const char *elem)
{
    char *cmd = tu_strf("cd '%s' && printf '#include <stdio.h>\\nvoid sh_write(const char *s) "
                        "{ fputs(s, stdout); }\\n' > sh.c && gcc -std=c11 -O2 -I. -DMODEL=%s "
                        "'-DMODEL_H=\"m.h\"' -DMODEL_UP=%s -DELEM=%s_%s '%s/tests/cross/q_main.c' "
                        "m.c sh.c -o host -lm && ./host",
                        dir, m->name, m->up, m->name, elem, tu_src_root());
    char *out = NULL;
    run_ok(cmd, &out);
    free(cmd);
    char *s = strstr(out, "checksum ");
    assert_non_null(s);
    char *sum = tu_strf("%.17s", s);
    free(out);
    return sum;
}

static void test_qemu(void **state)
{
    (void)state;
    if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm"))
        skip();
    const char *modes[] = {"int8", "int16", "int8-weights"};
    for (int i = 0; i < nspecs; i++)
        for (int k = 0; k < 3; k++) {
            char *dir = tu_mkdtemp();
            Model m;
            gen(specs[i], modes[k], dir, &m);
            const char *elem = k < 2 ? "q" : "real";
            char *want = host_checksum(dir, &m, elem);
            for (int b = 0; b < (k < 2 ? 2 : 1); b++) {
                char *out = run_board(dir, &m, b ? m3 : m4, b ? "mps2-an385" : "mps2-an386", elem);
                const char *core = b ? "Cortex-M3" : "Cortex-M4";
                if (!strstr(out, "selftest ok"))
                    fail_msg("%s %s on the %s: no passing self-test:\n%s", m.stem, modes[k], core,
                             out);
                if (m.streaming && !strstr(out, "streaming ok"))
                    fail_msg("%s %s on the %s: streaming differs:\n%s", m.stem, modes[k], core,
                             out);
                if (k < 2 && !strstr(out, want))
                    fail_msg("%s %s on the %s: not the host's %s:\n%s", m.stem, modes[k], core,
                             want, out);
                free(out);
            }
            free(want);
            tu_rmdir(dir);
        }
}

int main(void)
{
    char *dir = tu_strf("%s/specs", tu_src_root());
    specs = tu_list_dir(dir, ".yaml", &nspecs);
    free(dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_qemu),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_free_list(specs, nspecs);
    return rc;
}
