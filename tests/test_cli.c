/* test_cli.c — the 'cli' suite: runs the built rnnc binary as a user does (usage, check,
 * SPEC -o, run) and checks exit statuses, stdout/stderr and the files left behind. The bad
 * inputs (.npy and safetensors files, specs) are written from C here, so no python is
 * needed; most cases use one fixture (FIX) whose tensors are listed in fix_tensors.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* LSTM, 2 layers, I=3, H=6, head Linear(6, 4) on the last step; x is (B=4, T=8, 3). */
#define FIX "lstm_l2_len_head_last_softmax"

typedef struct Tensor {
    const char *name;
    int ndim;
    long shape[2];
} Tensor;

static const Tensor fix_tensors[] = {
    {"rnn.weight_ih_l0", 2, {24, 3}}, {"rnn.weight_hh_l0", 2, {24, 6}},
    {"rnn.bias_ih_l0", 1, {24, 0}},   {"rnn.bias_hh_l0", 1, {24, 0}},
    {"rnn.weight_ih_l1", 2, {24, 6}}, {"rnn.weight_hh_l1", 2, {24, 6}},
    {"rnn.bias_ih_l1", 1, {24, 0}},   {"rnn.bias_hh_l1", 1, {24, 0}},
    {"head.weight", 2, {4, 6}},       {"head.bias", 1, {4, 0}},
};
#define NFIX ((int)(sizeof fix_tensors / sizeof fix_tensors[0]))

typedef struct Ctx {
    char *dir;       /* fresh per test: crafted inputs */
    char *outdir;    /* dir/out: outputs go here; it must stay empty when a command fails */
    char *out, *err; /* captured from the last command */
    int rc;          /* its exit status */
    const void *arg; /* the test's initial state (a Usage row), if any */
    char *keep[64];  /* strings from S(), freed at teardown */
    int nkeep;
} Ctx;

/* ---- helpers ------------------------------------------------------------------------ */

/* printf into a string that lives until the end of the test. */
static const char *S(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *S(Ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    assert_true(c->nkeep < (int)(sizeof c->keep / sizeof c->keep[0]));
    c->keep[c->nkeep++] = s;
    return s;
}

static const char *fx(Ctx *c, const char *cfg, const char *file)
{
    return S(c, "%s/tests/fixtures/%s/%s", tu_src_root(), cfg, file);
}

/* Runs `rnnc ARGS` (ARGS printf-style, already shell-quoted); sets c->rc, c->out, c->err. */
static int cli(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cli(Ctx *c, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof args);
    char *cmd = tu_strf("'%s' %s", tu_rnnc_bin(), args);
    free(c->out);
    free(c->err);
    c->rc = tu_run(cmd, &c->out, &c->err);
    free(cmd);
    assert_non_null(c->out);
    assert_non_null(c->err);
    return c->rc;
}

/* `run` on FIX's spec with weights w and input x (NULL: the fixture's) and lengths len
 * (NULL: none); the caller appends the outputs. */
static const char *run_args(Ctx *c, const char *w, const char *x, const char *len)
{
    return S(c, "run '%s' --weights '%s' --input '%s'%s%s%s", fx(c, FIX, "spec.yaml"),
             w ? w : fx(c, FIX, "weights.safetensors"), x ? x : fx(c, FIX, "x.npy"),
             len ? " --lengths '" : "", len ? len : "", len ? "'" : "");
}

/* As run_args, with --output OUTDIR/y.npy and --h-n OUTDIR/h_n.npy. */
static int run_fix(Ctx *c, const char *w, const char *x, const char *len)
{
    return cli(c, "%s --output '%s/y.npy' --h-n '%s/h_n.npy'", run_args(c, w, x, len), c->outdir,
               c->outdir);
}

static void has(const char *text, const char *needle, const char *what)
{
    if (!strstr(text, needle))
        fail_msg("%s does not contain \"%s\"; it is:\n%s", what, needle, text);
}

/* `text` names the shape `dims` ("24, 5"), as safetensors or numpy spell it. */
static void has_shape(const char *text, const char *dims)
{
    char sq[64], np[64];
    snprintf(sq, sizeof sq, "[%s]", dims);
    snprintf(np, sizeof np, strchr(dims, ',') ? "(%s)" : "(%s,)", dims);
    if (!strstr(text, sq) && !strstr(text, np))
        fail_msg("stderr does not name the shape %s or %s; it is:\n%s", sq, np, text);
}

/* A diagnostic is shown once, not repeated. */
static void has_once(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (!p || strstr(p + 1, needle))
        fail_msg("stderr should contain \"%s\" exactly once; it is:\n%s", needle, text);
}

static void expect_rc(const Ctx *c, int rc)
{
    if (c->rc != rc)
        fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", c->rc, rc, c->out,
                 c->err);
}

