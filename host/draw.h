/* draw.h — the drawing layer of rnnc plot over cairo (the only module that includes
 * cairo.h): a figure is recorded once, in points, then rendered to SVG, PNG or PDF by the
 * same cairo calls; axes with ticks (linear or log), heatmaps, colour bars, lines, legends,
 * boxes, arrows and text. Colours: viridis for values, Okabe and Ito's palette for lines.
 */
#ifndef RNNC_DRAW_H
#define RNNC_DRAW_H

#include <stddef.h>

#include "diag.h"

typedef struct Draw Draw;

/* An RGB colour, components in [0, 1]. */
typedef struct Rgb {
    double r, g, b;
} Rgb;

/* Okabe and Ito's colour-blind-safe colours: k = 0 blue, 1 vermillion, 2 bluish green,
 * 3 orange, 4 sky blue, 5 reddish purple, 6 black (k taken modulo 7). */
Rgb draw_palette(int k);
/* Viridis at u in [0, 1] (clamped; NaN is grey). */
Rgb draw_viridis(double u);

/* A fresh figure (nothing drawn, size 0 x 0), or NULL when out of memory. */
Draw *draw_new(void);
void draw_free(Draw *d);
/* The page size in points (white); every figure sets it, at any time before rendering. */
void draw_size(Draw *d, double w, double h);
/* Renders the figure to `path`, the format from its extension (.svg, .png at 2 pixels per
 * point, .pdf), written atomically. 0, or -1 with the reason in `diag`. */
int draw_save(Draw *d, const char *path, DiagList *diag);
/* The figure as SVG text (malloc'd, NUL-terminated; length in *n), or NULL. */
char *draw_svg(Draw *d, size_t *n);
/* Whether `path` ends in an extension draw_save writes. */
int draw_format_ok(const char *path);

/* Text at (x, y): ax and ay anchor it (0 left/top, 0.5 centre, 1 right/bottom), `angle`
 * in degrees (90: reading upwards), size in points, bold when `bold`. */
void draw_text(Draw *d, double x, double y, double ax, double ay, double angle, double size,
               int bold, const char *fmt, ...) __attribute__((format(printf, 9, 10)));
double draw_text_width(Draw *d, double size, int bold, const char *s);
void draw_line(Draw *d, double x0, double y0, double x1, double y1, Rgb c, double width,
               int dashed);
/* An arrow from (x0, y0) to (x1, y1), its head at the end. */
void draw_arrow(Draw *d, double x0, double y0, double x1, double y1, Rgb c, double width);
/* A rectangle with corner radius `rad`: filled when fill, outlined when stroke. */
void draw_box(Draw *d, double x, double y, double w, double h, double rad, const Rgb *fill,
              const Rgb *stroke, double width);
void draw_circle(Draw *d, double x, double y, double rad, const Rgb *fill, const Rgb *stroke,
                 double width);

/* A plot area: its place on the page and the data range it shows. */
typedef struct Axes {
    double x, y, w, h;     /* points; (x, y) the top left corner */
    double x0, x1, y0, y1; /* data range */
    int xlog, ylog;        /* log10 scales (the range then positive) */
    int heat;              /* a heatmap's: no grid, no y ticks (the caller labels the rows) */
} Axes;

double axes_px(const Axes *a, double v);
double axes_py(const Axes *a, double v);
/* Frame, ticks with their labels, axis labels and a title (any may be NULL or ""). */
void draw_axes(Draw *d, const Axes *a, const char *xlabel, const char *ylabel, const char *title);
/* The same with no tick labels on x (stacked panels sharing the axis below). */
void draw_axes_nox(Draw *d, const Axes *a, const char *ylabel, const char *title);
/* A polyline through (xs[k], ys[k]) inside a, breaking at NaN and non-positive values on a
 * log axis; markers when `dots`. xs may be NULL: 0, 1, 2, ... */
void draw_series(Draw *d, const Axes *a, const double *xs, const double *ys, int n, Rgb c,
                 double width, int dashed, int dots);
/* A marker at data point (x, y), labelled beside it when label is not NULL. */
void draw_marker(Draw *d, const Axes *a, double x, double y, Rgb c, const char *label);
/* A matrix (rows, cols), row 0 at the top, as a viridis image filling a's area; values
 * mapped from [vmin, vmax]. */
void draw_heatmap(Draw *d, const Axes *a, const double *m, int rows, int cols, double vmin,
                  double vmax);
/* A vertical colour bar at (x, y), w x h, for [vmin, vmax], labelled. */
void draw_colorbar(Draw *d, double x, double y, double w, double h, double vmin, double vmax,
                   const char *label);
/* A legend box at (x, y): n entries of a line in colour c[k] (dashed[k]) and names[k]. */
void draw_legend(Draw *d, double x, double y, int n, const Rgb *c, const int *dashed,
                 const char *const *names);

#endif
