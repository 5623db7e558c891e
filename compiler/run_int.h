/* run_int.h — what run.c (run, check, -o) and train.c (grad, train) share: reading the
 * input files and turning runtime errors into diagnostics. Internal to the compiler.
 */
#ifndef RNNC_RUN_INT_H
#define RNNC_RUN_INT_H

#include "../runtime/rnnrt.h"
#include "jit.h"
#include "rnnc.h"

/* Everything one run holds, freed by run_data_free. */
typedef struct RunData {
    RnnrtArray x, lengths;
    void *params, *packed, *xr, *y, *h_n, *c_n;
    int *len;
    JitModule *jit;
    char *source;
} RunData;

void run_data_free(RunData *d);
/* Adds each line of a runtime error as a diagnostic, after `prefix` when not NULL. */
void run_rt_error_in(Rnnc *r, const char *prefix, const RnnrtError *e);
void run_rt_error(Rnnc *r, const RnnrtError *e);
/* A fresh copy of a float array in the model precision; NULL when out of memory. */
void *run_to_real(const RnnrtArray *a, int dbl, long n);
void run_fmt_shape(char *buf, size_t n, const long *shape, int ndim);
/* Reads a->input (and a->lengths) into d, checked against the spec; sets B and T. */
int run_load_inputs(Rnnc *r, const RnncRunArgs *a, RunData *d, int *B, int *T);

#endif