static void expect_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return; /* absent is as empty as it gets */
    char left[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) && !left[0])
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            snprintf(left, sizeof left, "%s", e->d_name);
    closedir(d);
    if (left[0])
        fail_msg("'%s' was left behind in %s", left, dir);
}

static void expect_absent(const char *path)
{
    if (tu_exists(path))
        fail_msg("%s exists, but nothing should have been written", path);
}

/* Usage error: exit 2, usage on stderr, nothing written. */
static void expect_usage_error(const Ctx *c, const char *needle)
{
    expect_rc(c, 2);
    has(c->err, "usage", "stderr");
    if (needle)
        has(c->err, needle, "stderr");
    expect_empty_dir(c->outdir);
}

/* Bad input: exit 1, stderr contains each needle (NULL-terminated), OUTDIR left empty. */
static void expect_bad_input(const Ctx *c, ...)
{
    expect_rc(c, 1);
    va_list ap;
    va_start(ap, c);
    for (const char *s; (s = va_arg(ap, const char *));)
        has(c->err, s, "stderr");
    va_end(ap);
    expect_empty_dir(c->outdir);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* A version 1.0 .npy with the given descr ('<f4'...) and shape text ('(4, 8, 3)'); its
 * data is `data` (n bytes) or, when data is NULL, n zero bytes. */
static void write_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t n)
{
    char h[256];
    int len = snprintf(h + 10, sizeof h - 10,
                       "{'descr': '%s', 'fortran_order': False, "
                       "'shape': %s, }",
                       descr, shape);
    size_t total = 10 + (size_t)len + 1;
    total += (64 - total % 64) % 64;
    assert_true(total <= sizeof h);
    memset(h + 10 + len, ' ', total - 10 - (size_t)len);
    h[total - 1] = '\n';
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)((total - 10) & 0xff);
    h[9] = (char)((total - 10) >> 8);
    char *buf = calloc(total + n + 1, 1);
    assert_non_null(buf);
    memcpy(buf, h, total);
    if (data)
        memcpy(buf + total, data, n);
    write_bytes(path, buf, total + n);
    free(buf);
}

