/* draw.c — rnnc plot's drawing layer over cairo (see draw.h). A figure is recorded on a
 * cairo recording surface and replayed onto an SVG, PDF or image surface, so the three
 * formats come from the same calls; the bytes go to disk through the runtime's atomic
 * writer. Text uses cairo's own text API with DejaVu Sans (glyphs become paths in SVG).
 */
#define _POSIX_C_SOURCE 200809L
#include "draw.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

struct Draw {
    cairo_surface_t *rec;
    cairo_t *cr;
    double w, h;
};

static const char font[] = "DejaVu Sans";
static const double PI = 3.14159265358979323846;

Rgb draw_palette(int k)
{
    static const Rgb c[7] = {{0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451},
                             {0.902, 0.624, 0.000}, {0.337, 0.706, 0.914}, {0.800, 0.475, 0.655},
                             {0.000, 0.000, 0.000}};
    return c[((k % 7) + 7) % 7];
}

Rgb draw_viridis(double u)
{
    /* matplotlib's viridis at nine evenly spaced points, interpolated */
    static const unsigned char v[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                          {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                          {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    if (isnan(u))
        return (Rgb){0.8, 0.8, 0.8};
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    double f = u * 8;
    int k = (int)f;
    if (k > 7)
        k = 7;
    f -= k;
    Rgb c;
    c.r = ((1 - f) * v[k][0] + f * v[k + 1][0]) / 255.0;
    c.g = ((1 - f) * v[k][1] + f * v[k + 1][1]) / 255.0;
    c.b = ((1 - f) * v[k][2] + f * v[k + 1][2]) / 255.0;
    return c;
}

Draw *draw_new(void)
{
    Draw *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, NULL);
    d->cr = cairo_create(d->rec);
    if (cairo_status(d->cr) != CAIRO_STATUS_SUCCESS) {
        draw_free(d);
        return NULL;
    }
    cairo_set_line_join(d->cr, CAIRO_LINE_JOIN_ROUND);
    return d;
}

void draw_free(Draw *d)
{
    if (!d)
        return;
    if (d->cr)
        cairo_destroy(d->cr);
    if (d->rec)
        cairo_surface_destroy(d->rec);
    free(d);
}

void draw_size(Draw *d, double w, double h)
{
    d->w = w;
    d->h = h;
}

/* A growing byte buffer that cairo's stream surfaces write into. */
typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} Buf;

static cairo_status_t buf_write(void *closure, const unsigned char *data, unsigned int len)
{
    Buf *b = closure;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + len + 1)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
    return CAIRO_STATUS_SUCCESS;
}

static const char *ext_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

int draw_format_ok(const char *path)
{
    const char *e = ext_of(path);
    return !strcmp(e, "svg") || !strcmp(e, "png") || !strcmp(e, "pdf");
}

/* Replays the recording onto `s` (scaled by `scale`) and finishes it. */
static int replay(Draw *d, cairo_surface_t *s, double scale)
{
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, scale, scale);
    cairo_set_source_rgb(cr, 1, 1, 1); /* a white page under the figure */
    cairo_rectangle(cr, 0, 0, d->w, d->h);
    cairo_fill(cr);
    cairo_set_source_surface(cr, d->rec, 0, 0);
    cairo_paint(cr);
    int bad = cairo_status(cr) != CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return bad ? -1 : 0;
}

/* The figure in format `ext` into b. 0 or -1. */
static int render(Draw *d, const char *ext, Buf *b)
{
    cairo_surface_t *s;
    int rc;
    if (!strcmp(ext, "png")) {
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)ceil(d->w * 2),
                                       (int)ceil(d->h * 2));
        rc = replay(d, s, 2);
        if (rc == 0 && cairo_surface_write_to_png_stream(s, buf_write, b) != CAIRO_STATUS_SUCCESS)
            rc = -1;
        cairo_surface_destroy(s);
        return rc;
    }
    if (!strcmp(ext, "svg")) {
        s = cairo_svg_surface_create_for_stream(buf_write, b, d->w, d->h);
        cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PT);
    } else {
        s = cairo_pdf_surface_create_for_stream(buf_write, b, d->w, d->h);
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "rnnc plot");
    }
    rc = replay(d, s, 1);
    cairo_surface_finish(s);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        rc = -1;
    cairo_surface_destroy(s);
    return rc;
}

