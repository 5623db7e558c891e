/* figures.c — rnnc plot's data figures drawn from the numbers plot.c computes: the gates
 * and the state of a sequence as heatmaps over time, the vanishing gradient on a log scale,
 * parameter counts and FLOPs against hidden size, and training curves from the log. Layout
 * only: every number comes from plot.c, every line and pixel goes through draw.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

static const double FIG_W = 640, LEFT = 62, RIGHT = 92;

/* The range [lo, hi] of n values (NaN skipped; positive ones only when `pos`); 0 when
 * there are none. */
static int range_of(const double *v, long n, int pos, double *lo, double *hi)
{
    int any = 0;
    for (long k = 0; k < n; k++) {
        if (!isfinite(v[k]) || (pos && v[k] <= 0))
            continue;
        if (!any || v[k] < *lo)
            *lo = v[k];
        if (!any || v[k] > *hi)
            *hi = v[k];
        any = 1;
    }
    return any;
}

/* Whole decades around [lo, hi] (positive). */
static void decades(double *lo, double *hi)
{
    *lo = pow(10, floor(log10(*lo)));
    *hi = pow(10, ceil(log10(*hi)));
    if (*hi <= *lo)
        *hi = *lo * 10;
}

/* A little room around a linear range. */
static void pad(double *lo, double *hi)
{
    double span = *hi - *lo;
    if (span <= 0)
        span = fabs(*hi) > 0 ? fabs(*hi) : 1;
    *lo -= 0.05 * span;
    *hi += 0.05 * span;
}

/* The input sequence (T, I) as lines over steps 1..T: its first six features. */
static void input_panel(Draw *d, const Axes *frame, const double *x, int T, int I)
{
    Axes a = *frame;
    a.y0 = 0, a.y1 = 0;
    range_of(x, (long)T * I, 0, &a.y0, &a.y1);
    pad(&a.y0, &a.y1);
    char title[64];
    snprintf(title, sizeof title, "input x_t (%d feature%s%s)", I, I > 1 ? "s" : "",
             I > 6 ? ", the first 6 shown" : "");
    draw_axes_nox(d, &a, "x", title);
    double *col = malloc((size_t)T * sizeof *col), *ts = malloc((size_t)T * sizeof *ts);
    for (int k = 0; col && ts && k < I && k < 6; k++) {
        for (int t = 0; t < T; t++) {
            col[t] = x[(long)t * I + k];
            ts[t] = t + 1;
        }
        draw_series(d, &a, ts, col, T, draw_palette(k), 1.2, 0, T <= 40);
    }
    free(col);
    free(ts);
}

/* A heatmap panel of `rows` units (their numbers in unit[]) over T steps, with unit
 * numbers on the left. */
static void heat_panel(Draw *d, const Axes *a, const double *m, int rows, int T, const int *unit,
                       double vmin, double vmax, const char *title, int xlabels)
{
    Axes h = *a;
    h.heat = 1;
    draw_heatmap(d, &h, m, rows, T, vmin, vmax);
    if (xlabels)
        draw_axes(d, &h, "time step t", "", title);
    else
        draw_axes_nox(d, &h, "", title);
    int every = rows <= 6 ? 1 : (rows + 4) / 5;
    for (int r = 0; r < rows; r += every)
        draw_text(d, a->x - 5, a->y + (r + 0.5) * a->h / rows, 1, 0.5, 0, 7.5, 0, "%d", unit[r]);
    draw_text(d, a->x - 34, a->y + a->h / 2, 0.5, 1, 90, 9, 0, "unit");
}

/* The rows to show: units[] (those below H), or the first min(H, 64). Malloc'd; count in *n. */
static int *pick_units(const int *units, int nunits, int H, int *n)
{
    int *u = malloc((size_t)(H > 0 ? H : 1) * sizeof *u);
    *n = 0;
    for (int k = 0; u && k < (units ? nunits : H) && *n < 64; k++) {
        int v = units ? units[k] : k;
        if (v >= 0 && v < H)
            u[(*n)++] = v;
    }
    return u;
}

static double panel_h(int rows)
{
    double h = rows * 4.0;
    return h < 44 ? 44 : h > 130 ? 130 : h;
}

