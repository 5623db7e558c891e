/* plan.c — Net to Plan: tensor table, packed weight layout, kernel choice, and sizes.
 * The packed layout is transposed (input-major) so that every product is a sequence of
 * vector multiply-adds under strict IEEE arithmetic: g[j] += W^T[k][j] * x[k].
 */
#include "plan.h"

#include "cell.h"
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

/* Reals that make 64 bytes or more, the alignment of an aligned layout's regions: each
 * width and fixed part a multiple of it (the schedule's ints rounded up to 64 bytes), so
 * that with the block on a 64-byte boundary (the host's io_alloc64) no region's vector
 * loads straddle two cache lines (S1's forward took 1.2x as long, its panels of W_hh^T 44
 * bytes off a line). */
enum { ALIGN_REALS = 16 };

/* A blocked layer's tiles ask for the next units' panel into L2 (PlanLayer.pf_next) when a
 * step streams at least this many bytes of panels. On the Zen 5 the benchmarks ran on (1 MiB
 * of L2 a core, a VM's share of 32 MiB of L3) a panel's first tile of sequences, which alone
 * read it from L3, held the stream; asked for by the tiles before, it does not. Without
 * them (`bench/bounds.sh CONFIG`, 2026-12-02) L1 (LSTM 512 over 512 inputs, 8 MiB) took 1.058
 * of its time, 640 over 640 (12.5 MiB) 1.048, 448 over 448 (6.1 MiB) 1.037; with them, smaller
 * layers gained nothing or lost, the lines taking L2 from the panel being read: 256 over 1024
 * (5 MiB) 1.040, 512 over 128 (5 MiB) 0.995, M1 (1.5 and 2 MiB) 1.026 (`bench/bounds.sh
 * lstm-1024-256-32`, `lstm-128-512-32`, `M1`; bench/HISTORY.md). */
#define PF_NEXT_BYTES (6L << 20)

static long align_up(long n)
{
    return (n + ALIGN_REALS - 1) / ALIGN_REALS * ALIGN_REALS;
}

/* Appends a region to l (room was made for it). */
static void region(PlanLayout *l, const char *name, RegionPer per, long width, int shared)
{
    l->r[l->n++] = (PlanRegion){name, per, l->align ? align_up(width) : width, width, shared, 0};
}

/* The forward's scratch: the schedule, the running state, two layer-output buffers, the
 * head's input and (run-time API) the input projections. Deployed code has no parts. */
static void scratch_layout(const Plan *p, PlanLayout *l, int runtime)
{
    const Head *hd = &p->net->head;
    l->ints_B = runtime ? 3 : 2;
    l->ints_T = runtime ? 2 : 1;
    l->align = runtime;
    region(l, "h", PER_B, p->max_hr, 0);
    region(l, "c", PER_B, p->max_h, 0);
    region(l, "buf[0]", PER_BT, p->max_width, 1);
    region(l, "buf[1]", PER_BT, p->max_width, 1);
    region(l, "hlast", PER_B, hd->present && hd->input == HEAD_LAST ? p->top_dirs * p->top_hr : 0,
           1);
    if (runtime) {
        region(l, "xp", PER_BT, p->xp_width, 0);
        l->r[l->n - 1].fixed = p->wt_width;
    }
}

/* The training cache, in the order train_mem carves it: the state, per layer its outputs
 * (and after dropout), per layer-direction its activations, initial state, untransposed
 * weights, c and gh; the head's input; per layer, the gradients carried back. */