int draw_save(Draw *d, const char *path, DiagList *diag)
{
    if (!draw_format_ok(path)) {
        diag_error(diag, span_none(),
                   "%s: the figure's format comes from the extension: .svg, "
                   ".png or .pdf",
                   path);
        return -1;
    }
    Buf b = {0};
    if (render(d, ext_of(path), &b) < 0 || b.oom) {
        diag_error(diag, span_none(), "%s: cairo could not render the figure%s", path,
                   b.oom ? " (out of memory)" : "");
        free(b.p);
        return -1;
    }
    RnnrtError err;
    int rc = rnnrt_write_file(path, b.p, b.n, &err);
    if (rc < 0)
        diag_error(diag, span_none(), "%s", err.msg);
    free(b.p);
    return rc;
}

char *draw_svg(Draw *d, size_t *n)
{
    Buf b = {0};
    if (render(d, "svg", &b) < 0 || b.oom) {
        free(b.p);
        return NULL;
    }
    *n = b.n;
    return (char *)b.p;
}

/* ---- primitives ------------------------------------------------------------------- */

static void set_rgb(cairo_t *cr, Rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

static void set_font(Draw *d, double size, int bold)
{
    cairo_select_font_face(d->cr, font, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(d->cr, size);
}

double draw_text_width(Draw *d, double size, int bold, const char *s)
{
    cairo_text_extents_t te;
    set_font(d, size, bold);
    cairo_text_extents(d->cr, s, &te);
    return te.x_advance;
}

void draw_text(Draw *d, double x, double y, double ax, double ay, double angle, double size,
               int bold, const char *fmt, ...)
{
    char s[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    cairo_t *cr = d->cr;
    cairo_save(cr);
    set_font(d, size, bold);
    cairo_font_extents_t fe;
    cairo_text_extents_t te;
    cairo_font_extents(cr, &fe);
    cairo_text_extents(cr, s, &te);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle * PI / 180.0);
    double hgt = fe.ascent + fe.descent;
    cairo_move_to(cr, -ax * te.x_advance, -ay * hgt + fe.ascent);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

void draw_line(Draw *d, double x0, double y0, double x1, double y1, Rgb c, double width,
               int dashed)
{
    cairo_t *cr = d->cr;
    cairo_save(cr);
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    if (dashed) {
        double dash[2] = {4, 3};
        cairo_set_dash(cr, dash, 2, 0);
    }
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void draw_arrow(Draw *d, double x0, double y0, double x1, double y1, Rgb c, double width)
{
    double len = hypot(x1 - x0, y1 - y0);
    if (len < 1e-9)
        return;
    double ux = (x1 - x0) / len, uy = (y1 - y0) / len, hl = 4 + 2 * width, hw = 2 + width;
    draw_line(d, x0, y0, x1 - ux * hl * 0.8, y1 - uy * hl * 0.8, c, width, 0);
    cairo_t *cr = d->cr;
    cairo_save(cr);
    set_rgb(cr, c);
    cairo_move_to(cr, x1, y1);
    cairo_line_to(cr, x1 - ux * hl - uy * hw, y1 - uy * hl + ux * hw);
    cairo_line_to(cr, x1 - ux * hl + uy * hw, y1 - uy * hl - ux * hw);
    cairo_close_path(cr);
    cairo_fill(cr);
    cairo_restore(cr);
}

static void fill_stroke(cairo_t *cr, const Rgb *fill, const Rgb *stroke, double width)
{
    if (fill) {
        set_rgb(cr, *fill);
        if (stroke)
            cairo_fill_preserve(cr);
        else
            cairo_fill(cr);
    }
    if (stroke) {
        set_rgb(cr, *stroke);
        cairo_set_line_width(cr, width);
        cairo_stroke(cr);
    }
    cairo_new_path(cr);
}

void draw_box(Draw *d, double x, double y, double w, double h, double rad, const Rgb *fill,
              const Rgb *stroke, double width)
{
    cairo_t *cr = d->cr;
    cairo_save(cr);
    if (rad > 0) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, x + w - rad, y + rad, rad, -PI / 2, 0);
        cairo_arc(cr, x + w - rad, y + h - rad, rad, 0, PI / 2);
        cairo_arc(cr, x + rad, y + h - rad, rad, PI / 2, PI);
        cairo_arc(cr, x + rad, y + rad, rad, PI, 3 * PI / 2);
        cairo_close_path(cr);
    } else {
        cairo_rectangle(cr, x, y, w, h);
    }
    fill_stroke(cr, fill, stroke, width);
    cairo_restore(cr);
}

void draw_circle(Draw *d, double x, double y, double rad, const Rgb *fill, const Rgb *stroke,
                 double width)
{
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, rad, 0, 2 * PI);
    fill_stroke(cr, fill, stroke, width);
    cairo_restore(cr);
}

/* ---- axes ------------------------------------------------------------------------- */

static double tr(double v, int lg)
{
    return lg ? log10(v) : v;
}

double axes_px(const Axes *a, double v)
{
    double lo = tr(a->x0, a->xlog), hi = tr(a->x1, a->xlog);
    return a->x + (tr(v, a->xlog) - lo) / (hi - lo) * a->w;
}

double axes_py(const Axes *a, double v)
{
    double lo = tr(a->y0, a->ylog), hi = tr(a->y1, a->ylog);
    return a->y + a->h - (tr(v, a->ylog) - lo) / (hi - lo) * a->h;
}

/* Ticks of [lo, hi] at 1, 2 or 5 times a power of ten, about `want` of them, into t (at
 * most 16); their count. */
static int nice_ticks(double lo, double hi, double want, double *t, double *step_out)
{
    double span = hi - lo, raw = span / want, p = pow(10, floor(log10(raw))), step = p;
    if (!(span > 0) || !isfinite(span))
        return 0;
    if (raw / p >= 5)
        step = 5 * p;
    else if (raw / p >= 2)
        step = 2 * p;
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < 16; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    *step_out = step;
    return n;
}

static void tick_label(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4))
        snprintf(buf, n, "%.0e", v);
    else
        snprintf(buf, n, "%.*f", dec, v);
}

