/* test_compiler.c — unit tests of the compiler stages on their own: arena, string builder,
 * diagnostics rendering, YAML to SpecDoc, check (defaults, derived sizes, rules), plan
 * (PyTorch's state_dict order and shapes, packed layout, counts), emit (kernel choice).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "emit.h"
#include "plan.h"
#include "sb.h"
#include "spec.h"

/* One compile of an in-memory spec. */
typedef struct Ctx {
    Arena a;
    DiagList d;
    SpecDoc *doc;
    Net *net;
    Plan *plan;
} Ctx;

static int ctx_load(Ctx *c, const char *text)
{
    arena_init(&c->a);
    diag_init(&c->d, &c->a);
    c->net = NULL;
    c->plan = NULL;
    c->doc = spec_parse(&c->a, &c->d, "t.yaml", text);
    if (!c->doc)
        return -1;
    c->net = check_spec(&c->a, &c->d, c->doc);
    if (!c->net)
        return -1;
    c->plan = plan_build(&c->a, &c->d, c->net);
    return c->plan ? 0 : -1;
}

static char *ctx_render(const Ctx *c)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    diag_render(&c->d, f);
    fclose(f);
    return buf;
}

static void test_arena(void **state)
{
    (void)state;
    Arena a;
    arena_init(&a);
    char *s = arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    assert_string_equal(arena_printf(&a, "%d-%s", 7, "x"), "7-x");
    /* a block larger than the default block size, and alignment */
    unsigned char *big = arena_alloc(&a, 200000);
    assert_non_null(big);
    assert_int_equal(big[199999], 0);
    void *p = arena_alloc(&a, 3), *q = arena_alloc(&a, 1);
    assert_int_equal((unsigned long)p % _Alignof(max_align_t), 0);
    assert_int_equal((unsigned long)q % _Alignof(max_align_t), 0);
    assert_int_equal(a.failed, 0);
    arena_free(&a);
    assert_null(a.head);
}

static void test_sb(void **state)
{
    (void)state;
    Sb sb;
    sb_init(&sb);
    sb_line(&sb, "a %d", 1);
    sb.indent = 4;
    sb_line(&sb, "b");
    sb_puts(&sb, "c");
    for (int i = 0; i < 1000; i++)
        sb_printf(&sb, "%c", 'x');
    char *s = sb_take(&sb);
    assert_non_null(s);
    assert_int_equal(strncmp(s, "a 1\n    b\nc", 11), 0);
    assert_int_equal(strlen(s), 11 + 1000);
    free(s);
}

static void test_diag_render(void **state)
{
    (void)state;
    Arena a;
    arena_init(&a);
    DiagList d;
    diag_init(&d, &a);
    SrcFile src = {"f.yaml", "name: x\n  bad: 1\n"};
    Span sp = {&src, 2, 3, 3};
    diag_error(&d, sp, "unknown key '%s'", "bad");
    diag_note(&d, sp, "a note");
    assert_int_equal(d.nerrors, 1);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    diag_render(&d, f);
    fclose(f);
    assert_string_equal(buf, "f.yaml:2:3: error: unknown key 'bad'\n"
                             "     2 |   bad: 1\n"
                             "       |   ^~~\n"
                             "f.yaml:2:3: note: a note\n");
    free(buf);
    /* past the cap: counted, not kept */
    for (int i = 0; i < DIAG_MAX + 5; i++)
        diag_error(&d, span_none(), "e%d", i);
    assert_int_equal(d.n, DIAG_MAX);
    assert_int_equal(d.nerrors, 1 + DIAG_MAX + 5);
    arena_free(&a);
}

