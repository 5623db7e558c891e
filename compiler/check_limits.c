/* check_limits.c — the check stage's rules that look at the network as a whole once its
 * blocks are read: the size limits of check.h (unrolled kernels, layers, parameters, generated
 * code), and the weights: mapping, whose names must be the spec's blocks and head.
 */
#include "check_int.h"

#include <string.h>

static const KeyInfo weights_keys[] = {{"strip", 0}, {"map", 0}, {NULL, 0}};

/* Multiply-adds per step of layer `l` of block `b` (one direction). */
static long layer_macs(const Block *b, int l)
{
    long H = b->hidden_size, P = b->proj_size, Hr = P ? P : H;
    long I = l == 0 ? b->input_size : b->dirs * Hr;
    return cell_gates(b->cell) * H * (I + Hr) + H * P;
}

void check_block_unroll(Checker *c, const Block *b)
{
    if (b->kernel != KERNEL_UNROLLED)
        return;
    for (int l = 0; l < b->num_layers; l++) {
        long macs = layer_macs(b, l);
        if (macs > CHECK_UNROLL_MAX) {
            diag_error(c->diag, b->kernel_span,
                       "layer %d of block '%s' is too large to unroll (%ld "
                       "multiply-adds per step; the limit is %d): use kernel: "
                       "loop or auto",
                       l, b->name, macs, CHECK_UNROLL_MAX);
            return;
        }
    }
}

/* The span of `key` in block mapping `m` when the spec sets it, else the block's. */
static Span key_span(const Node *m, const char *key)
{
    const Node *v = spec_map_get(m, key);
    return v ? v->span : m->span;
}

/* Whether plan will unroll layer `l` of `b` (plan.c's rule): for the code-size estimate. */
static int layer_unrolled(const Block *b, int l)
{
    return b->kernel == KERNEL_UNROLLED ||
           (b->kernel == KERNEL_AUTO && layer_macs(b, l) <= CHECK_UNROLL_AUTO_MAX);
}

void check_totals(Checker *c, const Node *layers, const Net *net, const Node *head)
{
    long long nlayers = 0, unrolled = 0, params = 0, code = 0;
    int over_layers = 0, over_unrolled = 0;
    for (int i = 0; i < net->nblocks; i++) {
        const Block *b = &net->blocks[i];
        const Node *m = layers->vals[i];
        long long GH = (long long)cell_gates(b->cell) * b->hidden_size;
        for (int l = 0; l < b->num_layers; l++) {
            long long macs = layer_macs(b, l);
            nlayers += b->dirs;
            params += b->dirs * (macs + (b->bias ? 2 * GH : 0));
            code += CHECK_C_BYTES_PER_LAYER * b->dirs;
            if (layer_unrolled(b, l)) {
                unrolled += b->dirs * macs;
                code += CHECK_C_BYTES_PER_MAC * macs; /* the directions share the cell */
            }
        }
        if (!over_layers && nlayers > CHECK_MAX_LAYERS) {
            diag_error(c->diag, key_span(m, "num_layers"),
                       "block '%s' brings the network to %lld layers, each direction counted; "
                       "the limit is %d",
                       b->name, nlayers, CHECK_MAX_LAYERS);
            over_layers = 1;
        }
        if (!over_unrolled && unrolled > CHECK_MAX_UNROLLED) {
            diag_error(c->diag, b->kernel == KERNEL_AUTO ? m->span : b->kernel_span,
                       "block '%s' brings the unrolled kernels to %lld multiply-adds per step, "
                       "about %lld MB of generated C; the limit is %d: use kernel: loop",
                       b->name, unrolled, (code + 500000) / 1000000, CHECK_MAX_UNROLLED);
            over_unrolled = 1;
        }
        if (params > CHECK_MAX_PARAMS) {
            diag_error(c->diag, key_span(m, "hidden_size"),
                       "block '%s' brings the network to %lld parameters; the limit is %lld",
                       b->name, params, CHECK_MAX_PARAMS);
            return;
        }
    }
    if (net->head.present) {
        const Block *top = &net->blocks[net->nblocks - 1];
        long long O = net->head.out_features;
        params += O * block_out_width(top) + (net->head.bias ? O : 0);
        if (params > CHECK_MAX_PARAMS)
            diag_error(c->diag, key_span(head, "out_features"),
                       "the head brings the network to %lld parameters; the limit is %lld", params,
                       CHECK_MAX_PARAMS);
    }
}

