/* test_plot.c — the 'plot' suite: the numbers behind rnnc plot's figures (gates, h and c of
 * every layer against PyTorch's cell equations and against `rnnc run`; |dL/dh_t| against
 * PyTorch autograd, tests/plot_fixtures/ from tools/gen_plot_fixtures.py; parameter counts
 * against the closed forms; the training-log reader), every file the CLI and the REPL write
 * (SVG parsed as XML, PNG decoded, PDF opened), and report.html rendered by headless
 * Chromium (skipped, with a message, where it is not installed).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot.h"

/* The fixture names of tests/plot_fixtures/manifest.txt (malloc'd list, count in *n). */
static char **manifest(int *n)
{
    char *path = tu_strf("%s/tests/plot_fixtures/manifest.txt", tu_src_root());
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    char **names = calloc(64, sizeof *names);
    *n = 0;
    for (char *line = strtok(text, "\n"); line && *n < 64; line = strtok(NULL, "\n"))
        names[(*n)++] = strdup(line);
    free(text);
    free(path);
    return names;
}

static char *fix(const char *name, const char *file)
{
    return tu_strf("%s/tests/plot_fixtures/%s/%s", tu_src_root(), name, file);
}

/* Loads fixture `name` into r and pm and runs its x into t. */
static void open_fixture(const char *name, Rnnc *r, PlotModel *pm, double **x, int *T)
{
    char *spec = fix(name, "spec.yaml"), *w = fix(name, "weights.safetensors");
    char *xp = fix(name, "x.npy");
    rnnc_init(r);
    if (rnnc_load(r, spec) < 0 || plot_model_open(pm, r, w, NULL, 0) < 0) {
        rnnc_diag_print(r, stderr);
        fail_msg("%s: cannot load", name);
    }
    RnncPlotArgs a;
    memset(&a, 0, sizeof a);
    a.input = xp;
    assert_int_equal(plot_input(r, &a, x, T), 0);
    free(spec);
    free(w);
    free(xp);
}

/* Compares got (n values) with the fixture's .npy `file`. */
static void against(const char *name, const char *file, const double *got, long n, double rtol,
                    double atol)
{
    char *path = fix(name, file), *what = tu_strf("%s/%s", name, file);
    long m = 0;
    double *want = tu_npy_doubles(path, &m, NULL, NULL);
    assert_int_equal(m, n);
    tu_assert_close(got, want, n, rtol, atol, what);
    free(want);
    free(path);
    free(what);
}

