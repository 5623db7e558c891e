/* repl.h — the interactive session of `rnnc repl` (repl.c). */
#ifndef RNNC_REPL_H
#define RNNC_REPL_H

/* Runs the session on the terminal (line editing, history, completion) or, without one,
 * on standard input line by line. spec and weights may be NULL; ren[0..nren): --rename
 * OLD=NEW for the weights; jit: "auto", "tcc" or "cc". Returns the exit status: without a terminal,
 * 1 when any command failed. */
int repl_main(const char *spec, const char *weights, const char *const *ren, int nren,
              const char *jit);

#endif
