/* repl_train.c — the REPL's training: data names the .npy files, train N runs N more
 * epochs through the library (optimizer state kept), with rnnc train's epoch lines and, on
 * a terminal, its live progress line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "repl_session.h"

/* data X.npy Y.npy [L.npy] [val VX.npy VY.npy [VL.npy]] */
int repl_cmd_data(Repl *s, char *arg)
{
    char *words[8] = {0};
    int n = 0, v = -1;
    for (char *w = strtok(arg, " \t"); w; w = strtok(NULL, " \t"), n++) {
        if (n < 8)
            words[n] = w;
        if (strcmp(w, "val") == 0 && v < 0)
            v = n;
    }
    int nt = v < 0 ? n : v, nv = v < 0 ? 0 : n - v - 1;
    if (n > 7 || nt < 2 || nt > 3 || (v >= 0 && (nv < 2 || nv > 3)))
        return repl_fail(s, "usage: data X.npy Y.npy [L.npy] [val VX.npy VY.npy [VL.npy]]");
    char **fields[6] = {&s->data_x, &s->data_y, &s->data_l, &s->val_x, &s->val_y, &s->val_l};
    const char *given[6] = {words[0],
                            words[1],
                            nt > 2 ? words[2] : NULL,
                            nv ? words[v + 1] : NULL,
                            nv ? words[v + 2] : NULL,
                            nv > 2 ? words[v + 3] : NULL};
    for (int k = 0; k < 6; k++) {
        free(*fields[k]);
        *fields[k] = given[k] ? strdup(given[k]) : NULL;
    }
    printf("training data: %s, %s%s%s\n", words[0], words[1], nt > 2 ? ", " : "",
           nt > 2 ? words[2] : "");
    if (nv)
        printf("validation data: %s, %s%s%s\n", s->val_x, s->val_y, s->val_l ? ", " : "",
               s->val_l ? s->val_l : "");
    return 0;
}

/* The epoch lines as rnnc train prints them; on a terminal the live line with steps/s and
 * time left. */
static void show_progress(void *ctx, const RnncProgress *p)
{
    Repl *s = ctx;
    if (p->end_of_epoch) {
        if (s->interactive)
            printf("\r\033[K");
        cli_print_epoch(p);
        printf("\n");
        fflush(stdout);
    } else if (s->interactive && (p->elapsed - s->last_live >= 0.1 || p->step == p->steps)) {
        s->last_live = p->elapsed;
        printf("\r\033[Kepoch %d/%d  step %ld/%ld  loss %.6f  %.1f steps/s  %.0f s left", p->epoch,
               p->epochs, p->step, p->steps, p->loss, p->steps_per_s, p->eta);
        fflush(stdout);
    }
}

/* train N: N epochs on the data from the current weights, the optimizer's state carried
 * from the last train; Ctrl-C keeps the epochs that finished. */
int repl_cmd_train(Repl *s, char *arg)
{
    if (repl_need_model(s) < 0)
        return -1;
    char *end;
    long n = strtol(arg, &end, 10);
    if (!*arg || *end || n < 1 || n > 1000000)
        return repl_fail(s, "train needs a number of epochs");
    if (!s->data_x)
        return repl_fail(s, "no training data: data X.npy Y.npy [LENGTHS.npy]");
    RnncTrainArgs a;
    memset(&a, 0, sizeof a);
    a.input = s->data_x;
    a.target = s->data_y;
    a.lengths = s->data_l;
    a.val_input = s->val_x;
    a.val_target = s->val_y;
    a.val_lengths = s->val_l;
    rnnc_train_cfg(s->r, &a.cfg);
    a.cfg.epochs = (int)n;
    a.progress = show_progress;
    a.ctx = s;
    a.stop = &repl_interrupted;
    repl_interrupted = 0;
    s->last_live = -1;
    int rc = repl_report(s, s->r, rnnc_model_train(s->m, &a));
    if (rc == 0 && a.stopped)
        printf("%sinterrupted: the epochs that finished are kept\n", s->interactive ? "\n" : "");
    repl_interrupted = 0;
    return rc;
}