static int cache_layout(Arena *a, const Plan *p, PlanLayout *l)
{
    const Head *hd = &p->net->head;
    l->ints_B = 2;
    l->ints_T = 1;
    l->align = 1;
    region(l, "h", PER_B, p->max_hr, 0);
    region(l, "c", PER_B, p->max_h, 0);
    int g = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        const CellDesc *cd = cell_desc(L->block);
        if (L->dir == 0) {
            region(l, arena_printf(a, "out[%d]", g), PER_BT, (long)L->block->dirs * L->Hr, 0);
            if (L->drop_off >= 0)
                region(l, arena_printf(a, "din[%d]", g), PER_BT, (long)L->block->dirs * L->Hr, 0);
            g++;
        }
        region(l, arena_printf(a, "a[%d]", i), PER_BT, (long)L->G * L->H, 0);
        region(l, arena_printf(a, "h0[%d]", i), PER_B, L->Hr, 0);
        region(l, arena_printf(a, "wb[%d]", i), PER_ONE,
               (long)L->G * L->H * (L->I + L->Hr) + (long)L->H * L->P, 0);
        if (cd->has_c) {
            region(l, arena_printf(a, "c0[%d]", i), PER_B, L->H, 0);
            region(l, arena_printf(a, "cs[%d]", i), PER_BT, L->H, 0);
        }
        if (cd->has_gh)
            region(l, arena_printf(a, "ex[%d]", i), PER_BT, L->H, 0);
    }
    if (hd->present && hd->input == HEAD_LAST) {
        region(l, "hlast", PER_B, hd->in_features, 0);
        region(l, "dhlast", PER_B, hd->in_features, 0);
    }
    /* per layer, what its backward writes: the gradient of its outputs (set by the layer
     * above, or the head), its scratch, dL/dh [dL/dc] carried back through time; no two
     * layers share one, so that parts of backward run layers at once */
    g = 0;
    for (int i = 0; i < p->nlayers; i++) {
        const PlanLayer *L = &p->layers[i];
        if (L->dir)
            continue;
        region(l, arena_printf(a, "dy[%d]", g), PER_BT, (long)L->block->dirs * L->Hr, 0);
        if (L->split)
            region(l, arena_printf(a, "bz[%d]", g), PER_B,
                   (long)L->bz_ring * p->kern.bw_steps * L->bz_width, 0);
        region(l, arena_printf(a, "dhn[%d]", g), PER_B, L->Hr, 0);
        if (cell_desc(L->block)->has_c)
            region(l, arena_printf(a, "dcn[%d]", g), PER_B, L->H, 0);
        g++;
    }
    for (int k = 0; k < l->n; k++)
        if (!l->r[k].name)
            return -1;
    return 0;
}

/* Every layout table of the plan. 0, or -1 when out of memory. */
static int plan_layouts(Arena *a, Plan *p)
{
    int most = 12 + 12 * p->nlayers;
    p->scratch.r = arena_alloc(a, 8 * sizeof *p->scratch.r);
    p->dep_scratch.r = arena_alloc(a, 8 * sizeof *p->dep_scratch.r);
    p->cache.r = arena_alloc(a, (size_t)most * sizeof *p->cache.r);
    if (!p->scratch.r || !p->dep_scratch.r || !p->cache.r)
        return -1;
    scratch_layout(p, &p->scratch, 1);
    scratch_layout(p, &p->dep_scratch, 0);
    return cache_layout(a, p, &p->cache);
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
    L->bz_width = align_up(at); /* every row on a 64-byte boundary */
}

/* The tiles of a split layer's recurrence: every gate's columns of tile_u units (one
 * 64-byte vector of each gate; four for a one-gate RNN) for tile_s sequences, so that the
 * accumulators fill up to 28 of AVX-512's 32 vector registers: an LSTM's seven sequences,
 * whose row of four weight vectors and broadcast then leave gcc one register short (it keeps
 * an accumulator in memory, a load and a store a row). Each tile of sequences reads its
 * units' panel once; at B = 32 five tiles (7, 7, 6, 6, 6) where tiles of six were six (6, 6,
 * 5, 5, 5, 5) took 0.94-0.98 of M1's time, L1's at B = 64 (ten tiles, not eleven) 0.97-1.00
 * (bench/HISTORY.md; bench/bounds.sh M1 and L1 time the tiles of six). */
static void plan_tile(PlanLayer *L, int real_size)
{
    const Block *blk = L->block;
    int lanes = 64 / real_size;
    L->tiled = L->split && !L->P && (blk->cell != CELL_GRU || blk->reset == RESET_AFTER);
    L->tile_u = L->G == 1 ? 4 * lanes : lanes;
    if (L->tile_u > L->H)
        L->tile_u = L->H;
    int vecs = (L->G * L->tile_u + lanes - 1) / lanes;
    L->tile_s = vecs > 28 ? 1 : 28 / vecs;
    if (!L->tiled)
        L->tile_u = L->tile_s = 0;
    L->blocked = L->tiled && (long)L->G * L->H * real_size >= 2048;
    /* the one-sequence tiles (tile_w, plan.h): eight vectors of accumulators where a panel
     * stays within 48 KiB (GRU(10, 96) in nine vectors and 55 KiB panels took 1.08 of the
     * time in six), else four */
    L->tile_w = 0;
    for (int want = 8; want >= 4 && !L->tile_w; want -= 4)
        for (int w = L->tile_u; L->tiled && !L->blocked && w < L->H && w <= 24 / L->G * lanes;
             w += lanes)
            if (L->H % w == 0 && L->G * w >= want * lanes &&
                (want == 4 || (long)L->G * w * L->Hr * real_size <= 48 * 1024)) {
                L->tile_w = w;
                break;
            }
}