/* A safetensors file holding the n tensors, F32, all zeros. */
static void write_st(const char *path, const Tensor *t, int n)
{
    char h[4096];
    size_t len = (size_t)snprintf(h, sizeof h, "{\"__metadata__\":{\"format\":\"pt\"}");
    long off = 0;
    for (int i = 0; i < n; i++) {
        long bytes = 4 * t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
        char dims[64];
        if (t[i].ndim == 2)
            snprintf(dims, sizeof dims, "%ld,%ld", t[i].shape[0], t[i].shape[1]);
        else
            snprintf(dims, sizeof dims, "%ld", t[i].shape[0]);
        len += (size_t)snprintf(h + len, sizeof h - len,
                                ",\"%s\":{\"dtype\":\"F32\","
                                "\"shape\":[%s],\"data_offsets\":[%ld,%ld]}",
                                t[i].name, dims, off, off + bytes);
        off += bytes;
        assert_true(len < sizeof h - 16);
    }
    h[len++] = '}';
    while ((8 + len) % 8)
        h[len++] = ' ';
    unsigned char *buf = calloc(8 + len + (size_t)off, 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((unsigned long long)len >> (8 * i));
    memcpy(buf + 8, h, len);
    write_bytes(path, buf, 8 + len + (size_t)off);
    free(buf);
}

/* `path` is a little-endian float32 .npy of shape `shape` (as numpy spells it), exactly
 * as long as its header and numel values make it. */
static void expect_npy(const char *path, const char *shape, long numel)
{
    size_t n;
    char *b = tu_read_file(path, &n);
    if (!b)
        fail_msg("%s was not written", path);
    if (n < 10 || memcmp(b, "\x93NUMPY\x01\x00", 8) != 0) {
        free(b);
        fail_msg("%s does not start with the .npy 1.0 magic", path);
    }
    size_t hlen = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
    size_t have = hlen < n - 10 ? hlen : n - 10;
    char *hdr = tu_strf("%.*s", (int)have, b + 10);
    char *want = tu_strf("'shape': %s", shape);
    int ok = have == hlen && hlen > 0 && hdr[hlen - 1] == '\n' && strstr(hdr, want) &&
             strstr(hdr, "'descr': '<f4'") && n == 10 + hlen + (size_t)numel * 4;
    if (!ok)
        fprintf(stderr, "%s: %zu bytes, header: %s\n", path, n, hdr);
    free(b);
    free(hdr);
    free(want);
    if (!ok)
        fail_msg("%s is not a float32 .npy of shape %s (%ld values)", path, shape, numel);
}

static int setup(void **state)
{
    Ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->arg = *state;
    c->dir = tu_mkdtemp();
    c->outdir = tu_strf("%s/out", c->dir);
    assert_int_equal(mkdir(c->outdir, 0755), 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Ctx *c = *state;
    tu_rmdir(c->dir);
    free(c->outdir);
    free(c->out);
    free(c->err);
    for (int i = 0; i < c->nkeep; i++)
        free(c->keep[i]);
    free(c);
    return 0;
}

/* ---- usage: one table row each --------------------------------------------------- */

typedef struct Usage {
    const char *args; /* @S, @W, @X: FIX's spec, weights and input; @O: OUTDIR */
    int rc;
    const char *needle; /* on stdout when rc is 0; else on stderr, beside "usage" */
} Usage;

/* The row's arguments with the @ names replaced by quoted paths. */
static const char *expand(Ctx *c, const char *t)
{
    char buf[4096];
    size_t n = 0;
    for (; *t && n < sizeof buf - 1; t++) {
        const char *rep = t[0] != '@'   ? NULL
                          : t[1] == 'S' ? fx(c, FIX, "spec.yaml")
                          : t[1] == 'W' ? fx(c, FIX, "weights.safetensors")
                          : t[1] == 'X' ? fx(c, FIX, "x.npy")
                          : t[1] == 'O' ? c->outdir
                                        : NULL;
        if (rep) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "'%s'", rep);
            t++;
        } else {
            buf[n++] = *t;
        }
    }
    assert_true(n < sizeof buf - 1);
    buf[n] = '\0';
    return S(c, "%s", buf);
}

static void usage_test(void **state)
{
    Ctx *c = *state;
    const Usage *u = c->arg;
    cli(c, "%s", expand(c, u->args));
    if (u->rc == 2) {
        expect_usage_error(c, u->needle);
        return;
    }
    expect_rc(c, u->rc);
    has(c->out, u->needle, "stdout");
}

/* ---- check -------------------------------------------------------------------------- */

static void check_good_spec(void **s)
{
    Ctx *c = *s;
    cli(c, "check '%s'", fx(c, FIX, "spec.yaml"));
    expect_rc(c, 0);
    has(c->out, "block rnn", "stdout");
    has(c->out, "lstm", "stdout");
    has(c->out, "FLOPs", "stdout");
    /* PyTorch's LSTM count, 4H(I + H + 2) per layer: 4*6*(3+6+2) + 4*6*(6+6+2) = 600. */
    const char *line = strstr(c->out, "parameters");
    assert_non_null(line);
    char *l = tu_strf("%.*s", (int)strcspn(line, "\n"), line);
    int ok = strstr(l, " 600 ") != NULL;
    free(l);
    if (!ok)
        fail_msg("the block's parameter line does not say 600:\n%s", c->out);
}

static const char bad_spec[] =
    "name: bad\ninput_size: 3\nlayers:\n  - name: rnn\n    cell: lsmt\n    hidden_size: 6\n";

static void check_bad_spec(void **s)
{
    Ctx *c = *s;
    const char *spec = S(c, "%s/bad.yaml", c->dir);
    assert_int_equal(tu_write_file(spec, bad_spec), 0);
    cli(c, "check '%s'", spec);
    expect_bad_input(c, S(c, "%s:5:11:", spec), "lsmt", NULL);
    has_once(c->err, "lsmt'");
}

/* ---- SPEC -o OUT.c ------------------------------------------------------------------ */

