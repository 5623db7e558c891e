/* diagrams.c — rnnc plot arch: the spec's network as a block diagram (layers, directions,
 * projection, head, sizes on the edges), a cell's internal diagram (gates, the cell-state
 * path, the element-wise operations) with its equations, and a cell unfolded through time.
 * Sizes and parameter counts come from the loaded spec (rnnc.h), nothing is assumed.
 */
#include <stdio.h>
#include <string.h>

#include "plot.h"

static const double W = 640;
static const Rgb INK = {0.15, 0.15, 0.15};
static const Rgb GATE = {0.96, 0.83, 0.55};   /* sigmoid and tanh layers (learned) */
static const Rgb OP = {0.80, 0.90, 0.97};     /* element-wise operations */
static const Rgb BOX = {0.87, 0.93, 0.87};    /* a layer */
static const Rgb BOXREV = {0.93, 0.88, 0.95}; /* its reverse direction */
static const Rgb HEAD = {0.98, 0.90, 0.80};
static const Rgb WHITE = {1, 1, 1};

static const char *cell_name(RnncCell c)
{
    return c == RNNC_CELL_LSTM ? "LSTM" : c == RNNC_CELL_GRU ? "GRU" : "RNN";
}

/* A letter with a subscript, centred at (x, y). */
static void sub_label(Draw *d, double x, double y, const char *main, const char *sub)
{
    double wm = draw_text_width(d, 10, 1, main), ws = draw_text_width(d, 7.5, 0, sub);
    double left = x - (wm + ws) / 2;
    draw_text(d, left, y, 0, 0.5, 0, 10, 1, "%s", main);
    draw_text(d, left + wm, y + 4, 0, 0.5, 0, 7.5, 0, "%s", sub);
}

/* A labelled box centred at (x, y). */
static void node(Draw *d, double x, double y, double w, double h, Rgb fill, const char *l1,
                 const char *l2)
{
    draw_box(d, x - w / 2, y - h / 2, w, h, 5, &fill, &INK, 1);
    if (l2 && *l2) {
        draw_text(d, x, y - 6, 0.5, 0.5, 0, 8.5, 1, "%s", l1);
        draw_text(d, x, y + 7, 0.5, 0.5, 0, 7.5, 0, "%s", l2);
    } else {
        draw_text(d, x, y, 0.5, 0.5, 0, 8.5, 1, "%s", l1);
    }
}

/* An element-wise operation: a circle with its symbol. */
static void op(Draw *d, double x, double y, const char *sym)
{
    draw_circle(d, x, y, 9, &OP, &INK, 1);
    draw_text(d, x, y, 0.5, 0.5, 0, 10, 1, "%s", sym);
}

/* A learned layer of the cell: sigmoid or tanh. */
static void gate(Draw *d, double x, double y, const char *fn, const char *name)
{
    draw_box(d, x - 20, y - 12, 40, 24, 3, &GATE, &INK, 1);
    draw_text(d, x, y, 0.5, 0.5, 0, 9.5, 0, "%s", fn);
    draw_text(d, x + 23, y - 10, 0, 0.5, 0, 8, 1, "%s", name);
}

/* A width on an edge: a number on a white pill at (x, y). */
static void edge_label(Draw *d, double x, double y, int n)
{
    char s[16];
    snprintf(s, sizeof s, "%d", n);
    double w = draw_text_width(d, 8, 1, s) + 8;
    draw_box(d, x - w / 2, y - 7, w, 14, 7, &WHITE, &(Rgb){0.6, 0.6, 0.6}, 0.6);
    draw_text(d, x, y, 0.5, 0.5, 0, 8, 1, "%s", s);
}