/* Layer l, direction dir of block bi: its shapes, kernel choice, state_dict tensors, place
 * in the packed block, state and dropout offsets; the plan's maxima and totals grow. */
static void plan_layer(Builder *b, int bi, int l, int dir)
{
    Arena *a = b->a;
    Plan *p = b->p;
    const Net *net = p->net;
    const Block *blk = &net->blocks[bi];
    int G = cell_gates(blk->cell), H = blk->hidden_size, P = blk->proj_size;
    int Hr = P ? P : H;
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
    L->t_wih =
        add_tensor(b, arena_printf(a, "%s.weight_ih_l%d%s", blk->name, l, sfx), (long)G * H, L->I);
    L->t_whh =
        add_tensor(b, arena_printf(a, "%s.weight_hh_l%d%s", blk->name, l, sfx), (long)G * H, Hr);
    L->t_bih = L->t_bhh = L->t_whr = -1;
    if (blk->bias) {
        L->t_bih =
            add_tensor(b, arena_printf(a, "%s.bias_ih_l%d%s", blk->name, l, sfx), (long)G * H, 0);
        L->t_bhh =
            add_tensor(b, arena_printf(a, "%s.bias_hh_l%d%s", blk->name, l, sfx), (long)G * H, 0);
    }
    if (P)
        L->t_whr = add_tensor(b, arena_printf(a, "%s.weight_hr_l%d%s", blk->name, l, sfx), P, H);
    L->pk = b->pk;
    L->pk_b = blk->bias ? take(b, (long)G * H) : -1;
    L->pk_bhn = blk->bias && blk->cell == CELL_GRU && blk->reset == RESET_AFTER ? take(b, H) : -1;
    L->pk_wx = take(b, (long)L->I * G * H);
    L->pk_wh = take(b, (long)Hr * G * H);
    L->pk_wr = P ? take(b, (long)H * P) : -1;
    L->pk_size = b->pk - L->pk;
    if (Hr > p->max_hr)
        p->max_hr = Hr;
    if (H > p->max_h)
        p->max_h = H;
    if (blk->dirs * Hr > p->max_width)
        p->max_width = blk->dirs * Hr;
    if (!L->unrolled && G * H > p->xp_width)
        p->xp_width = G * H;
    L->split = !L->unrolled;
    plan_tile(L, p->real_size);
    L->pf_next = L->blocked && (long)(L->I + Hr) * G * H * p->real_size >= PF_NEXT_BYTES;
    long wt = L->blocked ? (long)L->I * G * H : 0;
    if (align_up(wt) > p->wt_width) /* the projections after it start on 64 bytes too */
        p->wt_width = align_up(wt);
    plan_bz(L);
    p->flops_per_step += 2 * L->macs;
    L->st_h = p->state_reals;
    L->st_c = blk->cell == CELL_LSTM ? L->st_h + Hr : -1;
    p->state_reals += Hr + (blk->cell == CELL_LSTM ? H : 0);
    L->drop_off = -1;
    if (blk->dropout > 0 && !L->last_layer) {
        L->drop_off = p->dropout_reals;
        if (dir == blk->dirs - 1) /* both directions: one mask of D * Hr */
            p->dropout_reals += (long)blk->dirs * Hr;
    }
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
        for (int l = 0; l < blk->num_layers; l++)
            for (int dir = 0; dir < blk->dirs; dir++)
                plan_layer(&b, bi, l, dir);
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
    p->npacked_w = b.pk;
    /* A wide-tile layer's W_hh^T again, in its panels, and a blocked layer's W_ih^T and
     * W_hh^T: pack writes them, once for every forward call
     * after it (a copy in each call took 2 % of S1's and S2's time, and each of two parts
     * copying L1's 8 MiB into its own scratch doubled what a step streams from L3), after all
     * the weights, so that deployed code, which bakes the weights and has no tiles, leaves
     * them out. */
    for (int i = 0; i < p->nlayers; i++) {
        PlanLayer *L = &p->layers[i];
        long GH = (long)L->G * L->H;
        L->pk_panel = L->pk_blk = -1;
        if (L->tile_w) {
            b.pk = align_up(b.pk);
            L->pk_panel = take(&b, (long)L->Hr * GH);
        }
        if (L->blocked) {
            b.pk = align_up(b.pk);
            L->pk_blk = take(&b, plan_blk_wh(L) + (long)L->Hr * GH);
        }
    }
    p->npacked = b.pk;
    p->state_bytes = p->state_reals * p->real_size;
    p->can_stream = 1;
    for (int i = 0; i < net->nblocks; i++)
        p->can_stream &= net->blocks[i].dirs == 1;
    p->kern = (PlanKernels){6, 64, 256, 6, 0, 6, 64, 192 * 1024, 1, 4096, 4};
    if (net->head.present)
        p->kern.head_unrolled = (long)net->head.in_features * net->head.out_features <= 1024;
    for (int i = 0; i < p->nlayers; i++) {
        PlanLayer *L = &p->layers[i];
        L->bz_ring =
            L->split && L->block->dirs == 1 && i > 0 && p->layers[i - 1].block->dirs == 1 ? 2 : 1;
    }
    plan_feeds(p, 0);
    if (plan_layouts(a, p) < 0) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    p->deploy_work_bytes = plan_scratch_reals(p, 1, net->max_seq_len) * p->real_size;
    return p;
}