static void emit_writes_c_and_header(void **s)
{
    Ctx *c = *s;
    const char *oc = S(c, "%s/model.c", c->outdir), *oh = S(c, "%s/model.h", c->outdir);
    cli(c, "'%s' -o '%s'", fx(c, FIX, "spec.yaml"), oc);
    expect_rc(c, 0);
    assert_true(tu_exists(oh));
    char *body = tu_read_file(oc, NULL);
    assert_non_null(body);
    int ok = strstr(body, "#include \"model.h\"") != NULL;
    free(body);
    if (!ok)
        fail_msg("%s does not include \"model.h\"", oc);
}

static void emit_is_deterministic(void **s)
{
    Ctx *c = *s;
    const char *oc = S(c, "%s/model.c", c->outdir), *oh = S(c, "%s/model.h", c->outdir);
    char *first[2], *second[2];
    size_t n1[2], n2[2];
    for (int round = 0; round < 2; round++) {
        cli(c, "'%s' -o '%s'", fx(c, FIX, "spec.yaml"), oc);
        expect_rc(c, 0);
        char **dst = round ? second : first;
        size_t *n = round ? n2 : n1;
        dst[0] = tu_read_file(oc, &n[0]);
        dst[1] = tu_read_file(oh, &n[1]);
    }
    int same = 1;
    for (int k = 0; k < 2; k++) {
        same &= first[k] && second[k] && n1[k] == n2[k] && !memcmp(first[k], second[k], n1[k]);
        free(first[k]);
        free(second[k]);
    }
    if (!same)
        fail_msg("two runs of rnnc -o gave different files");
}

static void emit_into_missing_directory(void **s)
{
    Ctx *c = *s;
    const char *dir = S(c, "%s/nope", c->outdir);
    cli(c, "'%s' -o '%s/model.c'", fx(c, FIX, "spec.yaml"), dir);
    expect_bad_input(c, dir, NULL);
    expect_absent(dir);
}

static void emit_bad_spec(void **s)
{
    Ctx *c = *s;
    const char *spec = S(c, "%s/bad.yaml", c->dir);
    assert_int_equal(tu_write_file(spec, bad_spec), 0);
    cli(c, "'%s' -o '%s/model.c'", spec, c->outdir);
    expect_bad_input(c, S(c, "%s:5:11:", spec), NULL);
    has_once(c->err, "lsmt'");
    expect_absent(S(c, "%s/model.c", c->outdir));
    expect_absent(S(c, "%s/model.h", c->outdir));
}

/* ---- run: success ------------------------------------------------------------------- */

static void run_writes_outputs(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --output '%s/y.npy' --h-n '%s/h_n.npy' --c-n '%s/c_n.npy'",
        run_args(c, NULL, NULL, fx(c, FIX, "lengths.npy")), c->outdir, c->outdir, c->outdir);
    expect_rc(c, 0);
    expect_npy(S(c, "%s/y.npy", c->outdir), "(4, 4)", 16);
    expect_npy(S(c, "%s/h_n.npy", c->outdir), "(2, 4, 6)", 48);
    expect_npy(S(c, "%s/c_n.npy", c->outdir), "(2, 4, 6)", 48);
}

/* The crafted weights (zeros) are accepted: the bad-weights cases below fail for the
 * defect each one has, not because write_st is wrong. */
static void run_crafted_weights(void **s)
{
    Ctx *c = *s;
    const char *w = S(c, "%s/w.safetensors", c->dir);
    write_st(w, fix_tensors, NFIX);
    run_fix(c, w, NULL, NULL);
    expect_rc(c, 0);
    expect_npy(S(c, "%s/y.npy", c->outdir), "(4, 4)", 16);
}

static void run_print(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --output '%s/y.npy' --print", run_args(c, NULL, NULL, NULL), c->outdir);
    expect_rc(c, 0);
    has(c->out, "output (4, 4)", "stdout");
}

static void run_print_without_output(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --print", run_args(c, NULL, NULL, NULL));
    expect_rc(c, 0);
    has(c->out, "output (4, 4)", "stdout");
    expect_empty_dir(c->outdir);
}

/* ---- run: bad inputs ---------------------------------------------------------------- */

static void run_bad_spec(void **s)
{
    Ctx *c = *s;
    const char *spec = S(c, "%s/bad.yaml", c->dir);
    assert_int_equal(tu_write_file(spec, bad_spec), 0);
    cli(c, "run '%s' --weights '%s' --input '%s' --output '%s/y.npy'", spec,
        fx(c, FIX, "weights.safetensors"), fx(c, FIX, "x.npy"), c->outdir);
    expect_bad_input(c, S(c, "%s:5:11:", spec), NULL);
    has_once(c->err, "lsmt'");
}