/* The top block's final states from `rnnc run` (h_n, c_n) against the trace. */
static void against_run(const char *name, Rnnc *r, const PlotTrace *t)
{
    char *dir = tu_mkdtemp(), *spec = fix(name, "spec.yaml"),
         *w = fix(name, "weights.safetensors");
    char *xp = fix(name, "x.npy");
    char *cmd = tu_strf("'%s' run '%s' --weights '%s' --input '%s' --output '%s/y.npy' "
                        "--h-n '%s/h.npy'",
                        tu_rnnc_bin(), spec, w, xp, dir, dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    char *yp = tu_strf("%s/y.npy", dir), *hp = tu_strf("%s/h.npy", dir);
    long ny = 0, nh = 0;
    double *y = tu_npy_doubles(yp, &ny, NULL, NULL), *hn = tu_npy_doubles(hp, &nh, NULL, NULL);
    assert_int_equal(ny, (long)t->yrows * t->O);
    tu_assert_close(t->y, y, ny, 1e-6, 1e-7, "the trace's y against rnnc run's");
    /* h_n: (layers * D, 1, Hr) of the top block, the last layer-directions of the trace */
    RnncInfo info;
    rnnc_info(r, &info);
    RnncBlockInfo b;
    rnnc_block(r, info.nblocks - 1, &b);
    int k0 = info.nlayers - b.num_layers * b.dirs, Hr = b.proj_size ? b.proj_size : b.hidden_size;
    assert_int_equal(nh, (long)b.num_layers * b.dirs * Hr);
    for (int k = 0; k < b.num_layers * b.dirs; k++) {
        RnncLayerInfo L;
        rnnc_layer(r, k0 + k, &L);
        int step = L.dir ? 0 : t->T - 1; /* where each direction ends */
        tu_assert_close(t->h[k0 + k] + (long)step * Hr, hn + (long)k * Hr, Hr, 1e-6, 1e-7,
                        "the trace's final h against rnnc run's h_n");
    }
    free(y);
    free(hn);
    free(yp);
    free(hp);
    free(cmd);
    free(spec);
    free(w);
    free(xp);
    tu_rmdir(dir);
}

static void test_trace_fixtures(void **state)
{
    (void)state;
    int n;
    char **names = manifest(&n);
    assert_true(n >= 6);
    for (int f = 0; f < n; f++) {
        Rnnc r;
        PlotModel pm;
        PlotTrace t;
        double *x;
        int T;
        open_fixture(names[f], &r, &pm, &x, &T);
        assert_int_equal(plot_trace(&pm, x, T, &t), 0);
        for (int i = 0; i < t.nlayers; i++) {
            RnncLayerInfo L;
            rnnc_layer(&r, i, &L);
            char g[32], h[32], c[32];
            snprintf(g, sizeof g, "gates_%d.npy", i);
            snprintf(h, sizeof h, "h_%d.npy", i);
            snprintf(c, sizeof c, "c_%d.npy", i);
            against(names[f], g, t.acts[i], (long)T * L.G * L.H, 1e-5, 1e-6);
            against(names[f], h, t.h[i], (long)T * L.Hr, 1e-5, 1e-6);
            char *cp = fix(names[f], c);
            assert_int_equal(tu_exists(cp), t.c[i] != NULL);
            if (t.c[i])
                against(names[f], c, t.c[i], (long)T * L.H, 1e-5, 1e-6);
            free(cp);
        }
        against_run(names[f], &r, &t);
        plot_trace_free(&t);
        plot_model_close(&pm);
        free(x);
        rnnc_fini(&r);
        free(names[f]);
    }
    free(names);
}

static void test_grad_fixtures(void **state)
{
    (void)state;
    int n, checked = 0;
    char **names = manifest(&n);
    for (int f = 0; f < n; f++) {
        char *gp = fix(names[f], "grad_h.npy");
        if (tu_exists(gp)) {
            Rnnc r;
            PlotModel pm;
            double *x;
            int T;
            open_fixture(names[f], &r, &pm, &x, &T);
            double *gh = malloc((size_t)T * sizeof *gh), *gc = malloc((size_t)T * sizeof *gc);
            if (plot_grad_norms(&pm, x, T, gh, gc) < 0) {
                rnnc_diag_print(&r, stderr);
                fail_msg("%s: plot_grad_norms failed", names[f]);
            }
            double top = 0;
            for (int t = 0; t < T; t++)
                top = fmax(top, gh[t]);
            against(names[f], "grad_h.npy", gh, T, 1e-4, 1e-6 * top);
            if (r.plan->layers[0].st_c >= 0)
                against(names[f], "grad_c.npy", gc, T, 1e-4, 1e-6 * top);
            free(gh);
            free(gc);
            free(x);
            plot_model_close(&pm);
            rnnc_fini(&r);
            checked++;
        } else {
            /* bidirectional: refused, with a reason */
            Rnnc r;
            PlotModel pm;
            double *x, g[64];
            int T;
            open_fixture(names[f], &r, &pm, &x, &T);
            assert_true(T <= 64);
            assert_int_equal(plot_grad_norms(&pm, x, T, g, NULL), -1);
            assert_true(r.diag.nerrors > 0);
            assert_non_null(strstr(r.diag.items[0].msg, "bidirectional"));
            free(x);
            plot_model_close(&pm);
            rnnc_fini(&r);
        }
        free(gp);
        free(names[f]);
    }
    free(names);
    assert_true(checked >= 4);
}

/* PyTorch's count of one block: G h (d_l + h + 2) per layer-direction; the textbook's with
 * one bias vector G h (d_l + h + 1) (+ h for a GRU's b_hn, kept apart when reset after). */
static void formulas(int G, long I, long h, int L, int D, long *torch, long *book, long *flops)
{
    *torch = *book = *flops = 0;
    for (int l = 0; l < L; l++) {
        long d = l == 0 ? I : D * h;
        *torch += D * G * h * (d + h + 2);
        *book += D * (G * h * (d + h + 1) + (G == 3 ? h : 0));
        *flops += D * 2 * G * h * (d + h);
    }
}

static void test_params_formulas(void **state)
{
    (void)state;
    static const char *const specs[] = {"seq_classifier", "tagger", "cho_gru"};
    static const int gates[3] = {1, 4, 3};
    for (int s = 0; s < 3; s++) {
        Rnnc r;
        rnnc_init(&r);
        char *path = tu_strf("%s/specs/%s.yaml", tu_src_root(), specs[s]);
        assert_int_equal(rnnc_load(&r, path), 0);
        PlotParams p;
        assert_int_equal(plot_params(&r, &p), 0);
        int own = 0;
        for (int k = 0; k < p.n; k++) {
            own |= p.h[k] == p.H;
            assert_true(k == 0 || p.h[k] > p.h[k - 1]);
            for (int c = 0; c < 3; c++) {
                long torch, book, flops;
                formulas(gates[c], p.I, p.h[k], p.L, p.D, &torch, &book, &flops);
                assert_int_equal(p.torch[c][k], torch);
                assert_int_equal(p.merged[c][k], book);
                assert_int_equal(p.flops[c][k], flops);
            }
        }
        assert_true(own);
        /* the marked model: what `rnnc check` prints for the first block */
        char *cmd = tu_strf("'%s' check '%s'", tu_rnnc_bin(), path), *out = NULL;
        assert_int_equal(tu_run(cmd, &out, NULL), 0);
        char *want = tu_strf("parameters      %ld (PyTorch", p.spec_torch);
        assert_non_null(strstr(out, want));
        free(want);
        want = tu_strf("FLOPs per step  %ld per", p.spec_flops);
        assert_non_null(strstr(out, want));
        free(want);
        free(out);
        free(cmd);
        free(path);
        rnnc_fini(&r);
    }
}

static void test_log_reader(void **state)
{
    (void)state;
    Rnnc r;
    rnnc_init(&r);
    PlotLog l;
    char *path = tu_strf("%s/tests/plot/train_log.csv", tu_src_root());
    assert_int_equal(plot_log_read(&r, path, &l), 0);
    assert_int_equal(l.n, 30);
    assert_true(l.col[LOG_STEP][0] == 10 && l.col[LOG_EPOCH][0] == 1);
    assert_true(fabs(l.col[LOG_LOSS][0] - 1.3155) < 1e-12);
    assert_true(isnan(l.col[LOG_VAL_LOSS][0]) && isnan(l.col[LOG_VAL_ACC][0]));
    assert_true(fabs(l.col[LOG_VAL_ACC][5] - 0.55) < 1e-12);
    assert_true(fabs(l.col[LOG_WALL_TIME][29] - 2.80) < 1e-12);
    plot_log_free(&l);
    char *dir = tu_mkdtemp();
    static const char *const bad[][2] = {
        {"step,epoch,loss\n1,1,0.5\n", ":1: the header"},
        {"step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n1,1,0.5\n", ":2: want 8"},
        {"step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n1,1,x,,,1,1,1\n", ":2: want"},
        {"", "empty"}};
    for (int k = 0; k < 4; k++) {
        char *p = tu_strf("%s/bad%d.csv", dir, k);
        assert_int_equal(tu_write_file(p, bad[k][0]), 0);
        assert_int_equal(plot_log_read(&r, p, &l), -1);
        assert_non_null(strstr(r.diag.items[r.diag.n - 1].msg, bad[k][1]));
        free(p);
    }
    tu_rmdir(dir);
    free(path);
    rnnc_fini(&r);
}

/* Whether `prog` runs (found on PATH). */
static int have(const char *prog)
{
    char *cmd = tu_strf("command -v %s >/dev/null 2>&1", prog);
    int ok = tu_run(cmd, NULL, NULL) == 0;
    free(cmd);
    return ok;
}

/* The share of pixels of the PNG at `path` that are not near white; fails when it does not
 * decode. */
static double ink(const char *path, int *w, int *h)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        fail_msg("%s: not a PNG cairo can decode", path);
    *w = cairo_image_surface_get_width(s);
    *h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    long dark = 0;
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++) {
            uint32_t p = ((uint32_t *)(void *)(d + (size_t)y * stride))[x];
            int r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            dark += r + g + b < 3 * 235;
        }
    cairo_surface_destroy(s);
    return (double)dark / ((double)*w * *h);
}