/* "10" with the exponent raised, centred (vertical axis: right-aligned) at (x, y). */
static void pow10_label(Draw *d, double x, double y, int e, int right)
{
    char ex[16];
    snprintf(ex, sizeof ex, "%d", e);
    double w10 = draw_text_width(d, 8, 0, "10"), we = draw_text_width(d, 6, 0, ex);
    double left = right ? x - w10 - we : x - (w10 + we) / 2;
    draw_text(d, left, y, 0, 0.5, 0, 8, 0, "10");
    draw_text(d, left + w10, y - 3.5, 0, 0.5, 0, 6, 0, "%s", ex);
}

static void axis_ticks(Draw *d, const Axes *a, int vertical, int labels)
{
    if (vertical && a->heat)
        return;
    Rgb grey = {0.3, 0.3, 0.3}, grid = {0.9, 0.9, 0.9};
    int lg = vertical ? a->ylog : a->xlog;
    double lo = vertical ? a->y0 : a->x0, hi = vertical ? a->y1 : a->x1;
    double t[16], step = 1;
    int n;
    if (lg) {
        n = 0;
        double e0 = ceil(log10(lo) - 1e-9), e1 = floor(log10(hi) + 1e-9);
        double every = ceil((e1 - e0 + 1) / 8);
        for (double e = e0; e <= e1 && n < 16; e += every)
            t[n++] = pow(10, e);
    } else {
        double len = vertical ? a->h / 28 : a->w / 70;
        n = nice_ticks(lo, hi, len < 3 ? 3 : len > 7 ? 7 : len, t, &step);
    }
    for (int k = 0; k < n; k++) {
        double p = vertical ? axes_py(a, t[k]) : axes_px(a, t[k]);
        char buf[32];
        tick_label(buf, sizeof buf, t[k], step);
        if (vertical) {
            draw_line(d, a->x, p, a->x + a->w, p, grid, 0.5, 0);
            draw_line(d, a->x - 3, p, a->x, p, grey, 0.8, 0);
            if (lg)
                pow10_label(d, a->x - 5, p, (int)lround(log10(t[k])), 1);
            else
                draw_text(d, a->x - 5, p, 1, 0.5, 0, 8, 0, "%s", buf);
        } else {
            if (!a->heat)
                draw_line(d, p, a->y, p, a->y + a->h, grid, 0.5, 0);
            draw_line(d, p, a->y + a->h, p, a->y + a->h + 3, grey, 0.8, 0);
            if (labels && lg)
                pow10_label(d, p, a->y + a->h + 10, (int)lround(log10(t[k])), 0);
            else if (labels)
                draw_text(d, p, a->y + a->h + 5, 0.5, 0, 0, 8, 0, "%s", buf);
        }
    }
}