static void test_spec_tree(void **state)
{
    (void)state;
    Arena a;
    arena_init(&a);
    DiagList d;
    diag_init(&d, &a);
    SpecDoc *doc = spec_parse(&a, &d, "t.yaml", "a: 1\nb:\n  - x\n  - 'y'\nc: {k: v}\na: 2\n");
    assert_non_null(doc);
    const Node *r = doc->root;
    assert_int_equal(r->kind, NODE_MAP);
    assert_int_equal(r->n, 4); /* duplicates kept for `check` to report */
    assert_string_equal(r->keys[3]->str, "a");
    assert_int_equal(r->keys[3]->span.line, 6);
    const Node *b = spec_map_get(r, "b");
    assert_int_equal(b->kind, NODE_SEQ);
    assert_int_equal(b->n, 2);
    assert_true(b->vals[0]->plain);
    assert_false(b->vals[1]->plain);
    assert_int_equal(b->vals[1]->span.line, 4);
    assert_int_equal(b->vals[1]->span.col, 5);
    assert_int_equal(b->vals[1]->span.len, 3);
    assert_string_equal(spec_map_get(spec_map_get(r, "c"), "k")->str, "v");
    assert_string_equal(spec_map_get(r, "a")->str, "1");
    /* refused: anchors and aliases (one error each), a second document, syntax errors */
    assert_null(spec_parse(&a, &d, "t.yaml", "a: &x 1\nb: *x\n"));
    assert_null(spec_parse(&a, &d, "t.yaml", "a: 1\n---\nb: 2\n"));
    assert_null(spec_parse(&a, &d, "t.yaml", "a: [1, 2\n"));
    assert_int_equal(d.nerrors, 4);
    arena_free(&a);
}

static const char lstm_spec[] = "name: m\n"
                                "input_size: 3\n"
                                "layers:\n"
                                "  - name: enc\n"
                                "    cell: lstm\n"
                                "    hidden_size: 5\n"
                                "    proj_size: 2\n"
                                "    num_layers: 2\n"
                                "    bidirectional: true\n"
                                "  - name: dec\n"
                                "    cell: gru\n"
                                "    hidden_size: 4\n"
                                "head:\n"
                                "  out_features: 6\n";

static void test_check_defaults(void **state)
{
    (void)state;
    Ctx c;
    assert_int_equal(ctx_load(&c, lstm_spec), 0);
    const Net *n = c.net;
    assert_string_equal(n->name, "m");
    assert_int_equal(n->batch_first, 0);
    assert_int_equal(n->dbl, 0);
    assert_int_equal(n->nblocks, 2);
    assert_int_equal(n->blocks[0].dirs, 2);
    assert_int_equal(n->blocks[0].bias, 1);
    assert_int_equal(n->blocks[1].input_size, 4); /* D*P of the block below */
    assert_int_equal(n->blocks[1].reset, RESET_AFTER);
    assert_int_equal(n->blocks[1].num_layers, 1);
    assert_string_equal(n->head.name, "head");
    assert_int_equal(n->head.in_features, 4);
    assert_int_equal(n->head.input, HEAD_LAST);
    assert_int_equal(n->out_size, 6);
    arena_free(&c.a);
}

/* The state_dict order and shapes of nn.LSTM(3, 5, 2, bidirectional, proj_size=2), then the
 * GRU block, then the head; and PyTorch's parameter count (640 for that LSTM). */