/* Checks the figure file at `path`: SVG parsed as XML, PNG decoded and not blank, PDF
 * opened. */
static void valid_file(const char *path)
{
    const char *ext = strrchr(path, '.') + 1;
    char *cmd = NULL;
    if (!strcmp(ext, "svg")) {
        if (have("xmllint"))
            cmd = tu_strf("xmllint --noout '%s'", path);
        else
            cmd = tu_strf("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; "
                          "E.parse(sys.argv[1])' '%s'",
                          path);
    } else if (!strcmp(ext, "pdf")) {
        size_t n;
        char *pdf = tu_read_file(path, &n);
        assert_true(pdf && n > 100 && memcmp(pdf, "%PDF-", 5) == 0);
        free(pdf);
        if (have("pdfinfo"))
            cmd = tu_strf("pdfinfo '%s' >/dev/null", path);
    } else {
        int w, h;
        double share = ink(path, &w, &h);
        assert_true(w >= 600 && h >= 200);
        if (share < 0.02)
            fail_msg("%s: %.4f of the pixels are not white", path, share);
    }
    if (cmd && tu_run(cmd, NULL, NULL) != 0)
        fail_msg("%s: %s failed", path, cmd);
    free(cmd);
}

static void test_cli_files(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    char *common = tu_strf("--weights '%s/examples/seq_classifier/weights.safetensors' --input "
                           "'%s/examples/seq_classifier/x.npy' --lengths "
                           "'%s/examples/seq_classifier/lengths.npy' --seq 1",
                           root, root, root);
    static const char *const runs[][2] = {{"gates", "--units 0-7,12 --layer 1"},
                                          {"state", ""},
                                          {"gradients", ""},
                                          {"params", ""},
                                          {"arch", ""},
                                          {"arch", "--cell"},
                                          {"arch", "--unroll 12"},
                                          {"gradients", "--compare --lstm-weights W"}};
    static const char *const exts[3] = {"svg", "png", "pdf"};
    for (int k = 0; k < (int)(sizeof runs / sizeof runs[0]); k++)
        for (int e = 0; e < 3; e++) {
            char *out = tu_strf("%s/fig%d.%s", dir, k, exts[e]);
            char *extra = strcmp(runs[k][1], "--compare --lstm-weights W") == 0
                              ? tu_strf("--compare --lstm-weights "
                                        "'%s/examples/seq_classifier/weights.safetensors'",
                                        root)
                              : strdup(runs[k][1]);
            char *cmd = tu_strf("'%s' plot %s '%s/specs/seq_classifier.yaml' %s %s -o '%s'",
                                tu_rnnc_bin(), runs[k][0], root, common, extra, out);
            char *err = NULL;
            if (tu_run(cmd, NULL, &err) != 0)
                fail_msg("%s: %s", cmd, err);
            valid_file(out);
            free(err);
            free(cmd);
            free(extra);
            free(out);
        }
    for (int e = 0; e < 3; e++) {
        char *out = tu_strf("%s/curves.%s", dir, exts[e]);
        char *cmd = tu_strf("'%s' plot curves '%s/tests/plot/train_log.csv' -o '%s'",
                            tu_rnnc_bin(), root, out);
        assert_int_equal(tu_run(cmd, NULL, NULL), 0);
        valid_file(out);
        free(cmd);
        free(out);
    }
    free(common);
    tu_rmdir(dir);
}

