/* jit.h — compiles generated C in memory through libtcc and hands back the model's entry
 * points. Only jit.c includes libtcc.h. Math functions are passed in with tcc_add_symbol,
 * so the generated code needs no system header.
 */
#ifndef RNNC_JIT_H
#define RNNC_JIT_H

#include "diag.h"

typedef struct JitModule JitModule;

/* How generated code is compiled in process: libtcc (milliseconds, slower code), or the
 * system compiler (`$CC`, default cc, -O3 -march=native) into a shared object kept in a
 * cache keyed by a hash of the code and loaded with dlopen. */
typedef enum JitKind { JIT_TCC, JIT_CC } JitKind;

/* Entry points of a generated model (see the generated header for their contracts).
 * Exactly one of the f32/f64 sets is filled, as the model's precision says. */
typedef struct ModelFns {
    int dbl;
    long (*scratch_bytes)(int B, int T);
    void (*pack_f32)(const float *params, float *packed);
    int (*forward_f32)(const float *w, const float *x, const int *lengths, int B, int T, float *y,
                       float *h_n, float *c_n, void *scratch);
    void (*pack_f64)(const double *params, double *packed);
    int (*forward_f64)(const double *w, const double *x, const int *lengths, int B, int T,
                       double *y, double *h_n, double *c_n, void *scratch);
    /* <prefix>_forward_par: part `part` of `nparts` threads that meet in sync(ctx) */
    int (*par_f32)(const float *w, const float *x, const int *lengths, int B, int T, float *y,
                   float *h_n, float *c_n, void *scratch, void *shared, int part, int nparts,
                   void (*sync)(void *), void *ctx);
    int (*par_f64)(const double *w, const double *x, const int *lengths, int B, int T,
                   double *y, double *h_n, double *c_n, void *scratch, void *shared, int part,
                   int nparts, void (*sync)(void *), void *ctx);
} ModelFns;

/* Compiles `source` (one translation unit, no #include) and looks up `<prefix>_pack`,
 * `<prefix>_forward`, `<prefix>_forward_par` and `<prefix>_scratch_bytes`. Returns the module (free with jit_free)
 * or NULL with tcc's messages added to `d`. */
JitModule *jit_compile(JitKind kind, const char *source, const char *prefix, int dbl,
                       ModelFns *fns, DiagList *d);
/* The directory of the system compiler's cache: $RNNC_CACHE_DIR, else $XDG_CACHE_HOME/rnnc,
 * else ~/.cache/rnnc, else /tmp/rnnc-cache-<uid>; into out (size n). */
void jit_cache_dir(char *out, size_t n);
/* The address of any other global of the compiled code, or NULL. */
void *jit_symbol(JitModule *m, const char *name);
void jit_free(JitModule *m);

#endif