static void test_plan_tensors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        long d0, d1;
    } want[] = {
        {"enc.weight_ih_l0", 20, 3},
        {"enc.weight_hh_l0", 20, 2},
        {"enc.bias_ih_l0", 20, 0},
        {"enc.bias_hh_l0", 20, 0},
        {"enc.weight_hr_l0", 2, 5},
        {"enc.weight_ih_l0_reverse", 20, 3},
        {"enc.weight_hh_l0_reverse", 20, 2},
        {"enc.bias_ih_l0_reverse", 20, 0},
        {"enc.bias_hh_l0_reverse", 20, 0},
        {"enc.weight_hr_l0_reverse", 2, 5},
        {"enc.weight_ih_l1", 20, 4},
        {"enc.weight_hh_l1", 20, 2},
        {"enc.bias_ih_l1", 20, 0},
        {"enc.bias_hh_l1", 20, 0},
        {"enc.weight_hr_l1", 2, 5},
        {"enc.weight_ih_l1_reverse", 20, 4},
        {"enc.weight_hh_l1_reverse", 20, 2},
        {"enc.bias_ih_l1_reverse", 20, 0},
        {"enc.bias_hh_l1_reverse", 20, 0},
        {"enc.weight_hr_l1_reverse", 2, 5},
        {"dec.weight_ih_l0", 12, 4},
        {"dec.weight_hh_l0", 12, 4},
        {"dec.bias_ih_l0", 12, 0},
        {"dec.bias_hh_l0", 12, 0},
        {"head.weight", 6, 4},
        {"head.bias", 6, 0},
    };
    Ctx c;
    assert_int_equal(ctx_load(&c, lstm_spec), 0);
    const Plan *p = c.plan;
    int n = (int)(sizeof want / sizeof want[0]);
    assert_int_equal(p->ntensors, n);
    long off = 0;
    for (int i = 0; i < n; i++) {
        assert_string_equal(p->tensors[i].name, want[i].name);
        assert_int_equal(p->tensors[i].shape[0], want[i].d0);
        assert_int_equal(p->tensors[i].ndim, want[i].d1 ? 2 : 1);
        if (want[i].d1)
            assert_int_equal(p->tensors[i].shape[1], want[i].d1);
        assert_int_equal(p->tensors[i].offset, off);
        off += want[i].d0 * (want[i].d1 ? want[i].d1 : 1);
    }
    assert_int_equal(p->nparams, off);
    PlanBlockStats st;
    plan_block_stats(p, 0, &st);
    assert_int_equal(st.torch_params, 640);
    assert_int_equal(st.merged_params, 640 - 4 * 20);
    /* GRU after: b_hn stays apart, so 3H(I+H+1) + H */
    plan_block_stats(p, 1, &st);
    assert_int_equal(st.merged_params, 12 * (4 + 4 + 1) + 4);
    assert_int_equal(p->top_hr, 4);
    assert_int_equal(p->top_layers * p->top_dirs, 1);
    arena_free(&c.a);
}

/* The textbook count for an LSTM: 4h(d+h+1) with merged biases, 4h(d+h+2) in PyTorch. */
static void test_plan_lstm_counts(void **state)
{
    (void)state;
    Ctx c;
    assert_int_equal(ctx_load(&c, "name: m\ninput_size: 10\nlayers:\n"
                                  "  - {name: r, cell: lstm, hidden_size: 64}\n"),
                     0);
    PlanBlockStats st;
    plan_block_stats(c.plan, 0, &st);
    assert_int_equal(st.torch_params, 4 * 64 * (10 + 64 + 2));
    assert_int_equal(st.merged_params, 4 * 64 * (10 + 64 + 1));
    assert_int_equal(c.plan->npacked_w, 4 * 64 * (10 + 64 + 1));
    /* the wide tiles' panels after the weights, on 16 reals: W_hh^T again; two panels of
     * 32 units, eight vectors of accumulators */
    assert_int_equal(c.plan->layers[0].tile_w, 32);
    assert_int_equal(c.plan->layers[0].pk_panel, (4 * 64 * (10 + 64 + 1) + 15) / 16 * 16);
    assert_int_equal(c.plan->npacked, c.plan->layers[0].pk_panel + 64 * 4 * 64);
    assert_int_equal(st.flops_per_step, 2L * 4 * 64 * (10 + 64));
    assert_int_equal(st.state_bytes, 4 * (64 + 64));
    arena_free(&c.a);
}

/* The one-sequence tiles' width (tile_w): the narrowest that splits H into two panels or
 * more and keeps eight vectors of accumulators in a panel of 48 KiB at most, else four
 * vectors; none for a layer of one panel. */
static void test_plan_tile_width(void **state)
{
    (void)state;
    static const struct {
        const char *cell;
        int H, want;
    } cases[] = {
        {"lstm", 64, 32}, /* eight vectors, 32 KiB panels */
        {"lstm", 96, 32}, /* 48 KiB panels */
        {"lstm", 48, 16}, /* 32 does not divide 48: four vectors */
        {"lstm", 32, 16}, /* 32 would be one panel */
        {"gru", 64, 32},  /* six vectors: the narrowest of four or more */
        {"gru", 96, 32},  /* 48 units would be nine vectors, but in 55 KiB panels */
        {"rnn", 256, 64}, /* 128 units would be eight vectors, but in 128 KiB panels */
        {"rnn", 64, 0},   /* one panel */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[160];
        snprintf(text, sizeof text,
                 "name: m\ninput_size: 10\nlayers:\n  - {name: r, cell: %s, hidden_size: %d}\n",
                 cases[i].cell, cases[i].H);
        Ctx c;
        assert_int_equal(ctx_load(&c, text), 0);
        if (c.plan->layers[0].tile_w != cases[i].want)
            fail_msg("%s %d: tile_w %d, want %d", cases[i].cell, cases[i].H,
                     c.plan->layers[0].tile_w, cases[i].want);
        arena_free(&c.a);
    }
}