/* A state_dict prefix (weights.strip, a weights.map value) in the arena without a trailing
 * '.'; NULL after a diagnostic. */
static const char *get_prefix(Checker *c, const Node *v, const char *key)
{
    if (check_want_scalar(c, v, key, "a state_dict prefix") < 0)
        return NULL;
    if (!check_is_prefix(v->str)) {
        diag_error(c->diag, v->span,
                   "'%s' must be a state_dict prefix (names joined by '.', e.g. encoder.rnn; "
                   "no spaces or '='), found '%s'",
                   key, v->str);
        return NULL;
    }
    size_t n = strlen(v->str);
    const char *p = arena_strndup(c->arena, v->str, n - (v->str[n - 1] == '.'));
    if (!p)
        diag_error(c->diag, span_none(), "out of memory");
    return p;
}

/* Key `k` of weights.map names no block and not the head: say so, with a near miss. */
static void map_unknown(Checker *c, const Node *k, const Net *net)
{
    const char *best = NULL;
    int bestd = 3;
    char names[256] = "";
    for (int i = 0; i <= net->nblocks; i++) {
        const char *n = i < net->nblocks ? net->blocks[i].name : net->head.name;
        if (!n || (i == net->nblocks && !net->head.present))
            continue;
        int dist = check_edit_distance(k->str, n);
        if (dist < bestd) {
            bestd = dist;
            best = n;
        }
        strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, n, sizeof names - strlen(names) - 1);
    }
    if (best)
        diag_error(c->diag, k->span, "weights.map: no block or head '%s'; did you mean '%s'?",
                   k->str, best);
    else
        diag_error(c->diag, k->span, "weights.map: no block or head '%s' (the spec has: %s)",
                   k->str, names);
}

/* weights:               # optional: where the tensors are in the weights file
 *   strip: module        # a prefix removed where names have it (nn.DataParallel's)
 *   map:                 # block or head name: its prefix in the file
 *     rnn: encoder.rnn
 *     head: classifier.fc
 */
void check_weights(Checker *c, const Node *m, Net *net)
{
    if (m->kind != NODE_MAP) {
        diag_error(c->diag, m->span, "'weights' must be a mapping (strip, map), found %s",
                   check_node_what(m));
        return;
    }
    check_keys(c, m, weights_keys, NULL, "weights");
    const Node *v;
    if ((v = spec_map_get(m, "strip")) != NULL)
        net->weights_strip = get_prefix(c, v, "strip");
    if ((v = spec_map_get(m, "map")) == NULL)
        return;
    if (v->kind != NODE_MAP || v->n == 0) {
        diag_error(c->diag, v->span,
                   "'map' must be a mapping of block or head names to prefixes (rnn: "
                   "encoder.rnn), found %s",
                   v->kind == NODE_MAP ? "an empty mapping" : check_node_what(v));
        return;
    }
    net->weights_map = arena_alloc(c->arena, (size_t)v->n * sizeof *net->weights_map);
    if (!net->weights_map) {
        diag_error(c->diag, span_none(), "out of memory");
        return;
    }
    for (int i = 0; i < v->n; i++) {
        const Node *k = v->keys[i];
        WeightsMap *w = &net->weights_map[net->nweights_map];
        int known = net->head.present && net->head.name && !strcmp(k->str, net->head.name);
        for (int b = 0; b < net->nblocks; b++)
            known |= net->blocks[b].name && strcmp(k->str, net->blocks[b].name) == 0;
        int dup = 0;
        for (int j = 0; j < net->nweights_map && !dup; j++) {
            const WeightsMap *o = &net->weights_map[j];
            if ((dup = strcmp(o->name, k->str) == 0)) {
                diag_error(c->diag, k->span, "weights.map: '%s' is mapped twice", k->str);
                diag_note(c->diag, o->span, "first mapped here");
            }
        }
        if (!known)
            map_unknown(c, k, net);
        if (!(w->prefix = get_prefix(c, v->vals[i], k->str)) || !known || dup)
            continue;
        for (int j = 0; j < net->nweights_map; j++)
            if (strcmp(net->weights_map[j].prefix, w->prefix) == 0) {
                diag_error(c->diag, v->vals[i]->span,
                           "weights.map: '%s' and '%s' both have the prefix '%s'; their "
                           "tensors would clash",
                           net->weights_map[j].name, k->str, w->prefix);
                dup = 1;
            }
        w->name = k->str;
        w->span = k->span;
        net->nweights_map += !dup;
    }
}