int fig_gates(Draw *d, Rnnc *r, const PlotTrace *t, int li, const int *units, int nunits)
{
    RnncLayerInfo L;
    rnnc_layer(r, li, &L);
    RnncBlockInfo blk;
    int bi = 0;
    while (rnnc_block(r, bi, &blk) == 0 && strcmp(blk.name, L.block) != 0)
        bi++;
    int n = 0, T = t->T, GH = L.G * L.H;
    int *u = pick_units(units, nunits, L.H, &n);
    double *m = malloc((size_t)(n > 0 ? n : 1) * T * sizeof *m);
    double *mean = malloc((size_t)L.G * T * sizeof *mean);
    if (!u || !m || !mean || n == 0) {
        free(u);
        free(m);
        free(mean);
        return -1;
    }
    int rnn = blk.cell == RNNC_CELL_RNN, relu = rnn && !L.gate_tanh[0];
    double ph = panel_h(n), top = 40, vmin = 0, vmax = 1;
    for (int g = 0; g < L.G; g++)
        if (L.gate_tanh[g])
            vmin = -1;
    if (rnn && !relu) { /* the pre-activation: atanh of the h the generated code keeps */
        vmax = 1;
        for (long k = 0; k < (long)T * GH; k++) {
            double h = t->acts[li][k], lim = 1 - 1e-7;
            double z = atanh(h > lim ? lim : h < -lim ? -lim : h);
            vmax = fabs(z) > vmax ? fabs(z) : vmax;
        }
        vmin = -vmax;
    } else if (relu) {
        vmin = 0;
        range_of(t->acts[li], (long)T * GH, 0, &vmin, &vmax);
        vmin = 0;
    }
    double H = top + 70 + L.G * (ph + 22) + 110;
    draw_size(d, FIG_W, H);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "Gates of %s over %d steps", L.label, T);
    Axes a = {LEFT, top + 8, FIG_W - LEFT - RIGHT, 50, 0.5, T + 0.5, 0, 1, 0, 0, 0};
    input_panel(d, &a, t->x, T, t->I);
    double y = a.y + a.h + 22;
    static const char *const full[] = {"i: input gate", "f: forget gate", "g: candidate",
                                       "o: output gate"};
    static const char *const gru[] = {"r: reset gate", "z: update gate", "n: candidate"};
    for (int g = 0; g < L.G; g++) {
        for (int k = 0; k < n; k++)
            for (int s = 0; s < T; s++) {
                double v = t->acts[li][(long)s * GH + (long)g * L.H + u[k]], lim = 1 - 1e-7;
                m[(long)k * T + s] = rnn && !relu ? atanh(v > lim ? lim : v < -lim ? -lim : v) : v;
            }
        for (int s = 0; s < T; s++) {
            double acc = 0;
            for (int k = 0; k < n; k++)
                acc += m[(long)k * T + s];
            mean[(long)g * T + s] = acc / n;
        }
        const char *title = blk.cell == RNNC_CELL_LSTM  ? full[g]
                            : blk.cell == RNNC_CELL_GRU ? gru[g]
                            : relu                      ? "h = relu(W_ih x + b_ih + W_hh h + b_hh)"
                                   : "pre-activation W_ih x + b_ih + W_hh h + b_hh (atanh h)";
        Axes p = {LEFT, y, a.w, ph, 0.5, T + 0.5, 0, 1, 0, 0, 0};
        heat_panel(d, &p, m, n, T, u, vmin, vmax, title, 0);
        y += ph + 22;
    }
    draw_colorbar(d, FIG_W - RIGHT + 14, a.y + a.h + 22, 12, y - 22 - (a.y + a.h + 22), vmin, vmax,
                  rnn && !relu ? "pre-activation" : "activation");
    Axes mp = {LEFT, y, a.w, 70, 0.5, T + 0.5, vmin, vmax, 0, 0, 0};
    range_of(mean, (long)L.G * T, 0, &mp.y0, &mp.y1);
    pad(&mp.y0, &mp.y1);
    draw_axes(d, &mp, "time step t", "mean", "mean over the units shown");
    double *ts = malloc((size_t)T * sizeof *ts);
    Rgb cols[4];
    const char *names[4];
    for (int g = 0; ts && g < L.G; g++) {
        for (int s = 0; s < T; s++)
            ts[s] = s + 1;
        cols[g] = draw_palette(g);
        names[g] = rnn && !relu ? "pre-activation" : L.gate_names[g];
        draw_series(d, &mp, ts, mean + (long)g * T, T, cols[g], 1.4, 0, 0);
    }
    draw_legend(d, FIG_W - RIGHT + 6, y, L.G, cols, NULL, names);
    free(ts);
    free(u);
    free(m);
    free(mean);
    return 0;
}

