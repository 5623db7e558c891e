/* m4_tracker.c — the trained channel tracker on a Cortex-M4 (QEMU's mps2-an386): reads pilot
 * estimates from a .npy on the host (ARM semihosting), streams them one per call through
 * tracker_step, writes the predictions as raw float32 (pred_m4.bin) for comparison with
 * `rnnc run`'s, and counts the instructions of the steps with SysTick under QEMU's
 * `-icount shift=0`. Linked with tests/cross/startup.c and tests/cross/m4.ld; no C library.
 * Built by examples/channel_tracker/device.sh and tests/test_channel.c:
 *   arm-none-eabi-gcc ... -DPILOTS='"test_x.npy"' -DSEQS=16 m4_tracker.c tracker.c ...
 */
#include "tracker.h"

void sh_write(const char *s); /* tests/cross/startup.c */

#ifndef PILOTS
#define PILOTS "test_x.npy"
#endif
#ifndef SEQS
#define SEQS 16 /* sequences streamed (fewer if the file has fewer) */
#endif
#define OUT "pred_m4.bin"

/* ---- ARM semihosting: operation in r0, argument block in r1, bkpt 0xab ---------------- */

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* A file on the host: mode 1 "rb", 5 "wb"; len, the name's (a literal's sizeof - 1, since a
 * strlen loop would become a call of the C library's strlen). */
static int sh_open(const char *name, unsigned len, int mode)
{
    const int a[3] = {(int)name, mode, (int)len};
    return semihost(0x01, a);
}

static int sh_read(int fd, void *buf, unsigned n) /* 0: all n bytes read */
{
    const int a[3] = {fd, (int)buf, (int)n};
    return semihost(0x06, a);
}

static int sh_writef(int fd, const void *buf, unsigned n) /* 0: all n bytes written */
{
    const int a[3] = {fd, (int)buf, (int)n};
    return semihost(0x05, a);
}

static void sh_close(int fd)
{
    const int a[1] = {fd};
    semihost(0x02, a);
}

/* ---- output without a C library ---------------------------------------------------------- */

static void put_u(unsigned long long v)
{
    char b[24];
    int i = 23;
    b[i] = '\0';
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sh_write(b + i);
}

/* v / 100 with two decimals */
static void put_c(unsigned long long v)
{
    put_u(v / 100);
    char b[4] = {'.', (char)('0' + v / 10 % 10), (char)('0' + v % 10), '\0'};
    sh_write(b);
}

/* ---- SysTick: a 24-bit down-counter at the processor clock -------------------------------- */

#define SYST_CSR (*(volatile unsigned *)0xE000E010)
#define SYST_RVR (*(volatile unsigned *)0xE000E014)
#define SYST_CVR (*(volatile unsigned *)0xE000E018)

static unsigned ticks(void)
{
    return SYST_CVR;
}

static unsigned elapsed(unsigned t0, unsigned t1)
{
    return (t0 - t1) & 0xFFFFFFu;
}