static void run_weights_missing_file(void **s)
{
    Ctx *c = *s;
    const char *w = S(c, "%s/none.safetensors", c->dir);
    run_fix(c, w, NULL, NULL);
    expect_bad_input(c, w, "cannot open", NULL);
}

static void run_weights_not_safetensors(void **s)
{
    Ctx *c = *s;
    run_fix(c, fx(c, FIX, "x.npy"), NULL, NULL);
    expect_bad_input(c, "x.npy", "not a safetensors file", NULL);
}

static void run_weights_truncated(void **s)
{
    Ctx *c = *s;
    size_t n;
    char *all = tu_read_file(fx(c, FIX, "weights.safetensors"), &n);
    assert_non_null(all);
    const char *w = S(c, "%s/cut.safetensors", c->dir);
    write_bytes(w, all, n - 100);
    free(all);
    run_fix(c, w, NULL, NULL);
    expect_bad_input(c, w, NULL);
}

static void run_weights_missing_tensor(void **s)
{
    Ctx *c = *s;
    const char *w = S(c, "%s/w.safetensors", c->dir);
    write_st(w, fix_tensors, NFIX - 1); /* without head.bias */
    run_fix(c, w, NULL, NULL);
    expect_bad_input(c, "head.bias", "missing", NULL);
    has_shape(c->err, "4");
}

static void run_weights_misshaped_tensor(void **s)
{
    Ctx *c = *s;
    Tensor t[NFIX];
    memcpy(t, fix_tensors, sizeof t);
    t[1].shape[1] = 5; /* rnn.weight_hh_l0: [24, 5] for [24, 6] */
    const char *w = S(c, "%s/w.safetensors", c->dir);
    write_st(w, t, NFIX);
    run_fix(c, w, NULL, NULL);
    expect_bad_input(c, "rnn.weight_hh_l0", NULL);
    has_shape(c->err, "24, 5");
    has_shape(c->err, "24, 6");
}

static void run_weights_extra_tensor(void **s)
{
    Ctx *c = *s;
    Tensor t[NFIX + 1];
    memcpy(t, fix_tensors, sizeof fix_tensors);
    t[NFIX] = (Tensor){"rnn.weight_ih_l2", 2, {24, 6}};
    const char *w = S(c, "%s/w.safetensors", c->dir);
    write_st(w, t, NFIX + 1);
    run_fix(c, w, NULL, NULL);
    expect_bad_input(c, "rnn.weight_ih_l2", "unexpected", NULL);
}

static void run_input_wrong_features(void **s)
{
    Ctx *c = *s;
    const char *x = S(c, "%s/x.npy", c->dir);
    write_npy(x, "<f4", "(4, 8, 5)", NULL, 4 * 8 * 5 * 4);
    run_fix(c, NULL, x, NULL);
    expect_bad_input(c, x, "(4, 8, 5)", "I = 3", NULL);
}

static void run_input_ndim_2(void **s)
{
    Ctx *c = *s;
    const char *x = S(c, "%s/x.npy", c->dir);
    write_npy(x, "<f4", "(8, 3)", NULL, 8 * 3 * 4);
    run_fix(c, NULL, x, NULL);
    expect_bad_input(c, x, "(8, 3)", "(B, T, I)", NULL);
}

static void run_input_int_dtype(void **s)
{
    Ctx *c = *s;
    const char *x = S(c, "%s/x.npy", c->dir);
    write_npy(x, "<i4", "(4, 8, 3)", NULL, 4 * 8 * 3 * 4);
    run_fix(c, NULL, x, NULL);
    expect_bad_input(c, x, "int32", "float32", NULL);
}

static void run_lengths_wrong_count(void **s)
{
    Ctx *c = *s;
    const long long v[3] = {8, 8, 8};
    const char *l = S(c, "%s/len.npy", c->dir);
    write_npy(l, "<i8", "(3,)", v, sizeof v);
    run_fix(c, NULL, NULL, l);
    expect_bad_input(c, l, "(3,)", "(4,)", NULL);
}

