/* deploy.c — deployable code (rnnc SPEC -o OUT.c --weights W): the packed weights as
 * static const arrays, the caller-owned state with reset and step, the whole-sequence
 * forward over a fixed work area, and the self-test with golden outputs.
 */
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

/* "static const real name[n]" in the ring. */
static const char *em_decl(Emitter *e, const char *name, long n)
{
    char *s = e->ring[e->ring_at++ % 16];
    snprintf(s, 48, "static const real %s[%ld]", name, n);
    return s;
}

/* A literal that reads back as exactly `v` in the model precision. */
const char *em_lit(Emitter *e, double v)
{
    char *s = e->ring[e->ring_at++ % 16];
    int dbl = e->p->net->dbl;
    snprintf(s, 40, dbl ? "%.17g" : "%.9g", dbl ? v : (double)(float)v);
    if (!strpbrk(s, ".e"))
        strcat(s, ".0");
    if (!dbl)
        strcat(s, "f");
    return s;
}

/* Element i of a model-precision array, as a double (for printing it as a literal). */
static double em_real_at(const Emitter *e, const void *arr, long i)
{
    return e->p->net->dbl ? ((const double *)arr)[i] : ((const float *)arr)[i];
}

/* `static const real name[n] = {...};`, several values a line. */
static void em_array(Emitter *e, const char *decl, const void *arr, long n)
{
    Sb *sb = e->sb;
    int per_line = e->p->net->dbl ? 3 : 5;
    sb_line(sb, "%s = {", decl);
    for (long i = 0; i < n; i += per_line) {
        sb_printf(sb, "%*s", sb->indent + 4, "");
        for (long k = i; k < n && k < i + per_line; k++)
            sb_printf(sb, "%s%s,", k > i ? " " : "", em_lit(e, em_real_at(e, arr, k)));
        sb_puts(sb, "\n");
    }
    sb_line(sb, "};");
}

/* Every layer's weights, packed: transposed, biases merged. In flash on a microcontroller. */
void em_weights(Emitter *e)
{
    const Plan *p = e->p;
    Sb *sb = e->sb;
    sb_line(sb, "/* The weights of %s, packed for the kernels (b_ih + b_hh merged): %ld values.",
            e->dep->weights_name, p->npacked_w);
    for (int i = 0; i < p->nlayers; i++)
        sb_line(sb, " *   %-32s at %ld", p->layers[i].label, p->layers[i].pk);
    if (p->net->head.present)
        sb_line(sb, " *   %-32s at %ld", p->net->head.name, p->head_pk_w);
    sb_line(sb, " */");
    em_array(e, em_decl(e, "weights", p->npacked_w), e->dep->packed, p->npacked_w);
    sb_line(sb, "%s", "");
}

/* State member name of a layer: <block>_l<layer>_h / _c. */
static void em_step(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    sb_line(sb, "%svoid %s_reset(%s_state *s)", e->fn, net->name, net->name);
    sb_line(sb, "{");
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        sb_line(sb, "    vec_zero(s->%s_l%d_h, %d);", L->block->name, L->layer, L->Hr);
        if (L->G == 4)
            sb_line(sb, "    vec_zero(s->%s_l%d_c, %d);", L->block->name, L->layer, L->H);
    }
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    sb_line(sb, "%svoid %s_step(%s_state *s, const real *x, real *y)", e->fn, net->name,
            net->name);
    sb_line(sb, "{");
    const char *in = "x";
    char prev[96];
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->G == 4)
            sb_line(sb, "    %s_cell(weights + %ld, %s, s->%s_l%d_h, s->%s_l%d_c);", L->fn, L->pk,
                    in, L->block->name, L->layer, L->block->name, L->layer);
        else
            sb_line(sb, "    %s_cell(weights + %ld, %s, s->%s_l%d_h);", L->fn, L->pk, in,
                    L->block->name, L->layer);
        snprintf(prev, sizeof prev, "s->%s_l%d_h", L->block->name, L->layer);
        in = prev;
    }
    if (net->head.present)
        sb_line(sb, "    head_apply(weights, %s, y);", in);
    else
        sb_line(sb, "    vec_copy(y, %s, %d);", in, net->out_size);
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}

void em_selftest_stream(Emitter *e, long T, long I, long O, int per_step)
{
    Sb *sb = e->sb;
    const char *n = e->p->net->name;
    sb_line(sb, "%s_state s;", n);
    sb_line(sb, "%s_reset(&s);", n);
    sb_line(sb, "for (int t = 0; t < %ld; t++) {", T);
    sb_line(sb, "    %s_step(&s, x + t * %ld, y);", n, I);
    if (per_step) {
        sb_line(sb, "    if (differs(y, want + t * %ld, %ld))", O, O);
        sb_line(sb, "        return 2;");
    }
    sb_line(sb, "}");
    if (!per_step) {
        sb_line(sb, "if (differs(y, want, %ld))", O);
        sb_line(sb, "    return 2;");
    }
}