/* kernel: auto unrolls small layers only; unrolled/loop override it. */
static void test_plan_kernel_choice(void **state)
{
    (void)state;
    Ctx c;
    assert_int_equal(ctx_load(&c,
                              "name: m\ninput_size: 2\nlayers:\n"
                              "  - {name: a, cell: gru, hidden_size: 8}\n"
                              "  - {name: b, cell: lstm, hidden_size: 40}\n"
                              "  - {name: c, cell: rnn, hidden_size: 8, kernel: loop}\n"
                              "  - {name: d, cell: lstm, hidden_size: 20, kernel: unrolled}\n"),
                     0);
    assert_true(c.plan->layers[0].unrolled);  /* 3*8*(2+8) = 240 */
    assert_false(c.plan->layers[1].unrolled); /* 4*40*(8+40) = 7680 */
    assert_false(c.plan->layers[2].unrolled);
    assert_true(c.plan->layers[3].unrolled);
    CUnit u;
    assert_int_equal(emit_unit(c.plan, "m.h", &u, &c.d), 0);
    assert_non_null(strstr(u.body, "blk_a_l0_cell"));
    assert_non_null(strstr(u.body, "unrolled kernel"));
    /* loop layers take the batched kernels: input projections first, then the recurrence;
     * built by the system compiler, in tiles of 16 units of every gate by 7 sequences */
    assert_true(c.plan->layers[1].tiled);
    assert_int_equal(c.plan->layers[1].tile_u, 16);
    assert_int_equal(c.plan->layers[1].tile_s, 7);
    assert_false(c.plan->layers[1].blocked); /* rows of 160 floats: no panel copy */
    assert_non_null(strstr(u.body, "blk_b_l0_pt6_64"));
    assert_non_null(strstr(u.body, "blk_b_l0_t7_16"));
    assert_null(strstr(u.body, "blk_b_l0_cell"));
    assert_null(strstr(u.body, "blk_a_l0_rec6"));
    assert_non_null(strstr(u.header, "extern \"C\""));
    assert_non_null(strstr(u.header, "#define M_INPUT_SIZE 2"));
    cunit_free(&u);
    arena_free(&c.a);
    /* too large to unroll on request */
    assert_int_equal(ctx_load(&c, "name: m\ninput_size: 256\nlayers:\n"
                                  "  - {name: a, cell: lstm, hidden_size: 256, "
                                  "kernel: unrolled}\n"),
                     -1);
    char *msg = ctx_render(&c);
    assert_non_null(strstr(msg, "too large to unroll"));
    free(msg);
    arena_free(&c.a);
}

static void test_check_errors_all_reported(void **state)
{
    (void)state;
    Ctx c;
    assert_int_equal(ctx_load(&c, "name: 9bad\ninput_size: 0\nlayers:\n"
                                  "  - {name: a, cell: lstm, hiden_size: 8, reset: after}\n"),
                     -1);
    char *msg = ctx_render(&c);
    assert_non_null(strstr(msg, "t.yaml:1:7: error: 'name' must be a plain C identifier"));
    assert_non_null(strstr(msg, "t.yaml:2:13: error: 'input_size' must be at least 1"));
    assert_non_null(strstr(msg, "did you mean 'hidden_size'?"));
    assert_non_null(strstr(msg, "'reset' applies only to cell: gru, not to lstm"));
    /* the misspelling stands for the missing key: no second error for it */
    assert_null(strstr(msg, "missing required key 'hidden_size'"));
    assert_int_equal(c.d.nerrors, 4);
    free(msg);
    arena_free(&c.a);
}