static void run_lengths_out_of_range(void **s)
{
    Ctx *c = *s;
    const long long v[4] = {8, 0, 3, 9};
    const char *l = S(c, "%s/len.npy", c->dir);
    write_npy(l, "<i8", "(4,)", v, sizeof v);
    run_fix(c, NULL, NULL, l);
    expect_bad_input(c, l, "length 0 ", "length 9 ", "1..8", NULL);
}

static void run_lengths_float(void **s)
{
    Ctx *c = *s;
    const float v[4] = {8, 8, 8, 8};
    const char *l = S(c, "%s/len.npy", c->dir);
    write_npy(l, "<f4", "(4,)", v, sizeof v);
    run_fix(c, NULL, NULL, l);
    expect_bad_input(c, l, "float32", "int32 or int64", NULL);
}

static void run_c_n_on_gru(void **s)
{
    Ctx *c = *s;
    cli(c, "run '%s' --weights '%s' --input '%s' --output '%s/y.npy' --c-n '%s/c_n.npy'",
        fx(c, "gru_l1", "spec.yaml"), fx(c, "gru_l1", "weights.safetensors"),
        fx(c, "gru_l1", "x.npy"), c->outdir, c->outdir);
    expect_bad_input(c, "--c-n", "gru", NULL);
}

/* --output into a missing directory: it fails first, nothing else is written. */
static void run_output_dir_missing(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --output '%s/nope/y.npy' --h-n '%s/h_n.npy'", run_args(c, NULL, NULL, NULL),
        c->outdir, c->outdir);
    expect_bad_input(c, "nope/y.npy", NULL);
}

/* --h-n into a missing directory: --output was written first and must be removed. */
static void run_h_n_dir_missing(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --output '%s/y.npy' --h-n '%s/nope/h_n.npy'", run_args(c, NULL, NULL, NULL),
        c->outdir, c->outdir);
    expect_bad_input(c, "nope/h_n.npy", NULL);
}

/* rnnc import: an exported model becomes a spec and weights that rnnc runs; a missing model is
 * bad input with nothing written. */
static void import_then_run(void **s)
{
    Ctx *c = *s;
    const char *dir = S(c, "%s/tests/onnx_fixtures", tu_src_root());
    cli(c,
        "import '%s/lstm_seq_op13/model.onnx' -o '%s/m.yaml' --weights-out "
        "'%s/w.safetensors'",
        dir, c->outdir, c->outdir);
    expect_rc(c, 0);
    cli(c, "check '%s/m.yaml'", c->outdir);
    expect_rc(c, 0);
    has(c->out, "block", "stdout");
    cli(c, "import '%s/no_such.onnx' -o '%s/n.yaml' --weights-out '%s/n.safetensors'", dir,
        c->outdir, c->outdir);
    expect_rc(c, 1);
    expect_absent(S(c, "%s/n.yaml", c->outdir));
    expect_absent(S(c, "%s/n.safetensors", c->outdir));
}

/* --c-n into a missing directory: both earlier outputs must be removed. */
static void run_c_n_dir_missing(void **s)
{
    Ctx *c = *s;
    cli(c, "%s --output '%s/y.npy' --h-n '%s/h_n.npy' --c-n '%s/nope/c_n.npy'",
        run_args(c, NULL, NULL, NULL), c->outdir, c->outdir, c->outdir);
    expect_bad_input(c, "nope/c_n.npy", NULL);
}

#define USAGE(name, args, rc, needle)                                                             \
    {                                                                                             \
#name, usage_test, setup, teardown, &(Usage)                                              \
        {                                                                                         \
            args, rc, needle                                                                      \
        }                                                                                         \
    }
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* An output that is not a regular file (a fifo here; /dev/stdout or /dev/null for users) is
 * written in place: the atomic rename must not replace the node itself. */
