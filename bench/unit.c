/* unit.c — rnnc-unit: prints the translation unit `rnnc run`/`train` compile for a spec (what
 * --jit cc builds, or with `tcc` the one shaped for libtcc), so that bench/parts.sh can time
 * and profile its parts outside rnnc (perf resolves the tiles' names in an object built from
 * a file; in rnnc's own cache it profiles the compiler as often as the model). With -o, writes
 * the unit `rnnc SPEC -o OUT.c` writes instead (and OUT.h). pf-next and no-pf-next give every
 * blocked layer plan.h's pf_next, or take it away, whatever its size: bench/bounds.sh times a
 * layer the other way round as to the next panel, with the code the generator writes.
 * tile-w=N gives every layer with one-sequence tiles (plan.h's tile_w) tiles of N units
 * where N is a multiple of 16 that splits H into two panels or more, and the feeds
 * (plan_feeds) that width implies; feed-lstm lets LSTM layers carry the next one's
 * projection as RNN layers do: bench/bounds.sh times S1 in the tiles it had before, with
 * and without that feed. tile-s=N gives every tiled layer tiles of at most N sequences
 * (plan.h's tile_s; bench/bounds.sh times M1 and L1 in the six they had before).
 *
 *   rnnc-unit SPEC [train] [tcc] [pf-next|no-pf-next] [tile-w=N] [feed-lstm] [tile-s=N]
 *       > unit.c
 *   rnnc-unit SPEC [pf-next|no-pf-next] [tile-w=N] [feed-lstm] [tile-s=N] -o OUT.c
 *
 * Exit status: 0, 1 when the spec does not load or a file cannot be written (diagnostics on
 * stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "host.h"
#include "write.h"

int main(int argc, char **argv)
{
    int train = 0, tcc = 0, pf = -1, tw = 0, feed_lstm = 0, ts = 0;
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "train") == 0)
            train = 1;
        else if (strcmp(argv[i], "tcc") == 0)
            tcc = 1;
        else if (strcmp(argv[i], "pf-next") == 0 || strcmp(argv[i], "no-pf-next") == 0)
            pf = argv[i][0] == 'p';
        else if (strncmp(argv[i], "tile-w=", 7) == 0 && atoi(argv[i] + 7) > 0 &&
                 atoi(argv[i] + 7) % 16 == 0)
            tw = atoi(argv[i] + 7);
        else if (strncmp(argv[i], "tile-s=", 7) == 0 && atoi(argv[i] + 7) > 0 &&
                 atoi(argv[i] + 7) <= 8)
            ts = atoi(argv[i] + 7);
        else if (strcmp(argv[i], "feed-lstm") == 0)
            feed_lstm = 1;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else
            argc = 0; /* a word none of these: usage */
    }
    if (argc < 2 || (out && (train || tcc))) {
        fprintf(stderr, "usage: rnnc-unit SPEC [train] [tcc] [pf-next|no-pf-next] [tile-w=N]\n"
                        "           [feed-lstm] [tile-s=N]\n"
                        "       rnnc-unit SPEC [pf-next|no-pf-next] [tile-w=N] [feed-lstm]\n"
                        "           [tile-s=N] -o OUT.c\n");
        return 2;
    }
    Rnnc r;
    rnnc_init(&r);
    CUnit u = {0};
    int rc = 1;
    if (rnnc_load(&r, argv[1]) == 0) {
        /* a bench tool's edits of the plan rnnc made: tile.c reads them as it emits */
        for (int l = 0; l < r.plan->nlayers; l++) {
            PlanLayer *L = (PlanLayer *)&r.plan->layers[l];
            if (pf >= 0)
                L->pf_next = pf && L->blocked;
            if (tw && L->tile_w && L->H % tw == 0 && tw < L->H)
                L->tile_w = tw;
            if (ts && L->tile_s)
                L->tile_s = ts;
        }
        if (tw || feed_lstm)
            plan_feeds((Plan *)r.plan, feed_lstm);
        if (out)
            rc = write_unit(out, r.plan, &r.diag) == 0 ? 0 : 1;
        else if (emit_unit_jit(r.plan, train, tcc, &u, &r.diag) == 0) {
            char *s = cunit_join(&u);
            rc = s && fputs(s, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 1;
            if (!s)
                fprintf(stderr, "rnnc-unit: out of memory\n");
            free(s);
            cunit_free(&u);
        }
    }
    if (rc)
        diag_render(&r.diag, stderr);
    rnnc_fini(&r);
    return rc;
}