static void test_cli_errors(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    static const struct {
        const char *args, *msg;
        int rc;
    } cases[] = {
        {"plot bars SPEC -o OUT.svg", "no such figure", 2},
        {"plot gates SPEC", "needs -o", 2},
        {"plot gates SPEC -o OUT.jpg", "extension", 2},
        {"plot gates -o OUT.svg", "needs a SPEC", 2},
        {"plot gates SPEC --seq x -o OUT.svg", "--seq takes", 2},
        {"plot curves -o OUT.svg", "needs a log", 2},
        {"plot gates SPEC --units 3-1 -o OUT.svg", "--units", 1},
        {"plot gates SPEC --layer 9 -o OUT.svg", "--layer 9", 1},
        {"plot gates SPEC --input SPEC -o OUT.svg", "", 1},
        {"plot gradients BI -o OUT.svg", "bidirectional", 1},
        {"plot gradients BI --compare -o OUT.svg", "bidirectional", 1},
        {"plot curves SPEC --log SPEC -o OUT.svg", "the header", 1},
        {"report SPEC -o OUT.svg", "HTML", 2},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        char *args = strdup(cases[k].args), *cmd = tu_strf("'%s'", tu_rnnc_bin());
        for (char *w = strtok(args, " "); w; w = strtok(NULL, " ")) {
            char *next;
            if (!strcmp(w, "SPEC"))
                next = tu_strf("%s '%s/specs/seq_classifier.yaml'", cmd, root);
            else if (!strcmp(w, "BI"))
                next = tu_strf("%s '%s/specs/tagger.yaml'", cmd, root);
            else if (!strncmp(w, "OUT.", 4))
                next = tu_strf("%s '%s/%s'", cmd, dir, w);
            else
                next = tu_strf("%s %s", cmd, w);
            free(cmd);
            cmd = next;
        }
        char *err = NULL;
        int rc = tu_run(cmd, NULL, &err);
        if (rc != cases[k].rc || !strstr(err, cases[k].msg))
            fail_msg("%s: exit %d, want %d; stderr: %s", cmd, rc, cases[k].rc, err);
        int n;
        char **left = tu_list_dir(dir, ".svg", &n);
        if (n != 0)
            fail_msg("%s left %s behind", cmd, left[0]);
        tu_free_list(left, n);
        free(err);
        free(cmd);
        free(args);
    }
    tu_rmdir(dir);
}

