/* m4_main.c — runs a deployed model on the emulated Cortex-M4: its self-test, then a
 * streaming run (one sample a call) checked against <name>_forward on the same sequence.
 * Built with -DMODEL=<name> -DMODEL_H='"<name>.h"' -DMODEL_UP=<NAME>. */
#include MODEL_H

void sh_write(const char *s);

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(x) CAT(MODEL, x)
#define UP(x) CAT(MODEL_UP, x)

enum { T = 24 < UP(_MAX_SEQ_LEN) ? 24 : UP(_MAX_SEQ_LEN) };

static FN(_work) work;
static FN(_real) x[T * UP(_INPUT_SIZE)];
static FN(_real) y[T * UP(_OUTPUT_SIZE)];

int main(void)
{
    if (FN(_selftest)() != 0) {
        sh_write("selftest FAILED\n");
        return 1;
    }
    sh_write("selftest ok\n");
    unsigned int s = 12345u;
    for (int i = 0; i < T * UP(_INPUT_SIZE); i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (FN(_real))((int)(s >> 9) - (1 << 22)) / (FN(_real))(1 << 22);
    }
    if (FN(_forward)(x, T, y, &work) != 0) {
        sh_write("forward FAILED\n");
        return 1;
    }
#if UP(_STREAMING)
    FN(_state) st;
    FN(_real) out[UP(_OUTPUT_SIZE)];
    FN(_reset)(&st);
    for (int t = 0; t < T; t++) {
        FN(_step)(&st, x + t * UP(_INPUT_SIZE), out);
        const FN(_real) *want = UP(_OUTPUT_PER_STEP) ? y + t * UP(_OUTPUT_SIZE) : y;
        if (!UP(_OUTPUT_PER_STEP) && t < T - 1)
            continue;
        for (int k = 0; k < UP(_OUTPUT_SIZE); k++)
            if (out[k] != want[k]) {
                sh_write("streaming FAILED\n");
                return 1;
            }
    }
    sh_write("streaming ok\n");
#endif
    return 0;
}
