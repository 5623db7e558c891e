/* plan.c — Net to Plan: tensor table, packed weight layout, kernel choice, and sizes.
 * The packed layout is transposed (input-major) so that every product is a sequence of
 * vector multiply-adds under strict IEEE arithmetic: g[j] += W^T[k][j] * x[k].
 */
#include "plan.h"

#include "check.h"

#include <string.h>

typedef struct Builder {
    Arena *a;
    Plan *p;
    int cap_t;
    long off; /* torch block */
    long pk;  /* packed block */
} Builder;

static int add_tensor(Builder *b, const char *name, long d0, long d1)
{
    Plan *p = b->p;
    PlanTensor *t = &p->tensors[p->ntensors];
    t->name = name;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->offset = b->off;
    b->off += d1 ? d0 * d1 : d0;
    return p->ntensors++;
}

static long take(Builder *b, long n)
{
    long at = b->pk;
    b->pk += n;
    return at;
}

/* The batched backward's per-sequence scratch of layer L. */
static void plan_bz(PlanLayer *L)
{
    int gru = L->block->cell == CELL_GRU, after = gru && L->block->reset == RESET_AFTER;
    long at = 0;
    L->bz_dz = at, at += (long)L->G * L->H;
    L->bz_dgh = after ? at : -1, at += after ? L->H : 0;
    L->bz_hd = gru ? at : -1, at += gru ? L->Hr : 0;
    L->bz_rh = gru && !after ? at : -1, at += gru && !after ? L->H : 0;
    L->bz_hp = at, at += L->Hr;
    L->bz_x = at, at += L->I;
    L->bz_width = at;
}

Plan *plan_build(Arena *a, DiagList *d, const Net *net)
{
    Plan *p = arena_alloc(a, sizeof *p);
    int nl = 0, nt = 2;
    for (int i = 0; i < net->nblocks; i++) {
        nl += net->blocks[i].num_layers * net->blocks[i].dirs;
        nt += 5 * net->blocks[i].num_layers * net->blocks[i].dirs;
    }
    if (p) {
        p->tensors = arena_alloc(a, (size_t)nt * sizeof *p->tensors);
        p->layers = arena_alloc(a, (size_t)nl * sizeof *p->layers);
    }
    if (!p || !p->tensors || !p->layers) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    p->net = net;
    p->real_size = net->dbl ? 8 : 4;
    Builder b = {a, p, nt, 0, 0};
    for (int bi = 0; bi < net->nblocks; bi++) {
        const Block *blk = &net->blocks[bi];
        int G = cell_gates(blk->cell), H = blk->hidden_size, P = blk->proj_size;
        int Hr = P ? P : H;
        for (int l = 0; l < blk->num_layers; l++) {
            for (int dir = 0; dir < blk->dirs; dir++) {
                PlanLayer *L = &p->layers[p->nlayers++];
                const char *sfx = dir ? "_reverse" : "";
                L->block = blk;
                L->block_index = bi;
                L->layer = l;
                L->dir = dir;
                L->G = G;
                L->H = H;
                L->P = P;
                L->Hr = Hr;
                L->I = l == 0 ? blk->input_size : blk->dirs * Hr;
                L->top = bi == net->nblocks - 1;
                L->last_layer = l == blk->num_layers - 1;
                L->macs = (long)G * H * (L->I + Hr) + (long)H * P;
                L->unrolled = blk->kernel == KERNEL_UNROLLED ||
                              (blk->kernel == KERNEL_AUTO && L->macs <= CHECK_UNROLL_AUTO_MAX);
                L->fn = arena_printf(a, "blk_%s_l%d", blk->name, l);
                L->label = arena_printf(a, "%s layer %d%s", blk->name, l, dir ? " reverse" : "");
                L->t_wih = add_tensor(&b, arena_printf(a, "%s.weight_ih_l%d%s", blk->name, l, sfx),
                                      (long)G * H, L->I);
                L->t_whh = add_tensor(&b, arena_printf(a, "%s.weight_hh_l%d%s", blk->name, l, sfx),
                                      (long)G * H, Hr);
                L->t_bih = L->t_bhh = L->t_whr = -1;
                if (blk->bias) {
                    L->t_bih =
                        add_tensor(&b, arena_printf(a, "%s.bias_ih_l%d%s", blk->name, l, sfx),
                                   (long)G * H, 0);
                    L->t_bhh =
                        add_tensor(&b, arena_printf(a, "%s.bias_hh_l%d%s", blk->name, l, sfx),
                                   (long)G * H, 0);
                }
                if (P)
                    L->t_whr = add_tensor(
                        &b, arena_printf(a, "%s.weight_hr_l%d%s", blk->name, l, sfx), P, H);
                L->pk = b.pk;
                L->pk_b = blk->bias ? take(&b, (long)G * H) : -1;
                L->pk_bhn = blk->bias && blk->cell == CELL_GRU && blk->reset == RESET_AFTER
                                ? take(&b, H)
                                : -1;
                L->pk_wx = take(&b, (long)L->I * G * H);
                L->pk_wh = take(&b, (long)Hr * G * H);
                L->pk_wr = P ? take(&b, (long)H * P) : -1;
                L->pk_size = b.pk - L->pk;
                if (Hr > p->max_hr)
                    p->max_hr = Hr;
                if (H > p->max_h)
                    p->max_h = H;
                if (blk->dirs * Hr > p->max_width)
                    p->max_width = blk->dirs * Hr;
                if (!L->unrolled && G * H > p->xp_width)
                    p->xp_width = G * H;
                L->split = !L->unrolled;
                plan_bz(L);
                if (L->split && L->bz_width > p->bz_width)
                    p->bz_width = L->bz_width;
                p->flops_per_step += 2 * L->macs;
                L->st_h = p->state_reals;
                L->st_c = blk->cell == CELL_LSTM ? L->st_h + Hr : -1;
                p->state_reals += Hr + (blk->cell == CELL_LSTM ? H : 0);
                L->drop_off = -1;
                if (dir == 0 && blk->dropout > 0 && !L->last_layer) {
                    L->drop_off = p->dropout_reals;
                    p->dropout_reals += (long)blk->dirs * Hr;
                }
            }
        }
    }
    const Block *top = &net->blocks[net->nblocks - 1];
    p->top_hr = top->proj_size ? top->proj_size : top->hidden_size;
    p->top_dirs = top->dirs;
    p->top_layers = top->num_layers;
    p->head_t_w = p->head_t_b = -1;
    p->head_pk_w = p->head_pk_b = -1;
    if (net->head.present) {
        const Head *h = &net->head;
        p->head_t_w =
            add_tensor(&b, arena_printf(a, "%s.weight", h->name), h->out_features, h->in_features);
        if (h->bias)
            p->head_t_b = add_tensor(&b, arena_printf(a, "%s.bias", h->name), h->out_features, 0);
        p->head_pk_w = take(&b, (long)h->in_features * h->out_features);
        p->head_pk_b = h->bias ? take(&b, h->out_features) : -1;
        p->flops_per_step += 2L * h->in_features * h->out_features;
    }
    for (int i = 0; i < p->ntensors; i++)
        if (!p->tensors[i].name) {
            diag_error(d, span_none(), "out of memory");
            return NULL;
        }
    for (int i = 0; i < p->nlayers; i++)
        if (!p->layers[i].fn || !p->layers[i].label) {
            diag_error(d, span_none(), "out of memory");
            return NULL;
        }
    p->nparams = b.off;
    p->npacked = b.pk;
    p->state_bytes = p->state_reals * p->real_size;
    p->can_stream = 1;
    for (int i = 0; i < net->nblocks; i++)
        p->can_stream &= net->blocks[i].dirs == 1;
    p->deploy_work_bytes = plan_scratch_reals(p, 1, net->max_seq_len) * p->real_size;
    return p;
}