/* The first chromium of Debian's names on PATH, or NULL. */
static const char *chromium(void)
{
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    for (int k = 0; k < 3; k++)
        if (have(names[k]))
            return names[k];
    return NULL;
}

static void test_report_html(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp(), *html = tu_strf("%s/report.html", dir);
    char *cmd = tu_strf("'%s' report '%s/specs/seq_classifier.yaml' --weights "
                        "'%s/examples/seq_classifier/weights.safetensors' --input "
                        "'%s/examples/seq_classifier/x.npy' -o '%s'",
                        tu_rnnc_bin(), root, root, root, html);
    char *err = NULL;
    if (tu_run(cmd, NULL, &err) != 0)
        fail_msg("%s: %s", cmd, err);
    size_t n;
    char *page = tu_read_file(html, &n);
    int svgs = 0;
    for (char *p = page; (p = strstr(p, "<svg")) != NULL; p++)
        svgs++;
    assert_int_equal(svgs, 7); /* arch, cell, unrolled, params, gates, state, gradients */
    /* self-contained: nothing to fetch (the SVG namespace is a name, not a fetch) */
    assert_null(strstr(page, "<script"));
    assert_null(strstr(page, "<link"));
    assert_null(strstr(page, "src=\"http"));
    assert_null(strstr(page, "href=\"http"));
    assert_non_null(strstr(page, "id=\"f7-"));
    free(page);
    const char *chrome = chromium();
    if (!chrome) {
        fprintf(stderr, "SKIP report.html in a browser: no chromium on PATH "
                        "(tools/setup.sh installs Debian's chromium)\n");
    } else {
        /* Headless chromium once hung in CI past its 120 s timeout (exit 124), where it takes
         * about 3 s (4-5 s with both cores busy): a timeout is retried with a fresh profile, at
         * most three attempts of 60 s. Any other failure, or three timeouts, fails the test
         * with the tail of chromium's log. */
        char *png = tu_strf("%s/shot.png", dir), *log = NULL;
        int rc = -1;
        for (int attempt = 1; attempt <= 3; attempt++) {
            free(log);
            log = tu_strf("%s/chromium%d.log", dir, attempt);
            char *shot =
                tu_strf("cd '%s' && timeout -k 10 60 %s --headless --no-sandbox --disable-gpu "
                        "--disable-quic --no-first-run --disable-background-networking "
                        "--disable-component-update --disable-sync "
                        "--user-data-dir='%s/profile%d' --hide-scrollbars "
                        "--window-size=900,2400 --screenshot='%s' 'file://%s' >'%s' 2>&1",
                        dir, chrome, dir, attempt, png, html, log);
            rc = tu_run(shot, NULL, NULL);
            free(shot);
            if (rc != 124 && rc != 137)
                break;
            fprintf(stderr, "chromium --screenshot timed out (attempt %d of 3)\n", attempt);
        }
        if (rc != 0) {
            char *tail = tu_strf("tail -n 20 '%s'", log), *text = NULL;
            tu_run(tail, &text, NULL);
            fail_msg("chromium --screenshot: exit %d; its log ends:\n%s", rc, text ? text : "");
        }
        free(log);
        int w, h;
        double share = ink(png, &w, &h);
        fprintf(stderr, "chromium screenshot %dx%d, %.3f of it not white\n", w, h, share);
        assert_true(w >= 900 && h >= 2400);
        assert_true(share > 0.05);
        free(png);
    }
    free(err);
    free(cmd);
    free(html);
    tu_rmdir(dir);
}