/* Rows of layer `li0` (and its reverse direction li0 + 1 when D = 2) of `src` (h or c) for
 * the units u[0..n) into m (D*n, T); returns the rows. */
static int stack_rows(const PlotTrace *t, double *const *src, int li0, int D, int W, const int *u,
                      int n, double *m)
{
    int T = t->T, rows = 0;
    for (int dir = 0; dir < D; dir++)
        for (int k = 0; k < n; k++, rows++)
            for (int s = 0; s < T; s++)
                m[(long)rows * T + s] = src[li0 + dir][(long)s * W + u[k]];
    return rows;
}

int fig_state(Draw *d, Rnnc *r, const PlotTrace *t, const int *units, int nunits)
{
    int T = t->T, npanels = 0;
    double hmax = 1e-12, cmax = 1e-12, total = 0;
    RnncLayerInfo L;
    for (int i = 0; rnnc_layer(r, i, &L) == 0; i++) {
        for (long k = 0; k < (long)T * L.Hr; k++)
            hmax = fabs(t->h[i][k]) > hmax ? fabs(t->h[i][k]) : hmax;
        for (long k = 0; t->c[i] && k < (long)T * L.H; k++)
            cmax = fabs(t->c[i][k]) > cmax ? fabs(t->c[i][k]) : cmax;
        if (L.dir == 0) {
            int n = 0;
            free(pick_units(units, nunits, L.Hr, &n));
            RnncLayerInfo nx;
            int D = rnnc_layer(r, i + 1, &nx) == 0 && nx.dir == 1 ? 2 : 1;
            total += (panel_h(n * D) + 24) * (t->c[i] ? 2 : 1);
            npanels += t->c[i] ? 2 : 1;
        }
    }
    if (hmax <= 1)
        hmax = 1;
    double top = 40;
    draw_size(d, FIG_W, top + 82 + total + 30);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "Hidden state over %d steps%s", T,
              t->nlayers > 1 ? ", one panel per layer" : "");
    Axes a = {LEFT, top + 8, FIG_W - LEFT - RIGHT, 50, 0.5, T + 0.5, 0, 1, 0, 0, 0};
    input_panel(d, &a, t->x, T, t->I);
    double y = a.y + a.h + 24, y_h0 = y;
    int done = 0, any_c = 0;
    for (int i = 0; rnnc_layer(r, i, &L) == 0; i++) {
        if (L.dir != 0)
            continue;
        RnncLayerInfo nx;
        int D = rnnc_layer(r, i + 1, &nx) == 0 && nx.dir == 1 ? 2 : 1, n = 0;
        int *u = pick_units(units, nunits, L.Hr, &n);
        double *m = malloc((size_t)(D * n + 1) * T * sizeof *m);
        int *lab = malloc((size_t)(D * n + 1) * sizeof *lab);
        if (!u || !m || !lab || n == 0) {
            free(u), free(m), free(lab);
            return -1;
        }
        for (int k = 0; k < D * n; k++)
            lab[k] = u[k % n];
        for (int part = 0; part < (t->c[i] ? 2 : 1); part++) {
            int rows = stack_rows(t, part ? t->c : t->h, i, D, part ? L.H : L.Hr, u, n, m);
            double lim = part ? cmax : hmax;
            char title[160];
            snprintf(title, sizeof title, "%s %s layer %d: %s%s", part ? "c" : "h", L.block,
                     L.layer, part ? "cell state c_t" : "hidden state h_t",
                     D == 2 ? " (forward units, then backward)" : "");
            Axes p = {LEFT, y, a.w, panel_h(rows), 0.5, T + 0.5, 0, 1, 0, 0, 0};
            done++;
            heat_panel(d, &p, m, rows, T, lab, -lim, lim, title, done == npanels);
            if (D == 2)
                draw_line(d, p.x, p.y + p.h / 2, p.x + p.w, p.y + p.h / 2, (Rgb){1, 1, 1}, 1.2, 0);
            y += p.h + 24;
            any_c |= part;
        }
        free(u);
        free(m);
        free(lab);
    }
    draw_size(d, FIG_W, y + 12); /* the last panel's time axis ends the figure */
    double cb = (y - 24 - y_h0) / (any_c ? 2.2 : 1);
    draw_colorbar(d, FIG_W - RIGHT + 14, y_h0, 12, cb, -hmax, hmax, "h");
    if (any_c)
        draw_colorbar(d, FIG_W - RIGHT + 14, y_h0 + cb * 1.2, 12, cb, -cmax, cmax, "c");
    return 0;
}

