/* load.c — the Rnnc handle's life: loading a spec through the pipeline (spec -> check ->
 * plan), what callers may read of it (info, blocks, layers, tensors, train settings), the
 * check report, writing C, and generating and compiling the JIT unit for the other host
 * modules.
 */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cell.h"
#include "onnx.h"
#include "check.h"
#include "emit.h"
#include "write.h"

void rnnc_init(Rnnc *r)
{
    memset(r, 0, sizeof *r);
    arena_init(&r->arena);
    diag_init(&r->diag, &r->arena);
}

void rnnc_fini(Rnnc *r)
{
    arena_free(&r->arena);
    memset(r, 0, sizeof *r);
}

Rnnc *rnnc_new(void)
{
    Rnnc *r = malloc(sizeof *r);
    if (r)
        rnnc_init(r);
    return r;
}

void rnnc_free(Rnnc *r)
{
    if (!r)
        return;
    rnnc_fini(r);
    free(r);
}

int rnnc_diag_print(Rnnc *r, FILE *out)
{
    int n = r->diag.nerrors;
    diag_render(&r->diag, out);
    rnnc_diag_clear(r);
    return n;
}

void rnnc_diag_clear(Rnnc *r)
{
    diag_clear(&r->diag);
}

int rnnc_set_jit(Rnnc *r, const char *kind)
{
    if (strcmp(kind, "tcc") == 0)
        r->jit = JIT_TCC;
    else if (strcmp(kind, "cc") == 0)
        r->jit = JIT_CC;
    else if (strcmp(kind, "auto") == 0)
        r->jit = JIT_AUTO;
    else
        return -1;
    return 0;
}

const char *rnnc_jit_name(const Rnnc *r)
{
    return r->jit == JIT_CC ? "cc" : r->jit == JIT_AUTO ? "auto" : "tcc";
}

/* The stages after parsing: check, then plan. */
static int load_doc(Rnnc *r)
{
    if (!r->doc)
        return -1;
    r->net = check_spec(&r->arena, &r->diag, r->doc);
    if (!r->net)
        return -1;
    r->plan = plan_build(&r->arena, &r->diag, r->net);
    return r->plan ? 0 : -1;
}

int rnnc_load_text(Rnnc *r, const char *name, const char *text)
{
    char *n = arena_strdup(&r->arena, name), *t = arena_strdup(&r->arena, text);
    if (!n || !t) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    r->doc = spec_parse(&r->arena, &r->diag, n, t);
    return load_doc(r);
}

int rnnc_load(Rnnc *r, const char *path)
{
    r->doc = spec_load_file(&r->arena, &r->diag, path);
    return load_doc(r);
}

void rnnc_info(const Rnnc *r, RnncInfo *out)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    memset(out, 0, sizeof *out);
    out->name = net->name;
    out->file = net->file;
    out->input_size = net->input_size;
    out->output_size = net->out_size;
    out->per_step = !net->head.present || net->head.input == HEAD_SEQUENCE;
    out->batch_first = net->batch_first;
    out->dbl = net->dbl;
    out->nblocks = net->nblocks;
    out->nlayers = p->nlayers;
    out->ntensors = p->ntensors;
    out->nparams = p->nparams;
}

int rnnc_block(const Rnnc *r, int i, RnncBlockInfo *out)
{
    if (i < 0 || i >= r->net->nblocks)
        return -1;
    const Block *b = &r->net->blocks[i];
    static const RnncCell cells[] = {
        [CELL_RNN] = RNNC_CELL_RNN, [CELL_LSTM] = RNNC_CELL_LSTM, [CELL_GRU] = RNNC_CELL_GRU};
    *out = (RnncBlockInfo){b->name,      cells[b->cell], b->input_size, b->hidden_size,
                           b->proj_size, b->num_layers,  b->dirs};
    return 0;
}

int rnnc_layer(const Rnnc *r, int i, RnncLayerInfo *out)
{
    if (i < 0 || i >= r->plan->nlayers)
        return -1;
    const PlanLayer *L = &r->plan->layers[i];
    const CellDesc *cd = cell_desc(L->block);
    memset(out, 0, sizeof *out);
    out->label = L->label;
    out->block = L->block->name;
    out->layer = L->layer;
    out->dir = L->dir;
    out->I = L->I;
    out->H = L->H;
    out->Hr = L->Hr;
    out->G = L->G;
    for (int g = 0; g < L->G; g++) {
        out->gate_names[g] = cd->gates[g];
        out->gate_tanh[g] = (cd->tanh_gates >> g) & 1;
    }
    return 0;
}