static void axes_common(Draw *d, const Axes *a, int xlabels, const char *xlabel,
                        const char *ylabel, const char *title)
{
    Rgb dark = {0.2, 0.2, 0.2};
    axis_ticks(d, a, 1, 1);
    axis_ticks(d, a, 0, xlabels);
    draw_box(d, a->x, a->y, a->w, a->h, 0, NULL, &dark, 0.8);
    if (xlabel && *xlabel)
        draw_text(d, a->x + a->w / 2, a->y + a->h + 18, 0.5, 0, 0, 9, 0, "%s", xlabel);
    if (ylabel && *ylabel)
        draw_text(d, a->x - 34, a->y + a->h / 2, 0.5, 1, 90, 9, 0, "%s", ylabel);
    if (title && *title)
        draw_text(d, a->x, a->y - 4, 0, 1, 0, 9.5, 1, "%s", title);
}

void draw_axes(Draw *d, const Axes *a, const char *xlabel, const char *ylabel, const char *title)
{
    axes_common(d, a, 1, xlabel, ylabel, title);
}

void draw_axes_nox(Draw *d, const Axes *a, const char *ylabel, const char *title)
{
    axes_common(d, a, 0, NULL, ylabel, title);
}

void draw_series(Draw *d, const Axes *a, const double *xs, const double *ys, int n, Rgb c,
                 double width, int dashed, int dots)
{
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_rectangle(cr, a->x, a->y, a->w, a->h);
    cairo_clip(cr);
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    if (dashed) {
        double dash[2] = {5, 3};
        cairo_set_dash(cr, dash, 2, 0);
    }
    int open = 0;
    for (int k = 0; k < n; k++) {
        double x = xs ? xs[k] : k, y = ys[k];
        int ok = isfinite(x) && isfinite(y) && (!a->ylog || y > 0) && (!a->xlog || x > 0);
        if (!ok) {
            open = 0;
            continue;
        }
        if (open)
            cairo_line_to(cr, axes_px(a, x), axes_py(a, y));
        else
            cairo_move_to(cr, axes_px(a, x), axes_py(a, y));
        open = 1;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int k = 0; dots && k < n; k++) {
        double x = xs ? xs[k] : k, y = ys[k];
        if (isfinite(x) && isfinite(y) && (!a->ylog || y > 0) && (!a->xlog || x > 0)) {
            cairo_arc(cr, axes_px(a, x), axes_py(a, y), 1.8, 0, 2 * PI);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
}

void draw_marker(Draw *d, const Axes *a, double x, double y, Rgb c, const char *label)
{
    double px = axes_px(a, x), py = axes_py(a, y);
    Rgb white = {1, 1, 1};
    draw_circle(d, px, py, 4.5, &white, &c, 1.8);
    if (label)
        draw_text(d, px + 7, py - 2, 0, 1, 0, 8, 1, "%s", label);
}

void draw_heatmap(Draw *d, const Axes *a, const double *m, int rows, int cols, double vmin,
                  double vmax)
{
    if (rows < 1 || cols < 1)
        return;
    /* upsampled so that viewers that smooth images keep the cells' edges sharp */
    int kx = (int)ceil(2 * a->w / cols), ky = (int)ceil(2 * a->h / rows);
    kx = kx < 1 ? 1 : kx > 16 ? 16 : kx;
    ky = ky < 1 ? 1 : ky > 16 ? 16 : ky;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols * kx, rows * ky);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return;
    }
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    double span = vmax > vmin ? vmax - vmin : 1;
    for (int r = 0; r < rows * ky; r++) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)r * stride);
        for (int c = 0; c < cols * kx; c++) {
            Rgb v = draw_viridis((m[(long)(r / ky) * cols + c / kx] - vmin) / span);
            row[c] = (uint32_t)lround(v.r * 255) << 16 | (uint32_t)lround(v.g * 255) << 8 |
                     (uint32_t)lround(v.b * 255);
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_translate(cr, a->x, a->y);
    cairo_scale(cr, a->w / (cols * kx), a->h / (rows * ky));
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
}

