/* q_main.c — runs a quantised deployed model (deploy.quantize) on an emulated Cortex-M: its
 * self-test, then a streaming run (one sample a call) that must equal <name>_forward on
 * the same sequence bit for bit, and prints a checksum of the outputs, which the host
 * compares with its own builds. Built with -DMODEL=<name> -DMODEL_H='"<name>.h"'
 * -DMODEL_UP=<NAME> -DELEM=<name>_q (or <name>_real for int8-weights); needs no C library. */
#include MODEL_H

void sh_write(const char *s);

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(x) CAT(MODEL, x)
#define UP(x) CAT(MODEL_UP, x)

enum { T = 24 < UP(_MAX_SEQ_LEN) ? 24 : UP(_MAX_SEQ_LEN) };
enum { NY = (UP(_OUTPUT_PER_STEP) ? T : 1) * UP(_OUTPUT_SIZE) };

static FN(_work) work;
static ELEM x[T * UP(_INPUT_SIZE)];
static ELEM y[NY];

/* "checksum XXXXXXXX\n": FNV-1a over the bytes of y. */
static void print_checksum(void)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = (const unsigned char *)y;
    unsigned int h = 2166136261u;
    for (unsigned int i = 0; i < sizeof y; i++)
        h = (h ^ b[i]) * 16777619u;
    char s[] = "checksum 00000000\n";
    for (int k = 0; k < 8; k++)
        s[9 + k] = hex[(h >> (28 - 4 * k)) & 15u];
    sh_write(s);
}

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
        /* integers across the whole range; for reals, in [-1, 1) */
        int v = (int)(s >> 16) % 255 - 127;
        x[i] = (ELEM)v;
        if ((ELEM)0.5 != 0)
            x[i] = (ELEM)(x[i] / (ELEM)128);
    }
    if (FN(_forward)(x, T, y, &work) != 0) {
        sh_write("forward FAILED\n");
        return 1;
    }
    print_checksum();
#if UP(_STREAMING)
    FN(_state) st;
    ELEM out[UP(_OUTPUT_SIZE)];
    FN(_reset)(&st);
    for (int t = 0; t < T; t++) {
        FN(_step)(&st, x + t * UP(_INPUT_SIZE), out);
        const ELEM *want = UP(_OUTPUT_PER_STEP) ? y + t * UP(_OUTPUT_SIZE) : y;
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
