/* emit.h — fourth stage: Plan to C. Renders the header (the documented API) and the body
 * (every layer's cell and sequence functions, the weight packer, the forward driver).
 * The emitter only asserts: every check has been done by `check`.
 */
#ifndef RNNC_EMIT_H
#define RNNC_EMIT_H

#include "plan.h"

/* The generated translation unit. Strings are malloc'd; free with cunit_free. */
typedef struct CUnit {
    char *header;  /* contents of <base>.h */
    char *banner;  /* the opening comment of <base>.c */
    char *include; /* then its #include line: "#include \"<base>.h\"\n\n" */
    char *body;    /* then the code */
} CUnit;

/* Renders `plan`. `header_name` is the file name the body includes (e.g. "model.h").
 * Deterministic: the same plan gives byte-identical text. Returns 0, or -1 when out of
 * memory (diagnostic added). */
int emit_unit(const Plan *plan, const char *header_name, CUnit *out, DiagList *d);
void cunit_free(CUnit *u);
/* Header, banner and body as the one translation unit a JIT compiles (malloc'd; NULL when out
 * of memory). */
char *cunit_join(const CUnit *u);

/* The unit a JIT compiles: with the training API when `train`; loops shaped for libtcc
 * when `for_tcc` (the same arithmetic, in the same order). */
int emit_unit_jit(const Plan *plan, int train, int for_tcc, CUnit *out, DiagList *d);

/* The training API of the JIT unit (emit/api.c):
 *   long <name>_train_bytes(int B, int T);
 *   int  <name>_forward_train(w, x, lengths, B, T, y, logits, drop, state0, state1, cache,
 *                             part, nparts, sched); part of nparts: its share of the
 *        sequences, through every layer (sched: 2B + T ints of its own when nparts > 1)
 *   int  <name>_backward(w, x, B, T, dout, drop, dw, dstate0, cache, part, nparts, sync,
 *                        ctx); part of nparts: its share of the layers, meeting the other
 *        parts in sync(ctx, layer, steps done, steps of the layer above needed, or when
 *        negative minus the steps of the layer below needed; the parts run at once);
 *        dout: dL/dlogits (dL/dy without a head), in y's layout; dw: packed layout,
 *        accumulated; drop: NULL, or the dropout masks (0 or 1/(1-p)) of every layer
 *        followed by dropout, each
 *        (B, T, D*Hr), in layer order: plan->dropout_reals and PlanLayer.drop_off;
 *        dstate0: NULL, or set to dL/dstate0, state0's layout (truncated BPTT passes NULL:
 *        the gradient is cut at a window's border)
 *   void <name>_unpack_grads(const real *g, real *dp); packed -> state_dict order
 * state0/state1: NULL, or the state before the first step / after each sequence's last
 * (truncated BPTT carries it between windows): every layer and direction in order, h (B, Hr)
 * at B * PlanLayer.st_h, then c (B, H) at B * st_c for an LSTM; plan->state_reals per
 * sequence. */
/* One layer's functions (both directions: they share them), as the JIT unit has them, with
 * the training functions when `train`: malloc'd text, or NULL when out of memory. */
char *emit_layer(const Plan *plan, int layer, int train, int for_tcc);

/* What deployed code bakes in (rnnc SPEC -o OUT.c --weights W): the packed weights and,
 * for the self-test, golden inputs and the outputs rnnc computed for them. Arrays hold
 * reals of the model's precision. */
typedef struct EmitDeploy {
    const char *weights_name; /* the weights file's name, for the banner */
    const void *packed;       /* (plan->npacked; the first npacked_w baked) */
    int selftest;             /* emit <name>_selftest */
    int test_T;               /* steps of the golden sequence */
    const void *test_x;       /* (test_T, I) */
    const void *test_y;       /* (test_T, O) when the output is per step, else (O) */
} EmitDeploy;

/* Renders the deployable unit: weights as static const arrays, a caller-owned state with
 * <name>_reset and <name>_step (unidirectional stacks), <name>_forward up to
 * deploy.max_seq_len, <name>_selftest; no allocation, no I/O, no mutable globals. */
int emit_unit_deploy(const Plan *plan, const char *header_name, const EmitDeploy *dep, CUnit *out,
                     DiagList *d);

#endif