/* Which layers carry the next one's input projection (feed) and which are carried (fed):
 * plan.h. Again after a bench tool changes tile_w (bench/unit.c), which may also let LSTMs
 * carry it (lstm) to time them that way. */
void plan_feeds(Plan *p, int lstm)
{
    for (int i = 0; i < p->nlayers; i++)
        p->layers[i].feed = p->layers[i].fed = 0;
    for (int i = 0; i + 1 < p->nlayers; i++) {
        PlanLayer *L = &p->layers[i], *U = &p->layers[i + 1];
        /* in one block the two share G, H (Hr = H, a multiple of tile_w) and the next one's
         * input is H wide: G*H is a multiple of 64 (an RNN's tile_w 64: four vectors), its
         * 64-column chunks in parts of H/4 terms (G*H/16 parts) fit the 5 H/tile_w tiles of
         * a group's five steps, and rows of its projection fit in this layer's. An RNN's
         * only: an LSTM's tiles of 16 units (four vectors too) took longer carrying it than
         * with the pass apart once their accumulators started from vector copies
         * (LSTM(10, 48, 2 layers) 1.10x, S1 in such tiles 1.02x; RNN(10, 256, 2 layers)
         * 0.99x: bench/HISTORY.md) */
        int cell_ok = L->block->cell == CELL_RNN || (lstm && L->block->cell == CELL_LSTM);
        L->feed = !L->fed && p->real_size == 4 && cell_ok && L->tile_w && L->G * L->tile_w == 64 &&
                  L->block->dirs == 1 && U->block == L->block && U->tile_w;
        U->fed = L->feed;
    }
}

long plan_blk_wh(const PlanLayer *L)
{
    return L->block->cell == CELL_GRU ? 0 : (long)L->I * L->G * L->H;
}

long plan_region_at(const PlanLayout *l, int k, long B, long T, int real_size)
{
    long ints = l->ints_B * B + l->ints_T * T, kB, kBT, k1;
    long at =
        l->align ? (ints * 4 + 63) / 64 * 64 / real_size : (ints * 4 + real_size - 1) / real_size;
    plan_region_offset(l, k, &kB, &kBT, &k1);
    return at + kB * B + kBT * B * T + k1;
}

long plan_layout_reals(const PlanLayout *l, long B, long T, int real_size)
{
    return plan_region_at(l, l->n, B, T, real_size);
}

void plan_region_offset(const PlanLayout *l, int k, long *kB, long *kBT, long *k1)
{
    *kB = *kBT = *k1 = 0;
    for (int i = 0; i < k; i++) {
        *(l->r[i].per == PER_BT ? kBT : l->r[i].per == PER_B ? kB : k1) += l->r[i].width;
        *k1 += l->r[i].fixed;
    }
}

long plan_scratch_reals(const Plan *p, long B, long T)
{
    return plan_layout_reals(&p->dep_scratch, B, T, p->real_size);
}

long plan_scratch_bytes(const Plan *p, long B, long T)
{
    return plan_layout_reals(&p->scratch, B, T, p->real_size) * p->real_size;
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