int rnnc_tensor(const Rnnc *r, int i, RnncTensorInfo *out)
{
    if (i < 0 || i >= r->plan->ntensors)
        return -1;
    const PlanTensor *t = &r->plan->tensors[i];
    *out = (RnncTensorInfo){t->name, t->ndim, {t->shape[0], t->shape[1]}};
    return 0;
}

void rnnc_train_cfg(const Rnnc *r, RnncTrainCfg *out)
{
    *out = r->net->train;
}

int rnnc_train_set(Rnnc *r, RnncTrainCfg *cfg, const char *key, const char *value,
                   const char *origin)
{
    SpecDoc *doc = spec_parse(&r->arena, &r->diag, origin, value);
    if (!doc)
        return -1;
    if (!doc->root || doc->root->kind != NODE_SCALAR || !doc->root->str[0]) {
        diag_error(&r->diag, span_none(), "%s needs a value", origin);
        return -1;
    }
    return check_train_set(&r->arena, &r->diag, cfg, key, doc->root);
}

char *rnnc_spec_set(Rnnc *r, const char *text, const char *path, const char *value)
{
    return spec_edit_set(&r->diag, r->doc, text, path, value);
}

double *rnnc_parse_rows(Rnnc *r, const char *text, int width, int *rows)
{
    Arena a;
    arena_init(&a);
    DiagList d;
    diag_init(&d, &a);
    double *x = spec_read_rows(&a, &d, text, width, rows);
    if (!x) /* the parse's own messages point into the literal: one plain message instead */
        diag_error(&r->diag, span_none(), "%s", d.items[d.n - 1].msg);
    arena_free(&a);
    return x;
}

void rnnc_report(const Rnnc *r, FILE *out)
{
    const Net *net = r->net;
    const Plan *p = r->plan;
    fprintf(out, "%s: network %s, input_size %d, %s, %s\n", net->file, net->name, net->input_size,
            net->batch_first ? "batch_first" : "time-major", net->dbl ? "float64" : "float32");
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        PlanBlockStats st;
        plan_block_stats(p, i, &st);
        fprintf(out, "block %s: %s, input %d, hidden %d", b->name, cell_desc(b)->name,
                b->input_size, b->hidden_size);
        if (b->proj_size)
            fprintf(out, ", proj %d", b->proj_size);
        fprintf(out, ", %d layer%s, %s\n", b->num_layers, b->num_layers > 1 ? "s" : "",
                b->dirs == 2 ? "bidirectional" : "unidirectional");
        fprintf(out, "  parameters      %ld (PyTorch, b_ih and b_hh), %ld with merged biases\n",
                st.torch_params, st.merged_params);
        fprintf(out, "  FLOPs per step  %ld per sequence\n", st.flops_per_step);
        fprintf(out, "  state           %ld bytes per sequence\n", st.state_bytes);
        for (int k = 0; k < p->nlayers; k++) {
            const PlanLayer *L = &p->layers[k];
            if (L->block_index == i && L->dir == 0)
                fprintf(out, "  layer %d         I=%d, %ld multiply-adds per step, %s kernel%s\n",
                        L->layer, L->I, L->macs, L->unrolled ? "unrolled" : "loop",
                        L->split ? ", batched" : "");
        }
    }
    if (net->head.present) {
        const Head *h = &net->head;
        fprintf(out, "head %s: Linear(%d, %d), input %s, activation %s\n", h->name, h->in_features,
                h->out_features, h->input == HEAD_LAST ? "last" : "sequence",
                cell_act_name(h->activation));
        fprintf(out, "  parameters      %ld\n",
                (long)h->out_features * h->in_features + (h->bias ? h->out_features : 0));
    }
    fprintf(out,
            "total: %ld parameters (%ld packed), %ld FLOPs per step, state %ld bytes "
            "per sequence,\n       scratch %ld bytes for B=1, T=100 (%ld for B=32, "
            "T=100)\n",
            p->nparams, p->npacked_w, p->flops_per_step, p->state_bytes,
            plan_scratch_bytes(p, 1, 100), plan_scratch_bytes(p, 32, 100));
    const PlanKernels *k = &p->kern;
    fprintf(out,
            "kernels: batched layers take %d sequences x %d columns per block (%d columns "
            "for one sequence, its weights prefetched %d bytes ahead), weight gradients %d "
            "rows per block; head %s\n",
            k->blk_seqs, k->blk_cols, k->one_seq_cols, k->prefetch_bytes, k->outer_rows,
            !net->head.present ? "none"
            : k->head_unrolled ? "unrolled"
                               : "loop");
    fprintf(out,
            "deployed (-o with --weights): flash %ld bytes of weights; RAM %ld bytes of "
            "state,\n       %ld bytes of work for sequences up to max_seq_len %d; %s\n",
            p->npacked_w * p->real_size, p->state_bytes, p->deploy_work_bytes, net->max_seq_len,
            p->can_stream ? "streams step by step" : "bidirectional: whole sequences only");
}

