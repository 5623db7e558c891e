/* qemit.h — the emitter of quantised deployed code (deploy.quantize): quant.c writes the
 * unit (header, flash arrays, forward, streaming step, self-test), qcell.c each cell's step
 * and the head, in int8-weights (real activations) or integer (int8, int16) arithmetic.
 */
#ifndef RNNC_QEMIT_H
#define RNNC_QEMIT_H

#include "emit.h"
#include "quant.h"

/* What quantised deployed code bakes in: the quantised model and, for the self-test, a
 * golden input and the outputs of this same code for it (activations of the mode: int8,
 * int16 or the model's real; (test_T, I) in, y as EmitDeploy's). */
typedef struct EmitQuant {
    const char *weights_name;
    const QuantModel *qm;
    int selftest;
    int test_T;
    const void *test_x, *test_y;
} EmitQuant;

/* Renders the deployable unit of qm's mode: the API of emit_unit_deploy with activations of
 * the mode (<name>_q, int8 or int16, in the integer modes), its scales as macros, and a
 * RNNC_PROBE(group, values, n) hook after each layer (nothing unless defined where the code
 * is compiled: rnnc's calibration report reads each layer through it). 0, or -1 when out of
 * memory. */
int emit_unit_quant(const Plan *plan, const char *header_name, const EmitQuant *eq, CUnit *out,
                    DiagList *d);

#ifdef RNNC_EMIT_INT_H
/* ---- qcell.c ------------------------------------------------------------------------- */

/* The step of group g's layers (both directions share it): <fn>_cell(const qlayer *w,
 * const act *x, act *h[, C *c]), in qm's mode. */
void qem_cell(Emitter *e, const QPlan *q, const PlanLayer *L);
/* head_apply(const act *x, act *y): the head on one input vector. */
void qem_head(Emitter *e, const QPlan *q);
#endif

#endif