/* `plot KIND FILE` in the REPL, and the figure redrawn after `set`. */
static void test_repl_plot(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    char *script = tu_strf("%s/s.rnnc", dir),
         *text = tu_strf(
             "load %s/specs/seq_classifier.yaml\nx = sine 30\nplot gates g.svg\nplot state s.png\n"
             "set layers[0].hidden_size 8\nplot bogus\n",
             root);
    assert_int_equal(tu_write_file(script, text), 0);
    char *cmd = tu_strf("cd '%s' && '%s' repl < s.rnnc", dir, tu_rnnc_bin()), *out = NULL,
         *err = NULL;
    assert_int_equal(tu_run(cmd, &out, &err), 1); /* `plot bogus` failed */
    assert_non_null(strstr(out, "wrote g.svg"));
    assert_non_null(strstr(out, "wrote s.png"));
    assert_non_null(strstr(out, "redrew s.png"));
    assert_non_null(strstr(err, "no such figure"));
    char *g = tu_strf("%s/g.svg", dir), *s = tu_strf("%s/s.png", dir);
    valid_file(g);
    valid_file(s);
    free(g);
    free(s);
    free(out);
    free(err);
    free(cmd);
    free(text);
    free(script);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_fixtures),  cmocka_unit_test(test_grad_fixtures),
        cmocka_unit_test(test_params_formulas), cmocka_unit_test(test_log_reader),
        cmocka_unit_test(test_cli_files),       cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_report_html),     cmocka_unit_test(test_repl_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