/* n iterations of two instructions (subs, bne): a known count to calibrate SysTick against */
static void burn(unsigned n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

static inline unsigned *stack_pointer(void)
{
    unsigned *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* ---- the .npy header: a (N, T, 2) little-endian float32 array ---------------------------- */

static int parse_shape(const char *h, unsigned n, unsigned dims[3])
{
    unsigned i = 0, k = 0;
    while (i + 6 < n && !(h[i] == 's' && h[i + 1] == 'h' && h[i + 4] == 'e'))
        i++;
    while (i < n && h[i] != '(')
        i++;
    for (; i < n && h[i] != ')' && k < 3; i++)
        if (h[i] >= '0' && h[i] <= '9') {
            unsigned v = 0;
            while (i < n && h[i] >= '0' && h[i] <= '9')
                v = v * 10 + (unsigned)(h[i++] - '0');
            dims[k++] = v;
        }
    return k == 3 && dims[2] == TRACKER_INPUT_SIZE ? 0 : -1;
}

static float x[TRACKER_MAX_SEQ_LEN * TRACKER_INPUT_SIZE];  /* (T, I) one sequence of pilots */
static float y[TRACKER_MAX_SEQ_LEN * TRACKER_OUTPUT_SIZE]; /* (T, O) its predictions */
static char header[512];

int main(void)
{
    if (tracker_selftest() != 0) {
        sh_write("selftest FAILED\n");
        return 1;
    }
    sh_write("selftest ok\n");
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enable, processor clock, no interrupt */
    unsigned t0 = ticks();
    burn(100000);
    unsigned c1 = elapsed(t0, ticks());
    t0 = ticks();
    burn(200000);
    unsigned c2 = elapsed(t0, ticks());
    /* instructions per tick, x100: 200000 more instructions took c2 - c1 more ticks */
    unsigned long long ipt100 = c2 > c1 ? 20000000ull / (c2 - c1) : 0;
    sh_write("SysTick: ");
    put_c(ipt100);
    sh_write(" instructions per tick (a 2-instruction loop of 100000 and 200000 iterations)\n");

    int in = sh_open(PILOTS, sizeof PILOTS - 1, 1), out = sh_open(OUT, sizeof OUT - 1, 5);
    unsigned char pre[10];
    if (in < 0 || out < 0 || sh_read(in, pre, 10) != 0 || pre[0] != 0x93 || pre[6] != 1) {
        sh_write("cannot read " PILOTS " (a version 1 .npy) or write " OUT "\n");
        return 1;
    }
    unsigned hlen = pre[8] | (unsigned)pre[9] << 8, dims[3] = {0, 0, 0};
    if (hlen > sizeof header || sh_read(in, header, hlen) != 0 ||
        parse_shape(header, hlen, dims) < 0 || dims[1] > TRACKER_MAX_SEQ_LEN) {
        sh_write("bad .npy header in " PILOTS "\n");
        return 1;
    }
    unsigned T = dims[1], S = dims[0] < SEQS ? dims[0] : SEQS;
    unsigned long long total = 0;
    unsigned lo = ~0u, hi = 0, stack = 0;
    for (unsigned s = 0; s < S; s++) {
        if (sh_read(in, x, T * TRACKER_INPUT_SIZE * 4) != 0) {
            sh_write("short read\n");
            return 1;
        }
        tracker_state st;
        tracker_reset(&st);
        /* the first sequence also measures the stack: paint 8 KiB below sp, stream, and find
         * the deepest word written (volatile stores, so that no memset call appears) */
        volatile unsigned *sp = stack_pointer();
        if (s == 0)
            for (volatile unsigned *p = sp - 2048; p < sp; p++)
                *p = 0xC0FFEE11u;
        t0 = ticks();
        for (unsigned t = 0; t < T; t++) /* one pilot in, one prediction out, per call */
            tracker_step(&st, x + t * TRACKER_INPUT_SIZE, y + t * TRACKER_OUTPUT_SIZE);
        unsigned c = elapsed(t0, ticks());
        if (s == 0) {
            volatile unsigned *p = sp - 2048;
            while (p < sp && *p == 0xC0FFEE11u)
                p++;
            stack = (unsigned)(sp - p) * 4;
        }
        total += c;
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
        if (sh_writef(out, y, T * TRACKER_OUTPUT_SIZE * 4) != 0) {
            sh_write("short write\n");
            return 1;
        }
    }
    sh_close(in);
    sh_close(out);
    sh_write("streamed ");
    put_u(S);
    sh_write(" sequences x ");
    put_u(T);
    sh_write(" steps through tracker_step into " OUT "\n");
    sh_write("instructions per step (the call and its loop included): ");
    put_c(total * ipt100 / ((unsigned long long)S * T));
    sh_write(" (per sequence: ");
    put_c((unsigned long long)lo * ipt100 / T);
    sh_write(" to ");
    put_c((unsigned long long)hi * ipt100 / T);
    sh_write(")\nstack used by tracker_step: ");
    put_u(stack);
    sh_write(" bytes; its state: ");
    put_u(sizeof(tracker_state));
    sh_write(" bytes\n");
    return 0;
}
