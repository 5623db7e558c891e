/* test_golden.c — the emitted C of every spec in specs/ against the committed copy in
 * tests/golden/ (regenerate with tools/regen_golden.sh; the diff in review shows what
 * changed in the generated code).
 */
#define _POSIX_C_SOURCE 200809L
#include "emit.h"
#include "host.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the first differing line of two texts. */
static void first_difference(const char *a, const char *b, const char *what)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    fail_msg("%s differs from the golden copy at line %d:\n  got:  %.*s\n  want: %.*s\n"
             "(run tools/regen_golden.sh if the change is intended)",
             what, line, (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
}

static void test_golden(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *specdir = tu_strf("%s/specs", root);
    int n;
    char **specs = tu_list_dir(specdir, ".yaml", &n);
    assert_true(n >= 5);
    char *tmp = tu_mkdtemp();
    for (int i = 0; i < n; i++) {
        char *stem = tu_strf("%s", specs[i]);
        stem[strlen(stem) - 5] = '\0';
        char *cmd = tu_strf("cd '%s' && '%s' 'specs/%s' -o '%s/%s.c'", root, tu_rnnc_bin(),
                            specs[i], tmp, stem);
        char *err = NULL;
        int st = tu_run(cmd, NULL, &err);
        if (st != 0)
            fail_msg("%s failed: %s", cmd, err ? err : "");
        free(err);
        const char *exts[] = {"c", "h"};
        for (int k = 0; k < 2; k++) {
            char *got_p = tu_strf("%s/%s.%s", tmp, stem, exts[k]);
            char *want_p = tu_strf("%s/tests/golden/%s.%s", root, stem, exts[k]);
            char *got = tu_read_file(got_p, NULL), *want = tu_read_file(want_p, NULL);
            assert_non_null(got);
            if (!want)
                fail_msg("no golden copy %s (run tools/regen_golden.sh)", want_p);
            if (strcmp(got, want) != 0)
                first_difference(got, want, want_p);
            free(got);
            free(want);
            free(got_p);
            free(want_p);
        }
        free(cmd);
        free(stem);
    }
    tu_rmdir(tmp);
    tu_free_list(specs, n);
    free(specdir);
}

/* The training unit (what `rnnc grad`, `train` and the REPL compile, shaped for the system
 * compiler) of every spec in specs/ against tests/golden/train/; with RNNC_REGEN=1 in the
 * environment the copies are written instead (tools/regen_golden.sh). */
static void test_golden_train(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *specdir = tu_strf("%s/specs", root);
    int n;
    char **specs = tu_list_dir(specdir, ".yaml", &n);
    const char *regen = getenv("RNNC_REGEN");
    for (int i = 0; i < n; i++) {
        char *spec = tu_strf("%s/%s", specdir, specs[i]);
        Rnnc r;
        rnnc_init(&r);
        assert_int_equal(rnnc_load(&r, spec), 0);
        CUnit u;
        assert_int_equal(emit_unit_jit(r.plan, 1, 0, &u, &r.diag), 0);
        char *got = cunit_join(&u);
        assert_non_null(got);
        char *stem = tu_strf("%s", specs[i]);
        stem[strlen(stem) - 5] = '\0';
        char *want_p = tu_strf("%s/tests/golden/train/%s.c", root, stem);
        if (regen && strcmp(regen, "1") == 0) {
            assert_int_equal(tu_write_file(want_p, got), 0);
        } else {
            char *want = tu_read_file(want_p, NULL);
            if (!want)
                fail_msg("no golden copy %s (run tools/regen_golden.sh)", want_p);
            if (strcmp(got, want) != 0)
                first_difference(got, want, want_p);
            free(want);
        }
        free(want_p);
        free(stem);
        free(got);
        cunit_free(&u);
        rnnc_fini(&r);
        free(spec);
    }
    tu_free_list(specs, n);
    free(specdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden),
                                       cmocka_unit_test(test_golden_train)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