static void test_is_ident(void **state)
{
    (void)state;
    assert_true(check_is_ident("rnn_1"));
    assert_true(check_is_ident("_x"));
    assert_false(check_is_ident(""));
    assert_false(check_is_ident("1x"));
    assert_false(check_is_ident("a-b"));
    assert_false(check_is_ident("a;b"));
    assert_false(check_is_ident("__x"));
    assert_false(check_is_ident("_X"));
    assert_false(check_is_ident("a b"));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(check_is_ident(long_name));
}

/* state_dict prefixes of weights: and --rename: names joined by '.', a trailing '.' allowed. */
static void test_is_prefix(void **state)
{
    (void)state;
    assert_true(check_is_prefix("encoder.rnn"));
    assert_true(check_is_prefix("module."));
    assert_true(check_is_prefix("layers.0.lstm"));
    assert_true(check_is_prefix("my-block"));
    assert_false(check_is_prefix(""));
    assert_false(check_is_prefix("."));
    assert_false(check_is_prefix(".rnn"));
    assert_false(check_is_prefix("a..b"));
    assert_false(check_is_prefix("a b"));
    assert_false(check_is_prefix("a=b"));
    assert_false(check_is_prefix("a\tb"));
    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    assert_false(check_is_prefix(long_name));
}

/* Scratch grows as the generated code carves it: ints, states, two layer buffers. */
static void test_plan_scratch(void **state)
{
    (void)state;
    Ctx c;
    assert_int_equal(ctx_load(&c, lstm_spec), 0);
    long s1 = plan_scratch_bytes(c.plan, 1, 10), s2 = plan_scratch_bytes(c.plan, 2, 10);
    long s3 = plan_scratch_bytes(c.plan, 2, 20);
    assert_true(s2 > s1);
    assert_true(s3 > s2);
    /* two (B, T, max_width) buffers: 2 * 2 * 10 * 4 floats more for 10 more steps at B = 2 */
    assert_true(s3 - s2 >= 2L * 2 * 10 * c.plan->max_width * 4);
    /* the run-time scratch's and the training cache's regions start 64 bytes apart at any B
     * and T, though this spec's widths are odd (5, 2, 4, 3): their ints and widths rounded
     * up; deployed code's work area keeps its own widths */
    const Plan *p = c.plan;
    const PlanLayout *al[2] = {&p->scratch, &p->cache};
    for (int i = 0; i < 2; i++) {
        assert_true(al[i]->align);
        for (long B = 1; B <= 3; B++)
            for (long T = 1; T <= 7; T += 3)
                for (int k = 0; k <= al[i]->n; k++)
                    assert_int_equal(
                        plan_region_at(al[i], k, B, T, p->real_size) * p->real_size % 64, 0);
    }
    int odd = 0;
    assert_false(p->dep_scratch.align);
    for (int k = 0; k < p->dep_scratch.n; k++) {
        assert_int_equal(p->dep_scratch.r[k].width, p->dep_scratch.r[k].cols);
        odd |= p->dep_scratch.r[k].width % 16 != 0;
    }
    assert_true(odd);
    assert_int_equal(plan_region_at(&p->dep_scratch, 0, 1, 1, 4), 3); /* 3 ints, 3 floats */
    for (int i = 0; i < p->nlayers; i++)
        if (p->layers[i].split) /* the backward's rows of bz on 64-byte boundaries too */
            assert_int_equal(p->layers[i].bz_width % 16, 0);
    arena_free(&c.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_sb),
        cmocka_unit_test(test_diag_render),
        cmocka_unit_test(test_spec_tree),
        cmocka_unit_test(test_check_defaults),
        cmocka_unit_test(test_check_errors_all_reported),
        cmocka_unit_test(test_is_ident),
        cmocka_unit_test(test_is_prefix),
        cmocka_unit_test(test_plan_tensors),
        cmocka_unit_test(test_plan_lstm_counts),
        cmocka_unit_test(test_plan_tile_width),
        cmocka_unit_test(test_plan_kernel_choice),
        cmocka_unit_test(test_plan_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