int rnnc_write(Rnnc *r, const char *c_path)
{
    return write_unit(c_path, r->plan, &r->diag);
}

/* The JIT unit's text (training API too when `train`), shaped for libtcc or not. */
static char *unit_source(Rnnc *r, int train, int for_tcc)
{
    CUnit u;
    if (emit_unit_jit(r->plan, train, for_tcc, &u, &r->diag) < 0)
        return NULL;
    char *s = cunit_join(&u);
    if (!s)
        diag_error(&r->diag, span_none(), "out of memory");
    cunit_free(&u);
    return s;
}

/* The unit `kind` compiles first: libtcc's for tcc and auto. */
static char *jit_source(Rnnc *r, JitKind kind, int train)
{
    return unit_source(r, train, kind == JIT_TCC || kind == JIT_AUTO);
}

char *rnnc_source(Rnnc *r)
{
    return jit_source(r, r->jit, 0);
}

char *rnnc_layer_source(Rnnc *r, const char *block, int layer, int train)
{
    for (int i = 0; i < r->plan->nlayers; i++) {
        const PlanLayer *L = &r->plan->layers[i];
        if (L->dir == 0 && L->layer == layer && strcmp(L->block->name, block) == 0) {
            char *s = emit_layer(r->plan, i, train, r->jit == JIT_TCC || r->jit == JIT_AUTO);
            if (!s)
                diag_error(&r->diag, span_none(), "out of memory");
            return s;
        }
    }
    diag_error(&r->diag, span_none(), "no layer %d in a block '%s'", layer, block);
    return NULL;
}

JitModule *host_compile(Rnnc *r, JitKind kind, int train, ModelFns *fns)
{
    double ignore;
    return host_compile_timed(r, kind, train, fns, &ignore);
}

static double clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + 1e-6 * (double)ts.tv_nsec;
}

/* --jit auto: the system compiler's build from the cache when it is there (the code auto
 * ends on, at once), else libtcc now and that build in the background. */
static JitModule *compile_auto(Rnnc *r, int train, ModelFns *fns, double *gen_end_ms)
{
    char *cc_src = unit_source(r, train, 0);
    if (cc_src && jit_cached(JIT_CC, cc_src)) {
        *gen_end_ms = clock_ms();
        JitModule *m = jit_compile(JIT_CC, cc_src, r->net->name, train, fns, &r->diag);
        free(cc_src);
        return m;
    }
    char *tcc_src = cc_src ? unit_source(r, train, 1) : NULL;
    *gen_end_ms = clock_ms();
    JitModule *m =
        tcc_src ? jit_compile_auto(tcc_src, cc_src, r->net->name, train, fns, &r->diag) : NULL;
    free(cc_src);
    free(tcc_src);
    return m;
}

JitModule *host_compile_timed(Rnnc *r, JitKind kind, int train, ModelFns *fns, double *gen_end_ms)
{
    if (kind == JIT_AUTO)
        return compile_auto(r, train, fns, gen_end_ms);
    /* the unit is shaped for the compiler that takes it */
    char *src = unit_source(r, train, kind == JIT_TCC);
    *gen_end_ms = clock_ms();
    if (!src)
        return NULL;
    JitModule *m = jit_compile(kind, src, r->net->name, train, fns, &r->diag);
    free(src);
    return m;
}

int rnnc_import(Rnnc *r, const char *model, const char *spec_out, const char *weights_out)
{
    RnnrtError err;
    if (onnx_import(model, spec_out, weights_out, &err) < 0) {
        io_rt_error(r, &err);
        return -1;
    }
    return 0;
}
