/* unit.c — rnnc-unit: prints the translation unit `rnnc run`/`train` compile for a spec (what
 * --jit cc builds, or with `tcc` the one shaped for libtcc), so that bench/parts.sh can time
 * and profile its parts outside rnnc (perf resolves the tiles' names in an object built from
 * a file; in rnnc's own cache it profiles the compiler as often as the model).
 *
 *   rnnc-unit SPEC [train] [tcc] > unit.c
 *
 * Exit status: 0, 1 when the spec does not load (its diagnostics on stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "host.h"

int main(int argc, char **argv)
{
    int train = 0, tcc = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "train") == 0)
            train = 1;
        else if (strcmp(argv[i], "tcc") == 0)
            tcc = 1;
        else
            argc = 0; /* a word neither: usage */
    }
    if (argc < 2) {
        fprintf(stderr, "usage: rnnc-unit SPEC [train] [tcc]\n");
        return 2;
    }
    Rnnc r;
    rnnc_init(&r);
    CUnit u = {0};
    int rc = 1;
    if (rnnc_load(&r, argv[1]) == 0 && emit_unit_jit(r.plan, train, tcc, &u, &r.diag) == 0) {
        char *s = cunit_join(&u);
        rc = s && fputs(s, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 1;
        if (!s)
            fprintf(stderr, "rnnc-unit: out of memory\n");
        free(s);
        cunit_free(&u);
    }
    if (rc)
        diag_render(&r.diag, stderr);
    rnnc_fini(&r);
    return rc;
}
