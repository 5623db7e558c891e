/* report.c — rnnc report: one self-contained HTML page about a spec (the check summary, the
 * architecture, the cell, parameter counts and, with weights and an input, the gates, the
 * state and the gradient through time). Figures are rnnc plot's, rendered to SVG and
 * inlined with their ids made unique per figure; nothing on the page is fetched.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

/* Appends s (n bytes; HTML-escaped when `esc`) to f. */
static void put_html(FILE *f, const char *s, size_t n, int esc)
{
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (esc && c == '<')
            fputs("&lt;", f);
        else if (esc && c == '>')
            fputs("&gt;", f);
        else if (esc && c == '&')
            fputs("&amp;", f);
        else
            fputc(c, f);
    }
}

/* The SVG of d without its XML declaration and with every id (and reference to one)
 * prefixed by `pre`, so that several figures can share a page. */
static void put_svg(FILE *f, Draw *d, const char *pre)
{
    size_t n = 0;
    char *svg = draw_svg(d, &n);
    if (!svg)
        return;
    const char *p = strstr(svg, "<svg");
    p = p ? p : svg;
    static const char *const refs[3] = {"id=\"", "href=\"#", "url(#"};
    while (*p) {
        int hit = -1;
        for (int k = 0; k < 3 && hit < 0; k++)
            if (strncmp(p, refs[k], strlen(refs[k])) == 0)
                hit = k;
        if (hit < 0) {
            fputc(*p++, f);
            continue;
        }
        fputs(refs[hit], f);
        fputs(pre, f);
        p += strlen(refs[hit]);
    }
    free(svg);
}

/* One figure of kind `kind` (args otherwise as a) as a section; 0, or -1 after adding the
 * reason to r's diagnostics (the page then says the figure is missing). */
static int section(FILE *f, Rnnc *r, const RnncPlotArgs *a, RnncPlotKind kind, int variant,
                   const char *heading, const char *pre)
{
    RnncPlotArgs b = *a;
    b.kind = kind;
    b.cell = variant == 1;
    b.unroll = variant == 2 ? 6 : 0;
    Draw *d = draw_new();
    int rc = d ? 0 : -1;
    if (rc == 0)
        rc = plot_draw_into(r, &b, d);
    fprintf(f, "<h2>%s</h2>\n", heading);
    if (rc == 0) {
        fputs("<figure>", f);
        put_svg(f, d, pre);
        fputs("</figure>\n", f);
    } else {
        fputs("<p class=\"missing\">This figure could not be drawn (see rnnc's messages).</p>\n",
              f);
    }
    draw_free(d);
    return rc;
}

static const char style[] =
    "body{font-family:'DejaVu Sans',sans-serif;max-width:860px;margin:2em auto;color:#222;"
    "background:#fff;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;"
    "font-size:.85em}figure{margin:0}figure svg{max-width:100%;height:auto}"
    ".missing{color:#a33}";

/* The page into f. */
static int write_page(FILE *f, Rnnc *r, const RnncPlotArgs *a)
{
    const char *name = r->net->name;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>rnnc report: %s</title>\n<style>%s</style>\n</head>\n<body>\n",
            name, style);
    fprintf(f, "<h1>rnnc report: %s</h1>\n<p>Spec <code>", name);
    put_html(f, r->net->file, strlen(r->net->file), 1);
    fputs("</code>", f);
    if (a->weights) {
        fputs(", weights <code>", f);
        put_html(f, a->weights, strlen(a->weights), 1);
        fputs("</code>", f);
    }
    fputs(". Every figure is computed by rnnc's generated code or rnnc check's formulas.</p>\n",
          f);
    char *sum = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&sum, &n);
    if (m) {
        rnnc_report(r, m);
        fclose(m);
    }
    fputs("<h2>Check</h2>\n<pre>", f);
    if (sum)
        put_html(f, sum, n, 1);
    fputs("</pre>\n", f);
    free(sum);
    int bad = 0;
    bad |= section(f, r, a, RNNC_PLOT_ARCH, 0, "Architecture", "f1-");
    bad |= section(f, r, a, RNNC_PLOT_ARCH, 1, "The cell", "f2-");
    bad |= section(f, r, a, RNNC_PLOT_ARCH, 2, "Unfolded through time", "f3-");
    bad |= section(f, r, a, RNNC_PLOT_PARAMS, 0, "Parameters", "f4-");
    int data = (a->weights || a->model) && (a->input || a->x);
    if (data) {
        bad |= section(f, r, a, RNNC_PLOT_GATES, 0, "Gates", "f5-");
        bad |= section(f, r, a, RNNC_PLOT_STATE, 0, "State", "f6-");
        if (r->plan->can_stream)
            bad |= section(f, r, a, RNNC_PLOT_GRADIENTS, 0, "Gradient through time", "f7-");
    } else {
        fputs("<p>Gates, state and gradients need weights and an input (--weights, "
              "--input).</p>\n",
              f);
    }
    fputs("</body>\n</html>\n", f);
    return bad ? -1 : 0;
}

int rnnc_report_html(Rnnc *r, const RnncPlotArgs *a, const char *output)
{
    char *page = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&page, &n);
    if (!f) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    int rc = write_page(f, r, a);
    if (fclose(f) != 0 && rc == 0) {
        diag_error(&r->diag, span_none(), "out of memory");
        rc = -1;
    }
    if (rc == 0) {
        RnnrtError err;
        rc = rnnrt_write_file(output, page, n, &err);
        if (rc < 0)
            diag_error(&r->diag, span_none(), "%s", err.msg);
    }
    free(page);
    return rc;
}