/* <name>_selftest: the golden sequence through <name>_forward (and through <name>_step when
 * the network streams), compared with the outputs rnnc computed within a tolerance that
 * another compiler, FPU or libm can explain but a wrong gate order or layout cannot. */
static void em_selftest(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    const EmitDeploy *dep = e->dep;
    Sb *sb = e->sb;
    int per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    long T = dep->test_T, I = net->input_size, O = net->out_size;
    long ny = (per_step ? T : 1) * O;
    sb_line(sb, "/* Whether got differs from want by more than another compiler, FPU or libm");
    sb_line(sb, " * could explain; a wrong gate order, layout or flag goes far beyond. */");
    sb_line(sb, "%sstatic int differs(const real *got, const real *want, int n)", e->fn);
    sb_line(sb, "{");
    sb_line(sb, "    for (int i = 0; i < n; i++) {");
    sb_line(sb, "        const real d = got[i] - want[i], a = want[i] < 0 ? -want[i] : want[i];");
    sb_line(sb, "        const real tol = %s + %s * a;", em_lit(e, net->dbl ? 1e-10 : 1e-5),
            em_lit(e, net->dbl ? 1e-9 : 1e-4));
    sb_line(sb, "        if (!(d <= tol && -d <= tol))");
    sb_line(sb, "            return 1;");
    sb_line(sb, "    }");
    sb_line(sb, "    return 0;");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    sb_line(sb, "%sint %s_selftest(void)", e->fn, net->name);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "/* a sequence of %ld steps, and the output rnnc computed for it */", T);
    em_array(e, em_decl(e, "x", T * I), dep->test_x, T * I);
    em_array(e, em_decl(e, "want", ny), dep->test_y, ny);
    sb_line(sb, "real y[%ld];", ny);
    sb_line(sb, "real scratch[%ld];", plan_scratch_reals(p, 1, T));
    sb_line(sb, "if (forward_batch(weights, x, 0, 1, %ld, y, 0, 0, scratch) != 0 ||", T);
    sb_line(sb, "    differs(y, want, %ld))", ny);
    sb_line(sb, "    return 1;");
    if (p->can_stream)
        em_selftest_stream(e, T, I, O, per_step);
    sb_line(sb, "return 0;");
    sb_close(sb, 1);
    sb_line(sb, "%s", "");
}

void em_deploy_api(Emitter *e)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    char N[80];
    em_upper(N, net->name, sizeof N);
    sb_line(sb, "%s", "");
    if (p->can_stream)
        em_step(e);
    sb_line(sb, "%sint %s_forward(const real *x, int T, real *y, %s_work *work)", e->fn, net->name,
            net->name);
    sb_line(sb, "{");
    sb_line(sb, "    if (T < 1 || T > %s_MAX_SEQ_LEN)", N);
    sb_line(sb, "        return -1;");
    sb_line(sb, "    return forward_batch(weights, x, 0, 1, T, y, 0, 0, work->mem);");
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
    if (e->dep->selftest)
        em_selftest(e);
}