/* Columns of the network: the input, every layer of every block, the head, the output. */
void fig_arch(Draw *d, Rnnc *r)
{
    RnncInfo info;
    rnnc_info(r, &info);
    int ncols = 2, maxd = 1;
    RnncBlockInfo b;
    for (int i = 0; rnnc_block(r, i, &b) == 0; i++) {
        ncols += b.num_layers;
        maxd = b.dirs > maxd ? b.dirs : maxd;
    }
    /* a head is there when the last tensor is not the top block's */
    RnncBlockInfo top;
    RnncTensorInfo last;
    rnnc_block(r, info.nblocks - 1, &top);
    rnnc_tensor(r, info.ntensors - 1, &last);
    size_t tn = strlen(top.name);
    int head = strncmp(last.name, top.name, tn) != 0 || last.name[tn] != '.';
    ncols += head;
    double colw = (W - 40) / ncols, bw = colw * 0.72 < 96 ? colw * 0.72 : 96, bh = 40;
    double H = 100 + maxd * (bh + 14) + 30, cy = 66 + maxd * (bh + 14) / 2;
    draw_size(d, W, H);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "%s: %d block%s, %ld parameters", info.name, info.nblocks,
              info.nblocks > 1 ? "s" : "", info.nparams);
    double px = 20 + colw / 2;
    double prev_y[2] = {cy, cy};
    int prev_n = 1, width = info.input_size;
    char l2[64];
    snprintf(l2, sizeof l2, "%d feature%s", info.input_size, info.input_size > 1 ? "s" : "");
    node(d, px, cy, bw * 0.8, bh, WHITE, "input x", l2);
    for (int i = 0; rnnc_block(r, i, &b) == 0; i++) {
        double bx0 = px + colw / 2 + 4;
        for (int l = 0; l < b.num_layers; l++) {
            double x = px + colw;
            double ys[2];
            for (int dir = 0; dir < b.dirs; dir++) {
                ys[dir] = b.dirs == 1 ? cy : cy + (dir ? 1 : -1) * (bh + 14) / 2;
                for (int k = 0; k < prev_n; k++)
                    draw_arrow(d, px + bw / 2 - 2, prev_y[k], x - bw / 2, ys[dir], INK, 1);
            }
            edge_label(d, (px + bw / 2 + x - bw / 2) / 2, cy, width);
            for (int dir = 0; dir < b.dirs; dir++) {
                char a[48], c[64];
                snprintf(a, sizeof a, "%s %s", cell_name(b.cell), dir ? "\u2190" : "\u2192");
                if (b.proj_size)
                    snprintf(c, sizeof c, "h %d, proj %d", b.hidden_size, b.proj_size);
                else
                    snprintf(c, sizeof c, "layer %d, h %d", l, b.hidden_size);
                node(d, x, ys[dir], bw, bh, dir ? BOXREV : BOX, a, c);
                prev_y[dir] = ys[dir];
            }
            prev_n = b.dirs;
            width = b.dirs * (b.proj_size ? b.proj_size : b.hidden_size);
            px = x;
        }
        double bx1 = px + bw / 2 + 4, by = cy - maxd * (bh + 14) / 2 - 16;
        draw_box(d, bx0, by, bx1 - bx0, maxd * (bh + 14) + 28, 8, NULL, &(Rgb){0.5, 0.5, 0.5},
                 0.8);
        draw_text(d, bx0 + 4, by + maxd * (bh + 14) + 30, 0, 0, 0, 8, 0, "block %s%s", b.name,
                  b.dirs == 2 ? ", both ways" : "");
    }
    double x = px + colw;
    for (int k = 0; k < prev_n; k++)
        draw_arrow(d, px + bw / 2 - 2, prev_y[k], x - bw * 0.4, cy, INK, 1);
    edge_label(d, (px + bw / 2 + x - bw * 0.4) / 2, cy, width);
    if (head) {
        snprintf(l2, sizeof l2, "%d \u2192 %d, %s", width, info.output_size,
                 info.per_step ? "every step" : "last state");
        node(d, x, cy, bw, bh, HEAD, "head Linear", l2);
        px = x;
        x = px + colw;
        draw_arrow(d, px + bw / 2, cy, x - bw * 0.4, cy, INK, 1);
        edge_label(d, (px + bw / 2 + x - bw * 0.4) / 2, cy, info.output_size);
    }
    snprintf(l2, sizeof l2, "%d, %s", info.output_size, info.per_step ? "per step" : "per seq.");
    node(d, x, cy, bw * 0.8, bh, WHITE, "output y", l2);
    draw_text(d, 12, H - 14, 0, 0, 0, 7.5, 0,
              "Edges: the width of what flows along them. \u2192 forward in time, \u2190 reverse; "
              "a bidirectional layer's outputs are concatenated, and every layer reads all of the "
              "previous one's.");
}