/* The scratch as the generated code carves it, in reals: the schedule's ints first (the
 * run-time API also keeps a part's: 3B + 2T of them, deployed code 2B + T), then the states,
 * two layer-output buffers, the head's input, and the run-time API's input projections. */
static long scratch_reals(const Plan *p, long B, long T, int runtime)
{
    long ints = runtime ? 3 * B + 2 * T : 2 * B + T;
    long int_reals = (ints * 4 + p->real_size - 1) / p->real_size;
    long hlast =
        p->net->head.present && p->net->head.input == HEAD_LAST ? B * p->top_dirs * p->top_hr : 0;
    return int_reals + B * p->max_hr + B * p->max_h + 2 * B * T * p->max_width + hlast +
           (runtime ? B * T * p->xp_width : 0);
}

long plan_scratch_reals(const Plan *p, long B, long T)
{
    return scratch_reals(p, B, T, 0);
}

long plan_scratch_bytes(const Plan *p, long B, long T)
{
    return scratch_reals(p, B, T, 1) * p->real_size;
}

void plan_block_stats(const Plan *p, int block, PlanBlockStats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->block_index != block)
            continue;
        long GH = (long)L->G * L->H;
        long w = GH * (L->I + L->Hr) + (long)L->H * L->P;
        long nb = L->block->bias ? GH : 0;
        out->torch_params += w + 2 * nb;
        out->merged_params += w + nb + (L->pk_bhn >= 0 ? L->H : 0);
        out->flops_per_step += 2 * L->macs;
        out->state_bytes += (long)p->real_size * (L->Hr + (L->G == 4 ? L->H : 0));
    }
}