void fig_grad(Draw *d, const char *title, int T, const double *const *norms, const char **names,
              int ncurves)
{
    draw_size(d, FIG_W, 380);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "%s", title);
    double lo = 1, hi = 1;
    int any = 0;
    for (int c = 0; c < ncurves; c++) {
        double l = 0, h = 0;
        if (range_of(norms[c], T, 1, &l, &h)) {
            lo = any && lo < l ? lo : l;
            hi = any && hi > h ? hi : h;
            any = 1;
        }
    }
    if (lo < hi * 1e-30)
        lo = hi * 1e-30;
    decades(&lo, &hi);
    Axes a = {LEFT + 8, 44, FIG_W - LEFT - 30, 280, 0, T, lo, hi, 0, 1, 0};
    draw_axes(d, &a, "steps back, T - t", "gradient norm", NULL);
    draw_text(d, a.x + a.w, a.y + a.h + 32, 1, 0, 0, 7.5, 0,
              "L: sum of the outputs at the last step T; h_t: the first layer's state after t "
              "steps; from rnnc's generated backward");
    double *ks = malloc((size_t)T * sizeof *ks), *v = malloc((size_t)T * sizeof *v);
    Rgb cols[8];
    int dashed[8];
    for (int c = 0; ks && v && c < ncurves && c < 8; c++) {
        for (int t = 0; t < T; t++) { /* plotted against T - t, nearest step first */
            ks[t] = T - t;
            v[t] = norms[c][t];
        }
        cols[c] = draw_palette(c);
        dashed[c] = strncmp(names[c], "|dL/dc", 6) == 0;
        draw_series(d, &a, ks, v, T, cols[c], 1.8, dashed[c], T <= 30);
    }
    int nl = ncurves < 8 ? ncurves : 8; /* bottom left: where decaying curves are not */
    draw_legend(d, a.x + 8, a.y + a.h - 14 * nl - 14, nl, cols, dashed, names);
    free(ks);
    free(v);
}

void fig_params(Draw *d, const PlotParams *p)
{
    static const char *const cells[3] = {"RNN", "LSTM", "GRU"};
    draw_size(d, FIG_W, 360);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1,
              "Parameters and FLOPs per step of one block: input %d, %d layer%s%s", p->I, p->L,
              p->L > 1 ? "s" : "", p->D == 2 ? ", bidirectional" : "");
    double xs[PLOT_NH], ys[PLOT_NH], lo = 1, hi = 1, flo = 1, fhi = 1;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < p->n; k++) {
            lo = fmin(lo, (double)p->merged[c][k]);
            hi = fmax(hi, (double)p->torch[c][k]);
            flo = fmin(flo, (double)p->flops[c][k]);
            fhi = fmax(fhi, (double)p->flops[c][k]);
        }
    decades(&lo, &hi);
    decades(&flo, &fhi);
    double pw = (FIG_W - 2 * LEFT - 30) / 2;
    Axes a = {LEFT, 44, pw, 250, p->h[0], p->h[p->n - 1], lo, hi, 1, 1, 0};
    Axes b = {2 * LEFT + pw + 10, 44, pw, 250, p->h[0], p->h[p->n - 1], flo, fhi, 1, 1, 0};
    draw_axes(d, &a, "hidden size h", "parameters", "parameters");
    draw_axes(d, &b, "hidden size h", "FLOPs per step", "FLOPs per step (multiply-add = 2)");
    Rgb cols[4];
    const char *names[4] = {"RNN", "LSTM", "GRU", "dashed: one bias vector"};
    int dashed[4] = {0, 0, 0, 1};
    for (int c = 0; c < 3; c++) {
        cols[c] = draw_palette(c);
        for (int k = 0; k < p->n; k++)
            xs[k] = p->h[k];
        for (int k = 0; k < p->n; k++)
            ys[k] = (double)p->torch[c][k];
        draw_series(d, &a, xs, ys, p->n, cols[c], 1.6, 0, 1);
        for (int k = 0; k < p->n; k++)
            ys[k] = (double)p->merged[c][k];
        draw_series(d, &a, xs, ys, p->n, cols[c], 1.1, 1, 0);
        for (int k = 0; k < p->n; k++)
            ys[k] = (double)p->flops[c][k];
        draw_series(d, &b, xs, ys, p->n, cols[c], 1.6, 0, 1);
    }
    cols[3] = (Rgb){0.4, 0.4, 0.4};
    char lab[64];
    snprintf(lab, sizeof lab, "this %s: %ld", cells[p->cell], p->spec_torch);
    draw_marker(d, &a, p->H, (double)p->spec_torch, draw_palette(p->cell), lab);
    snprintf(lab, sizeof lab, "%ld", p->spec_flops);
    draw_marker(d, &b, p->H, (double)p->spec_flops, draw_palette(p->cell), lab);
    draw_legend(d, a.x + 6, a.y + 6, 4, cols, dashed, names);
    draw_text(d, 12, 330, 0, 0, 0, 7.5, 0,
              "Solid: PyTorch's count, two bias vectors b_ih and b_hh, G h (d + h + 2) per "
              "layer-direction (G = 1, 4, 3); dashed: the textbook's");
    draw_text(d, 12, 341, 0, 0, 0, 7.5, 0,
              "single bias, G h (d + h + 1), e.g. 4h(d+h+1) for an LSTM (rnnc's packed "
              "weights; a GRU keeps b_hn apart). From rnnc check's formulas.");
}