/* The header of deployed code: sizes, the state and work types, the API and its use. */
void em_header_deploy(Emitter *e, const char *header_name)
{
    const Plan *p = e->p;
    const Net *net = p->net;
    Sb *sb = e->sb;
    const char *n = net->name;
    char N[80];
    em_upper(N, n, sizeof N);
    const Head *hd = &net->head;
    int per_step = !hd->present || hd->input == HEAD_SEQUENCE;
    int stream = p->can_stream;
    const char *real = net->dbl ? "double" : "float";
    long flash = p->npacked_w * p->real_size;
    sb_line(sb, "/* %s - generated by rnnc from %s: do not edit.", header_name,
            em_base_name(net->file));
    sb_line(sb, " * Weights baked in from %s.", e->dep->weights_name);
    em_summary(e);
    sb_line(sb, " *");
    sb_line(sb, " * Flash: %ld bytes of weights. RAM: %ld bytes of state (%s_state),", flash,
            p->state_bytes, n);
    sb_line(sb, " *   %ld bytes of work area for %s_forward (%s_work).", p->deploy_work_bytes, n,
            n);
    sb_line(sb, " * %ld FLOPs per step. No allocation, no I/O, no mutable global;",
            p->flops_per_step);
    sb_line(sb, " * %s.",
            net->math_builtin ? "no library function at all (math: builtin)"
                              : "calls only exp and tanh of libm");
    sb_line(sb, " *");
    if (stream) {
        sb_line(sb, " * Streaming, one sample in and one output out per call:");
        sb_line(sb, " *     #include \"%s\"", header_name);
        sb_line(sb, " *     %s_state s;                  // one per stream, owned by you", n);
        sb_line(sb, " *     %s_reset(&s);                // all zero: a fresh sequence", n);
        sb_line(sb, " *     %s x[%s_INPUT_SIZE], y[%s_OUTPUT_SIZE];", real, N, N);
        sb_line(sb, " *     while (next_sample(x)) {");
        sb_line(sb, " *         %s_step(&s, x, y);       // y: the output for this step", n);
        sb_line(sb, " *         use(y);");
        sb_line(sb, " *     }");
    } else {
        sb_line(sb,
                " * A bidirectional stack needs the whole sequence: it cannot stream, so there");
        sb_line(sb, " * is no %s_step; use %s_forward.", n, n);
    }
    sb_line(sb, " * A whole sequence of T <= %s_MAX_SEQ_LEN steps:", N);
    sb_line(sb, " *     static %s_work work;", n);
    sb_line(sb, " *     %s_forward(x, T, y, &work);   // x (T, %s_INPUT_SIZE)", n, N);
    sb_line(sb, " * On the target, once: %s_selftest() == 0.", n);
    em_header_open(e, N);
    sb_line(sb, "#define %s_INPUT_SIZE %d", N, net->input_size);
    sb_line(sb, "#define %s_OUTPUT_SIZE %d", N, net->out_size);
    sb_line(sb, "#define %s_OUTPUT_PER_STEP %d /* 1: forward's y is (T, OUTPUT_SIZE) */", N,
            per_step);
    sb_line(sb, "#define %s_MAX_SEQ_LEN %d", N, net->max_seq_len);
    sb_line(sb, "#define %s_STREAMING %d", N, stream);
    sb_line(sb, "#define %s_NUM_WEIGHTS %ld", N, p->npacked_w);
    sb_line(sb, "#define %s_FLASH_BYTES %ld", N, flash);
    sb_line(sb, "#define %s_STATE_BYTES %ld", N, p->state_bytes);
    sb_line(sb, "#define %s_WORK_BYTES %ld", N, p->deploy_work_bytes);
    sb_line(sb, "#define %s_FLOPS_PER_STEP %ld", N, p->flops_per_step);
    sb_line(sb, "%s", "");
    sb_line(sb, "typedef %s %s_real;", real, n);
    sb_line(sb, "%s", "");
    if (stream) {
        sb_line(sb, "/* The recurrent state of one stream: every layer's h (and c). */");
        sb_line(sb, "typedef struct %s_state {", n);
        for (int i = 0; i < p->nlayers; i++) {
            const PlanLayer *L = &p->layers[i];
            sb_line(sb, "    %s_real %s_l%d_h[%d];", n, L->block->name, L->layer, L->Hr);
            if (L->G == 4)
                sb_line(sb, "    %s_real %s_l%d_c[%d];", n, L->block->name, L->layer, L->H);
        }
        sb_line(sb, "} %s_state;", n);
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* Work area of %s_forward: the layers' outputs over a whole sequence. */", n);
    sb_line(sb, "typedef struct %s_work {", n);
    sb_line(sb, "    %s_real mem[%ld];", n, plan_scratch_reals(p, 1, net->max_seq_len));
    sb_line(sb, "} %s_work;", n);
    sb_line(sb, "%s", "");
    if (stream) {
        sb_line(sb,
                "/* Starts a fresh sequence: zeroes the state (as does zero-initialising it). */");
        sb_line(sb, "void %s_reset(%s_state *s);", n, n);
        sb_line(sb, "%s", "");
        sb_line(
            sb,
            "/* One time step: x (INPUT_SIZE) in, y (OUTPUT_SIZE) out, the state carried in s.");
        if (hd->present && hd->input == HEAD_LAST)
            sb_line(sb,
                    " * y is the head on the state after this step: after the last step, what");
        else
            sb_line(sb, " * y is this step's output: step t gives row t of %s_forward's y, so", n);
        sb_line(sb, " * %s_forward gives for the sequence so far. Streams share nothing but", n);
        sb_line(sb, " * the weights. */");
        sb_line(sb, "void %s_step(%s_state *s, const %s_real *x,", n, n, n);
        sb_line(sb, "    %s_real *y);", n);
        sb_line(sb, "%s", "");
    }
    sb_line(sb, "/* A whole sequence: x (T, INPUT_SIZE) in, y out: %s.",
            per_step ? "(T, OUTPUT_SIZE), every step" : "(OUTPUT_SIZE), after the last step");
    sb_line(sb, " * Returns 0, or -1 when T is outside 1..MAX_SEQ_LEN. */");
    sb_line(sb, "int %s_forward(const %s_real *x, int T, %s_real *y,", n, n, n);
    sb_line(sb, "    %s_work *work);", n);
    sb_line(sb, "%s", "");
    if (e->dep->selftest) {
        sb_line(sb,
                "/* Runs a sequence rnnc computed at generation time through this code (whole");
        sb_line(sb, " * and, when streaming, step by step). 0 when the outputs match; otherwise");
        sb_line(sb, " * the build is wrong (compiler flags, a changed weight, a broken port). */");
        sb_line(sb, "int %s_selftest(void);", n);
        sb_line(sb, "%s", "");
    }
    em_header_close(e, N);
}