static void lstm_cell(Draw *d)
{
    double L = 90, R = 540, cy = 95, hy = 285, by = 250;
    draw_box(d, L, 60, R - L, 250, 14, &(Rgb){0.97, 0.97, 0.97}, &INK, 1.2);
    draw_arrow(d, 30, cy, 190, cy, INK, 1.6); /* the cell-state path */
    draw_arrow(d, 200, cy, 320, cy, INK, 1.6);
    draw_arrow(d, 330, cy, 600, cy, INK, 1.6);
    sub_label(d, 40, cy - 14, "c", "t-1");
    sub_label(d, 600, cy - 14, "c", "t");
    op(d, 200, cy, "\u00d7");
    op(d, 330, cy, "+");
    draw_line(d, 30, hy, 130, hy, INK, 1.4, 0); /* [h_{t-1}, x_t] feeds every gate */
    sub_label(d, 40, hy + 14, "h", "t-1");
    draw_arrow(d, 130, 340, 130, hy, INK, 1.4);
    sub_label(d, 130, 352, "x", "t");
    draw_line(d, 130, hy, 130, by, INK, 1.4, 0);
    draw_line(d, 130, by, 420, by, INK, 1.4, 0);
    double gx[4] = {200, 270, 330, 420};
    const char *fn[4] = {"\u03c3", "\u03c3", "tanh", "\u03c3"}, *nm[4] = {"f", "i", "g", "o"};
    for (int k = 0; k < 4; k++) {
        draw_arrow(d, gx[k], by, gx[k], 212, INK, 1.2);
        gate(d, gx[k], 200, fn[k], nm[k]);
    }
    draw_arrow(d, 200, 188, 200, cy + 9, INK, 1.2); /* f forgets */
    op(d, 300, 150, "\u00d7");                      /* i lets g in */
    draw_line(d, 270, 188, 270, 150, INK, 1.2, 0);
    draw_arrow(d, 270, 150, 291, 150, INK, 1.2);
    draw_line(d, 330, 188, 330, 170, INK, 1.2, 0);
    draw_arrow(d, 330, 170, 306, 157, INK, 1.2);
    draw_arrow(d, 300, 141, 326, cy + 8, INK, 1.2);
    draw_line(d, 480, cy, 480, 120, INK, 1.2, 0); /* c_t, squashed, gated by o */
    draw_box(d, 458, 120, 44, 22, 11, &GATE, &INK, 1);
    draw_text(d, 480, 131, 0.5, 0.5, 0, 9, 0, "tanh");
    draw_arrow(d, 480, 142, 480, 191, INK, 1.2);
    op(d, 480, 200, "\u00d7");
    draw_arrow(d, 440, 200, 471, 200, INK, 1.2);
    draw_line(d, 480, 209, 480, hy, INK, 1.4, 0);
    draw_arrow(d, 480, hy, 600, hy, INK, 1.6);
    draw_line(d, 520, hy, 520, 40, INK, 1.4, 0);
    draw_arrow(d, 520, 40, 560, 40, INK, 1.4);
    sub_label(d, 600, hy + 14, "h", "t");
    sub_label(d, 578, 40, "h", "t");
    const char *eq[] = {"i = \u03c3(W_ii x + b_ii + W_hi h + b_hi)    f = \u03c3(W_if x + b_if + "
                        "W_hf h + b_hf)",
                        "g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = \u03c3(W_io x + b_io + "
                        "W_ho h + b_ho)",
                        "c' = f \u2299 c + i \u2299 g        h' = o \u2299 tanh(c')        "
                        "(PyTorch's gate order i, f, g, o)"};
    for (int k = 0; k < 3; k++)
        draw_text(d, 30, 372 + 13 * k, 0, 0, 0, 8.5, 0, "%s", eq[k]);
}

