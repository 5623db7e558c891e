/* templates/prelude.c - the fixed helpers of every generated model, as real C.
 * The emitter (compiler/emit.c) copies the sections a model needs, in this order, after
 * replacing the RNNC_ holes; the `test` section gives the holes test values so that this
 * file compiles on its own (tests/test_gen.c does so with -Werror).
 */

/* @@ test */
typedef float real;
float expf(float);
float tanhf(float);
#define RNNC_EXP expf
#define RNNC_TANH tanhf
#define RNNC_ONE 1.0f
#define RNNC_ZERO 0.0f

/* @@ sigmoid */
/* PyTorch's sigmoid: 1 / (1 + e^-v); saturates to 0 or 1 without overflow trouble. */
static real act_sigmoid(real v)
{
    return RNNC_ONE / (RNNC_ONE + RNNC_EXP(-v));
}

/* @@ tanh */
static real act_tanh(real v)
{
    return RNNC_TANH(v);
}

/* @@ relu */
static real act_relu(real v)
{
    return v > RNNC_ZERO ? v : RNNC_ZERO;
}

/* @@ pack */
/* The packed-sequence schedule of pack_padded_sequence(enforce_sorted=False): sequences
 * sorted longest first (stable), and bs[t] = how many of them are still running at step t,
 * so that step t works on sequences perm[0 .. bs[t]-1] only. Lengths NULL: all T.
 * Returns -1 when a length is outside 1..T. */
static int pack_batch(const int *lengths, int B, int T, int *len, int *perm, int *bs)
{
    for (int b = 0; b < B; b++) {
        len[b] = lengths ? lengths[b] : T;
        if (len[b] < 1 || len[b] > T)
            return -1;
        int i = b;
        while (i > 0 && len[perm[i - 1]] < len[b]) {
            perm[i] = perm[i - 1];
            i--;
        }
        perm[i] = b;
    }
    int live = B;
    for (int t = 0; t < T; t++) {
        while (live > 0 && len[perm[live - 1]] <= t)
            live--;
        bs[t] = live;
    }
    return 0;
}

static void vec_zero(real *p, long n)
{
    for (long i = 0; i < n; i++)
        p[i] = RNNC_ZERO;
}

static void vec_copy(real *dst, const real *src, long n)
{
    for (long i = 0; i < n; i++)
        dst[i] = src[i];
}

/* @@ softmax */
/* Softmax over n values in place, shifted by the maximum as PyTorch does. */
static void act_softmax(real *y, int n)
{
    real m = y[0], s = RNNC_ZERO;
    for (int i = 1; i < n; i++)
        if (y[i] > m)
            m = y[i];
    for (int i = 0; i < n; i++) {
        y[i] = RNNC_EXP(y[i] - m);
        s += y[i];
    }
    for (int i = 0; i < n; i++)
        y[i] /= s;
}
