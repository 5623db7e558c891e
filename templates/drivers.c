/* templates/drivers.c - the fixed drivers of generated models, as real C with holes (lemon's
 * lempar.c is the model): RNNC_NAME(x) becomes <name>_x. The emitter (compiler/emit/emit.c)
 * copies the sections a unit needs; the `test` section declares what the specialised part
 * defines, so that this file compiles on its own (tests/test_gen.c does so with -Werror).
 */

/* @@ test */
typedef float real;
#define RNNC_NAME(x) model_##x
void model_pack(const real *p, real *pw);
int model_forward_par(const real *w, const real *x, const int *lengths, int B, int T,
                      const real *h0, const real *c0, real *y, real *h_n, real *c_n,
                      void *scratch, void *shared, int part, int nparts, void (*sync)(void *),
                      void *ctx);
int model_forward_train(const real *w, const real *x, const int *lengths, int B, int T, real *y,
                        real *logits, const real *drop, const real *state0, real *state1,
                        void *cache, int part, int nparts, int *sched);
int model_backward(const real *w, const real *x, int B, int T, const real *dout,
                   const real *drop, real *dw, real *dstate0, void *cache, int part, int nparts,
                   void (*sync)(void *, int, int, int), void *ctx);
void model_unpack_grads(const real *g, real *dp);
real *model_acts(void *cache, int B, int T, int i);

/* @@ forward */
int RNNC_NAME(forward)(const real *w, const real *x, const int *lengths, int B, int T,
    const real *h0, const real *c0, real *y, real *h_n, real *c_n, void *scratch)
{
    return RNNC_NAME(forward_par)(w, x, lengths, B, T, h0, c0, y, h_n, c_n, scratch, scratch,
        0, 1, 0, 0);
}

/* @@ entry */
/* The entry points as rnnc's host calls them (compiler/jit.h, ModelFns): every array a void *
 * of this model's real type, so that one table serves both precisions. JIT units only. */
void RNNC_NAME(v_pack)(const void *p, void *pw);
int RNNC_NAME(v_forward)(const void *w, const void *x, const int *lengths, int B, int T,
    const void *h0, const void *c0, void *y, void *h_n, void *c_n, void *scratch);
int RNNC_NAME(v_forward_par)(const void *w, const void *x, const int *lengths, int B, int T,
    const void *h0, const void *c0, void *y, void *h_n, void *c_n, void *scratch, void *shared,
    int part, int nparts, void (*sync)(void *), void *ctx);

void RNNC_NAME(v_pack)(const void *p, void *pw)
{
    RNNC_NAME(pack)(p, pw);
}

int RNNC_NAME(v_forward)(const void *w, const void *x, const int *lengths, int B, int T,
    const void *h0, const void *c0, void *y, void *h_n, void *c_n, void *scratch)
{
    return RNNC_NAME(forward)(w, x, lengths, B, T, h0, c0, y, h_n, c_n, scratch);
}

int RNNC_NAME(v_forward_par)(const void *w, const void *x, const int *lengths, int B, int T,
    const void *h0, const void *c0, void *y, void *h_n, void *c_n, void *scratch, void *shared,
    int part, int nparts, void (*sync)(void *), void *ctx)
{
    return RNNC_NAME(forward_par)(w, x, lengths, B, T, h0, c0, y, h_n, c_n, scratch, shared,
        part, nparts, sync, ctx);
}

/* @@ entry_train */
int RNNC_NAME(v_forward_train)(const void *w, const void *x, const int *lengths, int B, int T,
    void *y, void *logits, const void *drop, const void *state0, void *state1, void *cache,
    int part, int nparts, int *sched);
int RNNC_NAME(v_backward)(const void *w, const void *x, int B, int T, const void *dout,
    const void *drop, void *dw, void *dstate0, void *cache, int part, int nparts,
    void (*sync)(void *, int, int, int), void *ctx);
void RNNC_NAME(v_unpack_grads)(const void *g, void *dp);
void *RNNC_NAME(v_acts)(void *cache, int B, int T, int i);

int RNNC_NAME(v_forward_train)(const void *w, const void *x, const int *lengths, int B, int T,
    void *y, void *logits, const void *drop, const void *state0, void *state1, void *cache,
    int part, int nparts, int *sched)
{
    return RNNC_NAME(forward_train)(w, x, lengths, B, T, y, logits, drop, state0, state1, cache,
        part, nparts, sched);
}

int RNNC_NAME(v_backward)(const void *w, const void *x, int B, int T, const void *dout,
    const void *drop, void *dw, void *dstate0, void *cache, int part, int nparts,
    void (*sync)(void *, int, int, int), void *ctx)
{
    return RNNC_NAME(backward)(w, x, B, T, dout, drop, dw, dstate0, cache, part, nparts, sync,
        ctx);
}

void RNNC_NAME(v_unpack_grads)(const void *g, void *dp)
{
    RNNC_NAME(unpack_grads)(g, dp);
}

void *RNNC_NAME(v_acts)(void *cache, int B, int T, int i)
{
    return RNNC_NAME(acts)(cache, B, T, i);
}