void draw_colorbar(Draw *d, double x, double y, double w, double h, double vmin, double vmax,
                   const char *label)
{
    int n = 64;
    for (int k = 0; k < n; k++) {
        Rgb c = draw_viridis((k + 0.5) / n);
        draw_box(d, x, y + h - (k + 1) * h / n, w, h / n + 0.3, 0, &c, NULL, 0);
    }
    Rgb dark = {0.2, 0.2, 0.2};
    draw_box(d, x, y, w, h, 0, NULL, &dark, 0.6);
    double t[16], step = 1;
    int nt = nice_ticks(vmin, vmax, h / 40 < 3 ? 3 : h / 40 > 8 ? 8 : h / 40, t, &step);
    for (int k = 0; k < nt; k++) {
        double p = y + h - (t[k] - vmin) / (vmax - vmin) * h;
        char buf[32];
        tick_label(buf, sizeof buf, t[k], step);
        draw_line(d, x + w, p, x + w + 3, p, dark, 0.8, 0);
        draw_text(d, x + w + 5, p, 0, 0.5, 0, 8, 0, "%s", buf);
    }
    if (label && *label)
        draw_text(d, x + w + 34, y + h / 2, 0.5, 0, 90, 9, 0, "%s", label);
}

void draw_legend(Draw *d, double x, double y, int n, const Rgb *c, const int *dashed,
                 const char *const *names)
{
    double wmax = 0;
    for (int k = 0; k < n; k++) {
        double w = draw_text_width(d, 8.5, 0, names[k]);
        wmax = w > wmax ? w : wmax;
    }
    Rgb white = {1, 1, 1}, edge = {0.7, 0.7, 0.7};
    draw_box(d, x, y, wmax + 40, 14 * n + 6, 2, &white, &edge, 0.6);
    for (int k = 0; k < n; k++) {
        double yy = y + 10 + 14 * k;
        draw_line(d, x + 6, yy, x + 28, yy, c[k], 2, dashed ? dashed[k] : 0);
        draw_text(d, x + 33, yy, 0, 0.5, 0, 8.5, 0, "%s", names[k]);
    }
}