static void gru_cell(Draw *d, int before)
{
    double L = 90, R = 540, hy0 = 95, by = 260;
    draw_box(d, L, 60, R - L, 250, 14, &(Rgb){0.97, 0.97, 0.97}, &INK, 1.2);
    draw_arrow(d, 30, hy0, 291, hy0, INK, 1.6); /* h_{t-1} runs along the top */
    draw_arrow(d, 309, hy0, 431, hy0, INK, 1.6);
    draw_arrow(d, 449, hy0, 600, hy0, INK, 1.6);
    sub_label(d, 40, hy0 - 14, "h", "t-1");
    sub_label(d, 600, hy0 - 14, "h", "t");
    op(d, 300, hy0, "\u00d7");
    op(d, 440, hy0, "+");
    draw_line(d, 110, hy0, 110, by, INK, 1.4, 0); /* [h_{t-1}, x_t] feeds every gate */
    draw_arrow(d, 150, 340, 150, by, INK, 1.4);
    sub_label(d, 150, 352, "x", "t");
    draw_line(d, 110, by, 400, by, INK, 1.4, 0);
    double gx[3] = {200, 300, 400};
    const char *fn[3] = {"\u03c3", "\u03c3", "tanh"}, *nm[3] = {"r", "z", "n"};
    for (int k = 0; k < 3; k++) {
        draw_arrow(d, gx[k], by, gx[k], 222, INK, 1.2);
        gate(d, gx[k], 210, fn[k], nm[k]);
    }
    draw_line(d, 200, 198, 200, 178, INK, 1.0, 0); /* r acts inside n */
    draw_line(d, 200, 178, 390, 178, INK, 1.0, 0);
    draw_arrow(d, 390, 178, 390, 198, INK, 1.0);
    draw_text(d, 250, 175, 0.5, 1, 0, 7.5, 0, "%s",
              before ? "n reads W_hn (r \u2299 h)" : "n reads r \u2299 (W_hn h + b_hn)");
    draw_arrow(d, 300, 198, 300, hy0 + 9, INK, 1.2); /* z keeps the old state */
    op(d, 360, 150, "1\u2212");
    draw_line(d, 300, 150, 351, 150, INK, 1.0, 1);
    op(d, 440, 150, "\u00d7");
    draw_arrow(d, 369, 150, 431, 150, INK, 1.2);
    draw_line(d, 400, 198, 400, 175, INK, 1.2, 0);
    draw_arrow(d, 400, 175, 433, 157, INK, 1.2);
    draw_arrow(d, 440, 141, 440, hy0 + 9, INK, 1.2);
    const char *eq[] = {
        "r = \u03c3(W_ir x + b_ir + W_hr h + b_hr)    z = \u03c3(W_iz x + b_iz + W_hz h + b_hz)",
        before ? "n = tanh(W_in x + b_in + W_hn (r \u2299 h) + b_hn)    (reset before, Cho et "
                 "al. 2014)"
               : "n = tanh(W_in x + b_in + r \u2299 (W_hn h + b_hn))    (reset after, PyTorch)",
        "h' = (1 \u2212 z) \u2299 n + z \u2299 h        (PyTorch's gate order r, z, n)"};
    for (int k = 0; k < 3; k++)
        draw_text(d, 30, 372 + 13 * k, 0, 0, 0, 8.5, 0, "%s", eq[k]);
}

static void rnn_cell(Draw *d)
{
    draw_box(d, 150, 60, 340, 250, 14, &(Rgb){0.97, 0.97, 0.97}, &INK, 1.2);
    draw_line(d, 30, 250, 320, 250, INK, 1.4, 0);
    sub_label(d, 40, 264, "h", "t-1");
    draw_arrow(d, 320, 340, 320, 250, INK, 1.4);
    sub_label(d, 320, 352, "x", "t");
    draw_arrow(d, 320, 250, 320, 182, INK, 1.4);
    draw_box(d, 290, 146, 60, 36, 4, &GATE, &INK, 1);
    draw_text(d, 320, 164, 0.5, 0.5, 0, 10, 0, "tanh");
    draw_line(d, 320, 146, 320, 100, INK, 1.4, 0);
    draw_arrow(d, 320, 100, 600, 100, INK, 1.6);
    draw_line(d, 420, 100, 420, 40, INK, 1.4, 0);
    draw_arrow(d, 420, 40, 460, 40, INK, 1.4);
    sub_label(d, 600, 86, "h", "t");
    sub_label(d, 478, 40, "h", "t");
    draw_text(d, 30, 372, 0, 0, 0, 8.5, 0,
              "h' = tanh(W_ih x + b_ih + W_hh h + b_hh)    (nonlinearity: relu uses max(0, .))");
    draw_text(d, 30, 385, 0, 0, 0, 8.5, 0,
              "one learned layer: its gradient through time is W_hh^T diag(1 - h'^2) at "
              "every step, which vanishes or explodes");
}