static void run_output_to_fifo(void **state)
{
    (void)state;
    const char *root = tu_src_root();
    char *dir = tu_mkdtemp();
    char *f = tu_strf("%s/tests/fixtures/lstm_l1", root);
    char *cmd = tu_strf("cd '%s' && mkfifo y.fifo && { cat y.fifo > got.npy & '%s' run "
                        "'%s/spec.yaml' --weights '%s/weights.safetensors' --input '%s/x.npy' "
                        "--output y.fifo; rc=$?; wait; [ $rc = 0 ] && [ -p y.fifo ] && "
                        "head -c 6 got.npy | grep -q NUMPY; }",
                        dir, tu_rnnc_bin(), f, f, f);
    char *err = NULL;
    if (tu_run(cmd, NULL, &err) != 0)
        fail_msg("writing to a fifo: %s", err ? err : "");
    free(err);
    free(cmd);
    free(f);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        USAGE(help_main, "--help", 0, "usage"),
        USAGE(help_main_short, "-h", 0, "usage"),
        USAGE(help_check, "check --help", 0, "usage: rnnc check"),
        USAGE(help_check_short, "check -h", 0, "usage: rnnc check"),
        USAGE(help_run, "run --help", 0, "usage: rnnc run"),
        USAGE(help_run_short, "run -h", 0, "usage: rnnc run"),
        USAGE(help_emit, "@S --help", 0, "usage: rnnc SPEC -o"),
        USAGE(help_emit_short, "@S -h", 0, "usage: rnnc SPEC -o"),
        USAGE(version, "--version", 0, "rnnc 0."),
        USAGE(help_word, "help", 0, "usage: rnnc SPEC -o"),
        USAGE(help_import, "help import", 0, "usage: rnnc import"),
        USAGE(import_without_out, "import model.onnx --weights-out @O/w.safetensors", 2, "-o"),
        USAGE(import_without_weights, "import model.onnx -o @O/m.yaml", 2, "--weights-out"),
        USAGE(help_word_run, "help run", 0, "usage: rnnc run"),
        USAGE(unknown_command, "frobnicate", 2, "unknown command 'frobnicate'"),
        USAGE(unknown_command_near, "chek @S", 2, "did you mean 'check'"),
        USAGE(emit_o_header, "@S -o @O/m.h", 2, "OUT.c"),
        USAGE(emit_o_no_extension, "@S -o @O/m", 2, "OUT.c"),
        USAGE(no_arguments, "", 2, "usage"),
        USAGE(unknown_option_main, "--frobnicate", 2, "--frobnicate"),
        USAGE(unknown_option_check, "check @S --frobnicate", 2, "--frobnicate"),
        USAGE(unknown_option_run, "run @S --weights @W --input @X --output @O/y.npy --frobnicate",
              2, "--frobnicate"),
        USAGE(unknown_option_emit, "@S -o @O/model.c --frobnicate", 2, "--frobnicate"),
        USAGE(missing_value_run, "run @S --input @X --output @O/y.npy --weights", 2, "--weights"),
        USAGE(missing_value_emit, "@S -o", 2, "-o"),
        USAGE(run_without_weights, "run @S --input @X --output @O/y.npy", 2, "--weights"),
        USAGE(run_threads_zero, "run @S --weights @W --input @X --output @O/y.npy --threads 0", 2,
              "--threads takes a whole number from 1 to 256, not '0'"),
        USAGE(run_without_input, "run @S --weights @W --output @O/y.npy", 2, "--input"),
        USAGE(run_without_output, "run @S --weights @W --input @X --h-n @O/h_n.npy", 2,
              "--output"),
        USAGE(extra_argument_check, "check @S extra.yaml", 2, "extra.yaml"),
        USAGE(extra_argument_run, "run @S extra.yaml --weights @W --input @X --output @O/y.npy", 2,
              "extra.yaml"),
        USAGE(extra_argument_emit, "@S extra.yaml -o @O/model.c", 2, "extra.yaml"),
        T(check_good_spec),
        T(check_bad_spec),
        T(emit_writes_c_and_header),
        T(emit_is_deterministic),
        T(emit_into_missing_directory),
        T(emit_bad_spec),
        T(run_writes_outputs),
        T(run_crafted_weights),
        T(run_print),
        T(run_print_without_output),
        cmocka_unit_test(run_output_to_fifo),
        T(import_then_run),
        T(run_bad_spec),
        T(run_weights_missing_file),
        T(run_weights_not_safetensors),
        T(run_weights_truncated),
        T(run_weights_missing_tensor),
        T(run_weights_misshaped_tensor),
        T(run_weights_extra_tensor),
        T(run_input_wrong_features),
        T(run_input_ndim_2),
        T(run_input_int_dtype),
        T(run_lengths_wrong_count),
        T(run_lengths_out_of_range),
        T(run_lengths_float),
        T(run_c_n_on_gru),
        T(run_output_dir_missing),
        T(run_h_n_dir_missing),
        T(run_c_n_dir_missing),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
