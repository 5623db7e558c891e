/* repl_session.h — what the files of `rnnc repl` share: the session (Repl), its error
 * reporting, and the commands, one function each, grouped by file: the spec and weights
 * (repl_spec.c), running (repl_run.c), training (repl_train.c). The command table, the
 * dispatch and the line loop are in repl.c. Private to cli/.
 */
#ifndef RNNC_REPL_SESSION_H
#define RNNC_REPL_SESSION_H

#include <signal.h>

#include "rnnc.h"

typedef struct Repl {
    char *path; /* the spec on disk, NULL when none is loaded */
    char *text; /* the spec as it stands, with the `set` edits */
    Rnnc *r;    /* the compiled spec */
    RnncModel *m;
    double *x; /* the current input, (xT, I) */
    int xT, cursor;
    char *data_x, *data_y, *data_l;
    char *val_x, *val_y, *val_l; /* validation data for train (NULL: none) */
    double last_live;            /* when the live line of train was last drawn */
    long seed;
    const char *jit; /* "auto", "tcc" or "cc" */
    int interactive, failed;
    char *plot_file; /* the last figure drawn, redrawn after `set` */
    int plot_kind;
    char qmode[16]; /* quantize: the mode run shows beside the float model; "" when none */
} Repl;

/* Set by Ctrl-C (SIGINT, installed by repl_main); run and train poll it to stop early and
 * clear it when they start and end. */
extern volatile sig_atomic_t repl_interrupted;

/* Prints "error: " and the message to stderr (after flushing stdout, to keep the order),
 * marks the session failed, returns -1. */
int repl_fail(Repl *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints and clears the diagnostics r holds; a negative rc marks the session failed.
 * Returns rc. */
int repl_report(Repl *s, Rnnc *r, int rc);

/* 0 when a model is loaded, else -1 after telling the user to load a spec. */
int repl_need_model(Repl *s);

/* The loaded spec's facts; s->r must be loaded. */
RnncInfo repl_info(const Repl *s);

/* The weights file `path` into the loaded model, the file's names renamed by ren[0..n)
 * (OLD=NEW, as --rename). 0, or -1 after the library's diagnostics are printed. */
int repl_load_weights(Repl *s, const char *path, const char *const *ren, int n);

/* The commands. Each takes the line after the command's word (for x, h0 and c0: after the
 * `=`), trimmed, which it may modify; prints its result to stdout and returns 0, or -1
 * after an error message (repl_fail or the library's diagnostics). The usage of each is
 * the command table's, in repl.c. */
int repl_cmd_load(Repl *s, char *arg);
int repl_cmd_reload(Repl *s, char *arg);
int repl_cmd_weights(Repl *s, char *arg);
int repl_cmd_init(Repl *s, char *arg);
int repl_cmd_save(Repl *s, char *arg);
int repl_cmd_set(Repl *s, char *arg);
int repl_cmd_summary(Repl *s, char *arg);
int repl_cmd_params(Repl *s, char *arg);
int repl_cmd_show(Repl *s, char *arg);
int repl_cmd_plot(Repl *s, char *arg);
int repl_cmd_x(Repl *s, char *arg);
int repl_cmd_h0(Repl *s, char *arg);
int repl_cmd_c0(Repl *s, char *arg);
int repl_cmd_run(Repl *s, char *arg);
int repl_cmd_quantize(Repl *s, char *arg);
int repl_cmd_step(Repl *s, char *arg);
int repl_cmd_reset(Repl *s, char *arg);
int repl_cmd_state(Repl *s, char *arg);
int repl_cmd_gates(Repl *s, char *arg);
int repl_cmd_data(Repl *s, char *arg);
int repl_cmd_train(Repl *s, char *arg);

#endif