/* One training-curve panel: columns ys[0..n) (NaN gaps) against the step. */
static void curve_panel(Draw *d, Axes a, const PlotLog *l, const int *cols, int n,
                        const char *const *names, const char *ylabel, int logy)
{
    double lo = 0, hi = 0, xl = 0, xh = 0;
    int any = 0;
    for (int k = 0; k < n; k++) {
        double a0 = 0, a1 = 0;
        if (range_of(l->col[cols[k]], l->n, logy, &a0, &a1)) {
            lo = any ? fmin(lo, a0) : a0;
            hi = any ? fmax(hi, a1) : a1;
            any = 1;
        }
    }
    range_of(l->col[LOG_STEP], l->n, 0, &xl, &xh);
    a.x0 = xl;
    a.x1 = xh > xl ? xh : xl + 1;
    if (!any) {
        a.y0 = 0, a.y1 = 1, a.ylog = 0;
        draw_axes(d, &a, "step", ylabel, ylabel);
        draw_text(d, a.x + a.w / 2, a.y + a.h / 2, 0.5, 0.5, 0, 9, 0, "not in the log");
        return;
    }
    if (logy)
        decades(&lo, &hi);
    else
        pad(&lo, &hi);
    a.y0 = lo, a.y1 = hi, a.ylog = logy;
    draw_axes(d, &a, "step", ylabel, ylabel);
    Rgb c[2];
    for (int k = 0; k < n; k++) {
        c[k] = draw_palette(k);
        /* a column logged once an epoch has gaps between: join its points */
        double *xs = malloc((size_t)l->n * sizeof *xs), *ys = malloc((size_t)l->n * sizeof *ys);
        int m = 0;
        for (int i = 0; xs && ys && i < l->n; i++)
            if (isfinite(l->col[cols[k]][i])) {
                xs[m] = l->col[LOG_STEP][i];
                ys[m++] = l->col[cols[k]][i];
            }
        draw_series(d, &a, xs, ys, m, c[k], 1.5, 0, m <= 60);
        free(xs);
        free(ys);
    }
    if (n > 1)
        draw_legend(d, a.x + a.w - 90, a.y + 6, n, c, NULL, names);
}

void fig_curves(Draw *d, const char *title, const PlotLog *l)
{
    draw_size(d, FIG_W, 470);
    draw_text(d, 12, 12, 0, 0, 0, 11, 1, "%s", title);
    double pw = (FIG_W - 2 * LEFT - 30) / 2, ph = 160;
    Axes a = {LEFT, 48, pw, ph, 0, 1, 0, 1, 0, 0, 0};
    Axes b = {2 * LEFT + pw + 10, 48, pw, ph, 0, 1, 0, 1, 0, 0, 0};
    static const int loss[2] = {LOG_LOSS, LOG_VAL_LOSS}, acc[1] = {LOG_VAL_ACC};
    static const int lr[1] = {LOG_LR}, gn[1] = {LOG_GRAD_NORM};
    static const char *const ln[2] = {"loss", "val_loss"};
    curve_panel(d, a, l, loss, 2, ln, "loss", 1);
    curve_panel(d, b, l, acc, 1, NULL, "validation accuracy", 0);
    a.y = b.y = 48 + ph + 60;
    curve_panel(d, a, l, lr, 1, NULL, "learning rate", 0);
    curve_panel(d, b, l, gn, 1, NULL, "gradient norm before clipping", 1);
}