void fig_cell(Draw *d, int cell, int gru_reset_before)
{
    draw_size(d, W, 420);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "The %s cell: one time step", cell_name((RnncCell)cell));
    if (cell == RNNC_CELL_LSTM)
        lstm_cell(d);
    else if (cell == RNNC_CELL_GRU)
        gru_cell(d, gru_reset_before);
    else
        rnn_cell(d);
    Rgb k[2] = {GATE, OP};
    draw_box(d, 548, 330, 12, 10, 2, &k[0], &INK, 0.6);
    draw_text(d, 564, 335, 0, 0.5, 0, 7.5, 0, "learned layer");
    draw_circle(d, 554, 352, 5, &k[1], &INK, 0.6);
    draw_text(d, 564, 352, 0, 0.5, 0, 7.5, 0, "element-wise");
}

void fig_unroll(Draw *d, Rnnc *r, int n)
{
    RnncBlockInfo b;
    rnnc_block(r, 0, &b);
    int lstm = b.cell == RNNC_CELL_LSTM, shown = n > 8 ? 7 : n;
    long G = lstm ? 4 : b.cell == RNNC_CELL_GRU ? 3 : 1, H = b.hidden_size;
    long per = G * H * (b.input_size + (b.proj_size ? b.proj_size : H) + 2);
    draw_size(d, W, 250);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "Block %s unfolded through %d step%s", b.name, n,
              n > 1 ? "s" : "");
    double step = (W - 100) / shown, x0 = 70, cy = 120;
    sub_label(d, 30, cy, "h", "0");
    draw_text(d, 30, cy + 16, 0.5, 0, 0, 7.5, 0, "zero");
    for (int k = 0; k < shown; k++) {
        int t = n > 8 && k >= 5 ? n - (shown - k) + 1 : k + 1;
        double x = x0 + step * (k + 0.5);
        char ts[16], tp[16], name[32];
        snprintf(ts, sizeof ts, "%d", t);
        snprintf(tp, sizeof tp, "%d", t - 1);
        snprintf(name, sizeof name, "%s", cell_name(b.cell));
        double px = k == 0 ? 42 : x - step + 28;
        if (n > 8 && k == 5) {
            draw_text(d, x - step / 2, cy, 0.5, 0.5, 0, 14, 1, "\u2026");
            px = x - step / 2 + 10;
        }
        draw_arrow(d, px, cy - (lstm ? 6 : 0), x - 28, cy - (lstm ? 6 : 0), INK, 1.3);
        if (lstm)
            draw_arrow(d, px, cy + 6, x - 28, cy + 6, (Rgb){0.5, 0.5, 0.5}, 1.3);
        node(d, x, cy, 56, 40, BOX, name, "W, U, b");
        draw_arrow(d, x, cy + 62, x, cy + 20, INK, 1.2);
        sub_label(d, x, cy + 72, "x", ts);
        draw_arrow(d, x, cy - 20, x, cy - 52, INK, 1.2);
        sub_label(d, x, cy - 62, "h", ts);
    }
    draw_text(d, 12, 212, 0, 0, 0, 8.5, 0,
              "The same weights at every step: one set of %ld parameters (layer 0: G h (d + h + "
              "2), G = %ld, h = %ld, d = %d),",
              per, G, H, b.input_size);
    draw_text(d, 12, 225, 0, 0, 0, 8.5, 0,
              "applied %d times; backpropagation through time sums their gradients over the "
              "steps.%s",
              n, lstm ? "  Upper arrow: h, lower (grey): the cell state c." : "");
}
