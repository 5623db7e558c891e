/* qhost.h — what host/quant.c (calibration, the float reference, the quantised model in
 * memory, the error report) and host/qdeploy.c (writing quantised deployed code, the sizes
 * rnnc check prints) share. Internal: the public API is include/rnnc.h's rnnc_quant_*.
 */
#ifndef RNNC_QHOST_H
#define RNNC_QHOST_H

#include "emit.h"
#include "host.h"
#include "qemit.h"
#include "quant.h"

struct RnncQuant {
    Rnnc *r;
    Arena arena; /* the QPlan, the QuantModel and the ranges */
    const QPlan *qp;
    QuantModel *qm;
    double *params; /* (nparams) the float weights, state_dict order */
    QuantRanges rg;
    JitModule *jit;
    int (*forward)(const void *x, int T, void *y, void *work); /* <name>_forward */
    void **probe;    /* (ngroups) where the compiled code's RNNC_PROBE copies each group */
    void *work;      /* <name>_work */
    void *xq, *yq;   /* one sequence's input and output in the mode's types */
    double *scratch; /* the float reference's */
};

/* rnnc_write_deployed's float code, whatever the spec's deploy.quantize (deploy.c). */
int host_write_float(Rnnc *r, const char *c_path, const char *weights, int selftest);

/* The deployed unit of q's model: with the self-test when `selftest` (T steps of golden
 * input tx and output ty, in the mode's types). 0, or -1 with an error in q->r. */
int qhost_emit(RnncQuant *q, const char *header_name, const char *weights_name, int selftest,
               int T, const void *tx, const void *ty, CUnit *u);
/* The float reference on one sequence: every group's output (T, W) into outs[g] (its final
 * state, W, for a group under a head on the last state; outs or outs[g] may be NULL), y as
 * rnnc_quant_run's; the ranges in rg grow when rg is not NULL. */
void qhost_ref(RnncQuant *q, const double *x, int T, double **outs, double *y, QuantRanges *rg);

#endif
