/* jit.c — libtcc in-process compilation of generated models (the only user of libtcc.h).
 * Debian's libtcc 0.9.27: output type first, tcc_relocate with TCC_RELOCATE_AUTO, and the
 * runtime library (libtcc1.a) found through tcc_set_lib_path.
 */
#include "jit.h"

#include <libtcc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef RNNC_TCC_LIB_PATH
#define RNNC_TCC_LIB_PATH "/usr/lib/x86_64-linux-gnu/tcc"
#endif

struct JitModule {
    TCCState *s;
};

typedef struct ErrSink {
    DiagList *d;
    int n;
} ErrSink;

static void on_tcc_error(void *opaque, const char *msg)
{
    ErrSink *e = opaque;
    if (e->n++ < 20)
        diag_error(e->d, span_none(), "JIT compile (libtcc): %s", msg);
}

/* Wrappers with exact prototypes: the addresses libm exports may be IFUNC resolvers. */
static float jit_expf(float v)
{
    return expf(v);
}
static float jit_tanhf(float v)
{
    return tanhf(v);
}
static double jit_exp(double v)
{
    return exp(v);
}
static double jit_tanh(double v)
{
    return tanh(v);
}

/* Function to object pointer, as POSIX allows (ISO C does not say). */
static void add_f32(TCCState *s, const char *name, float (*fn)(float))
{
    const void *p;
    memcpy(&p, &fn, sizeof p);
    tcc_add_symbol(s, name, p);
}

static void add_f64(TCCState *s, const char *name, double (*fn)(double))
{
    const void *p;
    memcpy(&p, &fn, sizeof p);
    tcc_add_symbol(s, name, p);
}

static void *lookup(JitModule *m, const char *prefix, const char *what, DiagList *d)
{
    char name[160];
    snprintf(name, sizeof name, "%s_%s", prefix, what);
    void *p = tcc_get_symbol(m->s, name);
    if (!p)
        diag_error(d, span_none(), "JIT: generated code has no symbol '%s'", name);
    return p;
}

JitModule *jit_compile(const char *source, const char *prefix, int dbl, ModelFns *fns,
                       DiagList *d)
{
    JitModule *m = calloc(1, sizeof *m);
    if (!m || !(m->s = tcc_new())) {
        free(m);
        diag_error(d, span_none(), "JIT: out of memory");
        return NULL;
    }
    ErrSink sink = {d, 0};
    tcc_set_error_func(m->s, &sink, on_tcc_error);
    tcc_set_output_type(m->s, TCC_OUTPUT_MEMORY);
    tcc_set_lib_path(m->s, RNNC_TCC_LIB_PATH);
    tcc_set_options(m->s, "-nostdlib");
    add_f32(m->s, "expf", jit_expf);
    add_f32(m->s, "tanhf", jit_tanhf);
    add_f64(m->s, "exp", jit_exp);
    add_f64(m->s, "tanh", jit_tanh);
    if (tcc_compile_string(m->s, source) < 0 || tcc_relocate(m->s, TCC_RELOCATE_AUTO) < 0) {
        if (sink.n == 0)
            diag_error(d, span_none(), "JIT: libtcc failed without a message");
        jit_free(m);
        return NULL;
    }
    memset(fns, 0, sizeof *fns);
    fns->dbl = dbl;
    void *sb = lookup(m, prefix, "scratch_bytes", d);
    void *pk = lookup(m, prefix, "pack", d);
    void *fw = lookup(m, prefix, "forward", d);
    if (!sb || !pk || !fw) {
        jit_free(m);
        return NULL;
    }
    /* Object pointers to function pointers: POSIX guarantees this conversion (dlsym). */
    memcpy(&fns->scratch_bytes, &sb, sizeof sb);
    if (dbl) {
        memcpy(&fns->pack_f64, &pk, sizeof pk);
        memcpy(&fns->forward_f64, &fw, sizeof fw);
    } else {
        memcpy(&fns->pack_f32, &pk, sizeof pk);
        memcpy(&fns->forward_f32, &fw, sizeof fw);
    }
    return m;
}

void *jit_symbol(JitModule *m, const char *name)
{
    return tcc_get_symbol(m->s, name);
}

void jit_free(JitModule *m)
{
    if (!m)
        return;
    if (m->s)
        tcc_delete(m->s);
    free(m);
}
