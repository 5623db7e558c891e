/* test_pt.c — cmocka unit tests of librnnrt's PyTorch .pt reading and writing (pt.c,
 * pickle.c): the fixtures of tools/gen_pt_fixtures.py against their expected values bit for
 * bit; refused files (whole models, legacy format, malicious pickles); hostile archives made
 * here (truncated, corrupted, lying sizes, crafted pickles); write/read round trips and the
 * committed file written by rnnrt_pt_write. Scratch files live in a mkdtemp directory.
 */
#define _XOPEN_SOURCE 700

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "pt.h"
#include "rnnrt.h"

static char g_dir[64];
static char g_fix[4096];

static const char *const readable[] = {"lstm_f32",     "lstm_f64", "lstm_f16",
                                       "lstm_bf16",    "views",    "nested",
                                       "dataparallel", "proto4",   "params"};
#define NREADABLE (sizeof readable / sizeof readable[0])

/* ---- helpers ---------------------------------------------------------------------------- */

static char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static char *fpath(char *buf, size_t cap, const char *name, const char *ext)
{
    snprintf(buf, cap, "%s/%s%s", g_fix, name, ext);
    return buf;
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static int count_dir_entries(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static size_t tensor_bytes(const RnnrtTensor *t)
{
    size_t n = (size_t)rnnrt_dtype_size(t->dtype);

    for (int d = 0; d < t->ndim; d++) {
        n *= (size_t)t->shape[d];
    }
    return n;
}

/* Same names in the same order, dtypes, shapes and bytes. */
static void assert_same(const RnnrtTensorFile *a, const RnnrtTensorFile *b, const char *what)
{
    if (a->n != b->n) {
        fail_msg("%s: %d tensors, expected %d", what, a->n, b->n);
    }
    for (int i = 0; i < a->n; i++) {
        const RnnrtTensor *x = &a->t[i], *y = &b->t[i];
        if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype || x->ndim != y->ndim) {
            fail_msg("%s: tensor %d is '%s' (dtype %d, ndim %d), expected '%s' (%d, %d)", what, i,
                     x->name, x->dtype, x->ndim, y->name, y->dtype, y->ndim);
        }
        for (int d = 0; d < x->ndim; d++) {
            if (x->shape[d] != y->shape[d]) {
                fail_msg("%s: '%s' dim %d is %ld, expected %ld", what, x->name, d, x->shape[d],
                         y->shape[d]);
            }
        }
        if (tensor_bytes(x) > 0 && memcmp(x->data, y->data, tensor_bytes(x)) != 0) {
            fail_msg("%s: '%s' differs in its values", what, x->name);
        }
    }
}

static void assert_msg(const RnnrtError *err, const char *fragment)
{
    if (!strstr(err->msg, fragment)) {
        fail_msg("message '%s' lacks '%s'", err->msg, fragment);
    }
}

/* rnnrt_pt_read(path) fails, leaves *out empty and says `fragment`. */
static void expect_refused(const char *path, const char *fragment)
{
    RnnrtTensorFile f;
    RnnrtError err;

    memset(&f, 0x55, sizeof f);
    assert_int_equal(rnnrt_pt_read(path, &f, &err), -1);
    assert_int_equal(f.n, 0);
    assert_null(f.t);
    assert_msg(&err, fragment);
}

static void expect_mem_refused(const void *buf, size_t n, const char *fragment)
{
    RnnrtTensorFile f;
    RnnrtError err;

    assert_int_equal(rnnrt_pt_read_mem(buf, n, "crafted.pt", &f, &err), -1);
    assert_int_equal(f.n, 0);
    assert_null(f.t);
    assert_msg(&err, fragment);
}

/* ---- the fixtures ----------------------------------------------------------------------- */

static void test_fixtures_match_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < NREADABLE; i++) {
        char pt[4200], st[4200];
        RnnrtTensorFile a, b, c;
        RnnrtError err;

        fpath(pt, sizeof pt, readable[i], ".pt");
        fpath(st, sizeof st, readable[i], ".expected.safetensors");
        if (rnnrt_pt_read(pt, &a, &err) != 0) {
            fail_msg("%s", err.msg);
        }
        assert_int_equal(rnnrt_st_read(st, &b, &err), 0);
        assert_same(&a, &b, readable[i]);
        /* the content dispatch picks the right reader for both */
        assert_int_equal(rnnrt_tensors_read(pt, &c, &err), 0);
        assert_same(&c, &b, pt);
        rnnrt_st_free(&c);
        assert_int_equal(rnnrt_tensors_read(st, &c, &err), 0);
        assert_same(&c, &b, st);
        rnnrt_st_free(&c);
        rnnrt_st_free(&a);
        rnnrt_st_free(&b);
    }
}

static void test_fixture_names_and_dtypes(void **state)
{
    char p[4200];
    RnnrtTensorFile f;
    RnnrtError err;

    (void)state;
    assert_int_equal(rnnrt_pt_read(fpath(p, sizeof p, "nested", ".pt"), &f, &err), 0);
    assert_non_null(rnnrt_st_find(&f, "encoder.rnn.weight_ih_l0"));
    assert_non_null(rnnrt_st_find(&f, "head.2.bias"));
    rnnrt_st_free(&f);
    assert_int_equal(rnnrt_pt_read(fpath(p, sizeof p, "dataparallel", ".pt"), &f, &err), 0);
    assert_string_equal(f.t[0].name, "module.rnn.weight_ih_l0");
    rnnrt_st_free(&f);
    assert_int_equal(rnnrt_pt_read(fpath(p, sizeof p, "lstm_f16", ".pt"), &f, &err), 0);
    assert_int_equal(f.t[0].dtype, RNNRT_F32);
    assert_int_equal(f.t[0].ndim, 2);
    assert_int_equal(f.t[0].shape[0], 16);
    assert_int_equal(f.t[0].shape[1], 3);
    rnnrt_st_free(&f);
    assert_int_equal(rnnrt_pt_read(fpath(p, sizeof p, "views", ".pt"), &f, &err), 0);
    const RnnrtTensor *t = rnnrt_st_find(&f, "transposed");
    assert_non_null(t);
    /* transposed = m.t(), m = (arange(24) * 0.5 - 3).view(4, 6): its (0, 1) is m's (1, 0) */
    assert_true(((float *)t->data)[1] == 6 * 0.5f - 3);
    assert_true(((float *)t->data)[4] == 1 * 0.5f - 3);
    t = rnnrt_st_find(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_true(((float *)t->data)[0] == -0.5f);
    assert_int_equal(rnnrt_st_find(&f, "int32")->dtype, RNNRT_I32);
    assert_int_equal(rnnrt_st_find(&f, "ints")->dtype, RNNRT_I64);
    rnnrt_st_free(&f);
}

static void test_refused_fixtures(void **state)
{
    char p[4200];

    (void)state;
    unlink("/tmp/rnnc-pt-pwned");
    expect_refused(fpath(p, sizeof p, "whole_module", ".pt"), "'__main__.Net'");
    expect_refused(p, "torch.save(model.state_dict(), path) instead");
    expect_refused(fpath(p, sizeof p, "whole_lstm", ".pt"), "'torch.nn.modules.rnn.LSTM'");
    expect_refused(p, "whole pickled model");
    expect_refused(fpath(p, sizeof p, "legacy", ".pt"), "legacy torch.save format");
    expect_refused(p, "_use_new_zipfile_serialization=True");
    expect_refused(fpath(p, sizeof p, "malicious_os_system", ".pt"), "'os.system'");
    expect_refused(p, "nothing in the file is run");
    /* protocol 2 spells builtins as Python 2's __builtin__ */
    expect_refused(fpath(p, sizeof p, "malicious_eval", ".pt"), "'__builtin__.eval'");
    assert_false(exists("/tmp/rnnc-pt-pwned"));

    /* through the format-neutral reader too */
    RnnrtTensorFile f;
    RnnrtError err;
    assert_int_equal(rnnrt_tensors_read(fpath(p, sizeof p, "legacy", ".pt"), &f, &err), -1);
    assert_msg(&err, "legacy torch.save format");
}

static void test_not_torch_files(void **state)
{
    static const unsigned char pickle[] = {0x80, 0x02, '}', '.'};
    char p[128];

    (void)state;
    write_bytes(tpath(p, sizeof p, "text.pt"), "hello, world\n", 13);
    expect_refused(p, "not a PyTorch file");
    write_bytes(tpath(p, sizeof p, "empty.pt"), "", 0);
    expect_refused(p, "not a PyTorch file");
    write_bytes(tpath(p, sizeof p, "bare.pkl"), pickle, sizeof pickle);
    expect_refused(p, "a bare pickle");
    expect_refused(tpath(p, sizeof p, "missing.pt"), "cannot open");
    expect_refused(g_dir, "not a regular file");
    expect_mem_refused("PK\5\6", 4, "not a readable zip archive");
    unlink(tpath(p, sizeof p, "text.pt"));
    unlink(tpath(p, sizeof p, "empty.pt"));
    unlink(tpath(p, sizeof p, "bare.pkl"));
}

/* ---- truncated and corrupted archives --------------------------------------------------- */

static void test_truncated(void **state)
{
    char p[4200], t[128];
    size_t n;
    unsigned char *buf = read_bytes(fpath(p, sizeof p, "lstm_f32", ".pt"), &n);
    RnnrtTensorFile f;
    RnnrtError err;

    (void)state;
    for (size_t len = 0; len < n; len++) {
        err.msg[0] = '\0';
        if (rnnrt_pt_read_mem(buf, len, "cut.pt", &f, &err) != -1 || f.n != 0 || !err.msg[0]) {
            fail_msg("a copy cut to %zu of %zu bytes was not refused", len, n);
        }
    }
    write_bytes(tpath(t, sizeof t, "cut.pt"), buf, n / 2);
    expect_refused(t, "cut.pt: ");
    unlink(t);
    free(buf);
}

/* Every byte flipped in turn: refused with a message, or read with the right values (the
 * byte was one that does not matter, e.g. a padding byte). */
static void test_corrupted_bytes(void **state)
{
    char p[4200];
    size_t n;
    unsigned char *buf = read_bytes(fpath(p, sizeof p, "lstm_f32", ".pt"), &n);
    RnnrtTensorFile f, want;
    RnnrtError err;
    int refused = 0;

    (void)state;
    assert_int_equal(
        rnnrt_st_read(fpath(p, sizeof p, "lstm_f32", ".expected.safetensors"), &want, &err), 0);
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0xff;
        err.msg[0] = '\0';
        if (rnnrt_pt_read_mem(buf, n, "flipped.pt", &f, &err) == 0) {
            assert_same(&f, &want, "a file with a flipped byte");
            rnnrt_st_free(&f);
        } else {
            assert_true(err.msg[0] != '\0');
            assert_int_equal(f.n, 0);
            refused++;
        }
        buf[i] ^= 0xff;
    }
    assert_true(refused > (int)n / 2);
    rnnrt_st_free(&want);
    free(buf);
}

/* ---- crafted pickles in valid archives -------------------------------------------------- */

typedef struct Pk {
    unsigned char *b;
    size_t n, cap;
} Pk;

static void pk_raw(Pk *p, const void *d, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 256;
        p->b = realloc(p->b, p->cap);
        assert_non_null(p->b);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void pk_op(Pk *p, int op)
{
    unsigned char c = (unsigned char)op;

    pk_raw(p, &c, 1);
}

static void pk_u32(Pk *p, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};

    pk_raw(p, b, 4);
}

static void pk_str(Pk *p, const char *s)
{
    pk_op(p, 'X');
    pk_u32(p, (uint32_t)strlen(s));
    pk_raw(p, s, strlen(s));
}

/* BININT, or LONG1 of 8 bytes past 32 bits. */
static void pk_int(Pk *p, int64_t v)
{
    if (v >= INT32_MIN && v <= INT32_MAX) {
        pk_op(p, 'J');
        pk_u32(p, (uint32_t)v);
    } else {
        pk_op(p, 0x8a);
        pk_op(p, 8);
        pk_u32(p, (uint32_t)(uint64_t)v);
        pk_u32(p, (uint32_t)((uint64_t)v >> 32));
    }
}

static void pk_global(Pk *p, const char *module, const char *name)
{
    pk_op(p, 'c');
    pk_raw(p, module, strlen(module));
    pk_op(p, '\n');
    pk_raw(p, name, strlen(name));
    pk_op(p, '\n');
}

static void pk_ints(Pk *p, int n, const int64_t *v)
{
    pk_op(p, '(');
    for (int i = 0; i < n; i++) {
        pk_int(p, v[i]);
    }
    pk_op(p, 't');
}

#define PK_LIT(p, s) pk_raw((p), (s), sizeof(s) - 1)

/* One state_dict item, as torch.save writes it (without the memo); `nstride` strides. */
static void pk_tensor_n(Pk *p, const char *name, const char *type, const char *key, int64_t numel,
                        int64_t offset, int ndim, const int64_t *shape, int nstride,
                        const int64_t *stride)
{
    pk_str(p, name);
    pk_global(p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(p, '(');
    pk_op(p, '(');
    pk_str(p, "storage");
    pk_global(p, "torch", type);
    pk_str(p, key);
    pk_str(p, "cpu");
    pk_int(p, numel);
    pk_op(p, 't');
    pk_op(p, 'Q');
    pk_int(p, offset);
    pk_ints(p, ndim, shape);
    pk_ints(p, nstride, stride);
    pk_op(p, 0x89);
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, 't');
    pk_op(p, 'R');
}

static void pk_tensor(Pk *p, const char *name, const char *type, const char *key, int64_t numel,
                      int64_t offset, int ndim, const int64_t *shape, const int64_t *stride)
{
    pk_tensor_n(p, name, type, key, numel, offset, ndim, shape, ndim, stride);
}

static void pk_begin(Pk *p)
{
    p->n = 0;
    pk_op(p, 0x80);
    pk_op(p, 2);
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, '(');
}

static void pk_end(Pk *p)
{
    pk_op(p, 'u');
    pk_op(p, '.');
}

/* The archive of pickle `p` with storages "0" (24 floats) and "1" (6 doubles), plus `extra`
 * entries; read from memory into *f. */
static int read_crafted(const Pk *p, const PtEntry *extra, int nextra, RnnrtTensorFile *f,
                        RnnrtError *err)
{
    static const float s0[24] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
    static const double s1[6] = {-1, -2, -3, -4, -5, -6};
    PtEntry e[8] = {{"archive/data.pkl", p->b, p->n},
                    {"archive/data/0", s0, sizeof s0},
                    {"archive/data/1", s1, sizeof s1},
                    {"archive/version", "3\n", 2}};
    unsigned char *zip;
    size_t len;
    int rc;

    assert_true(nextra <= 4);
    for (int i = 0; i < nextra; i++) {
        e[4 + i] = extra[i];
    }
    assert_int_equal(rnnrt_pt_zip_mem(e, 4 + nextra, "crafted.pt", &zip, &len, err), 0);
    rc = rnnrt_pt_read_mem(zip, len, "crafted.pt", f, err);
    free(zip);
    return rc;
}

static void expect_crafted(const Pk *p, const char *fragment)
{
    RnnrtTensorFile f;
    RnnrtError err;

    if (read_crafted(p, NULL, 0, &f, &err) != -1) {
        fail_msg("a crafted pickle expected to fail with '%s' was read", fragment);
    }
    assert_int_equal(f.n, 0);
    assert_msg(&err, fragment);
}

static const int64_t sh23[2] = {2, 3}, st31[2] = {3, 1}, st13[2] = {1, 2};

/* The base every hostile pickle below mutates: it reads, with the right values. */
static void test_crafted_base(void **state)
{
    static const int64_t sh3[1] = {3}, st2[1] = {2};
    RnnrtTensorFile f;
    RnnrtError err;
    Pk p = {0};

    (void)state;
    pk_begin(&p);
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 1, 2, sh23, st31);
    pk_tensor(&p, "b", "FloatStorage", "0", 24, 0, 2, sh23, st13);
    pk_tensor(&p, "c", "DoubleStorage", "1", 6, 1, 1, sh3, st2);
    /* a size-1 dimension may have any stride, however large (it is never stepped) */
    pk_tensor(&p, "d", "FloatStorage", "0", 24, 21, 2, (const int64_t[]){1, 3},
              (const int64_t[]){INT64_MAX, 1});
    pk_end(&p);
    if (read_crafted(&p, NULL, 0, &f, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(f.n, 4);
    const float *a = f.t[0].data, *b = f.t[1].data, *d = f.t[3].data;
    const double *c = f.t[2].data;
    assert_true(a[0] == 2 && a[2] == 4 && a[3] == 5 && a[5] == 7);
    assert_true(b[0] == 1 && b[1] == 3 && b[2] == 5 && b[3] == 2 && b[5] == 6);
    assert_true(c[0] == -2 && c[1] == -4 && c[2] == -6);
    assert_true(d[0] == 22 && d[1] == 23 && d[2] == 24);
    rnnrt_st_free(&f);
    free(p.b);
}

static void test_crafted_storages(void **state)
{
    static const int64_t sh0[2] = {0, 5}, big[2] = {1 << 20, 1 << 10}, st00[2] = {0, 0};
    static const int64_t huge[3] = {1LL << 40, 1LL << 40, 1LL << 10}, st000[3] = {0, 0, 0};
    Pk p = {0};

    (void)state;
    pk_begin(&p); /* more elements than the entry holds */
    pk_tensor(&p, "a", "FloatStorage", "0", 25, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "holds 96 bytes but the pickle declares 100");
    pk_begin(&p); /* strides reach past the end */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, (const int64_t[]){22, 1});
    pk_end(&p);
    expect_crafted(&p, "tensor 'a' (offset 0, its strides and shape) reaches outside");
    pk_begin(&p); /* offset past the end */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 19, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "reaches outside its storage '0' of 24 elements");
    pk_begin(&p); /* an empty tensor may sit at the end, not beyond */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 25, 2, sh0, st31);
    pk_end(&p);
    expect_crafted(&p, "reaches outside");
    pk_begin(&p); /* a stride-0 view of 2^30 elements */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, big, st00);
    pk_end(&p);
    expect_crafted(&p, "repeats its storage's elements");
    pk_begin(&p);
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 3, huge, st000);
    pk_end(&p);
    expect_crafted(&p, "impossibly large shape");
    pk_begin(&p); /* a huge storage size */
    pk_tensor(&p, "a", "FloatStorage", "0", INT64_MAX, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "too many");
    pk_begin(&p); /* a storage that is not in the archive */
    pk_tensor(&p, "a", "FloatStorage", "7", 24, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "the archive has no entry 'archive/data/7'");
    pk_begin(&p); /* a storage key that would climb out of data/ */
    pk_tensor(&p, "a", "FloatStorage", "../0", 24, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "storage key is not a short name");
    pk_begin(&p); /* one storage, two types */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, st31);
    pk_tensor(&p, "b", "IntStorage", "0", 24, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "storage '0' is declared both as 24 float32 and as 24 int32");
    pk_begin(&p);
    pk_tensor(&p, "a", "BoolStorage", "0", 96, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "tensor 'a' has dtype bool (torch.BoolStorage)");
    pk_begin(&p); /* sizes and strides of different lengths */
    pk_tensor_n(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, 1, st31);
    pk_end(&p);
    expect_crafted(&p, "2 sizes but 1 strides");
    free(p.b);
}

static void test_crafted_pickles(void **state)
{
    Pk p = {0};

    (void)state;
    pk_begin(&p); /* the same key twice */
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, st31);
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, st31);
    pk_end(&p);
    expect_crafted(&p, "duplicate key 'a'");
    pk_begin(&p); /* a value that is not a tensor */
    pk_str(&p, "epoch");
    pk_int(&p, 3);
    pk_end(&p);
    expect_crafted(&p, "entry 'epoch' is an int, not a tensor");
    pk_begin(&p); /* a checkpoint: a dict inside */
    pk_str(&p, "model");
    pk_op(&p, '}');
    pk_end(&p);
    expect_crafted(&p, "a checkpoint of several objects");
    pk_begin(&p);
    pk_int(&p, 1);
    pk_op(&p, 'N');
    pk_end(&p);
    expect_crafted(&p, "state_dict key 0 is an int, not a string");
    p.n = 0;
    PK_LIT(&p, "\x80\x02J\1\0\0\0.");
    expect_crafted(&p, "the pickle holds an int, not a state_dict");
    pk_begin(&p);
    pk_end(&p);
    PK_LIT(&p, "N");
    expect_crafted(&p, "1 bytes follow STOP");
    pk_begin(&p);
    expect_crafted(&p, "without STOP");
    pk_begin(&p);
    pk_op(&p, 'i'); /* INST */
    expect_crafted(&p, "pickle opcode INST (0x69) is refused");
    pk_begin(&p);
    pk_op(&p, 0xff);
    expect_crafted(&p, "unknown pickle opcode 0xff");
    pk_begin(&p);
    PK_LIT(&p, "h\7");
    expect_crafted(&p, "memo index 7 was never stored");
    pk_begin(&p);
    PK_LIT(&p, "Nr\0\0\0\1");
    expect_crafted(&p, "memo index 16777216 is out of range");
    pk_begin(&p);
    PK_LIT(&p, "\x8c\x08"
               "builtins"
               "\x8c\x04"
               "exec"
               "\x93");
    expect_crafted(&p, "refused pickle global 'builtins.exec'");
    pk_begin(&p);
    pk_global(&p, "torch", "FloatStorage");
    PK_LIT(&p, ")R");
    expect_crafted(&p, "calling torch.FloatStorage is refused");
    pk_begin(&p);
    PK_LIT(&p, "N}b");
    expect_crafted(&p, "BUILD sets the state of None");
    pk_begin(&p);
    PK_LIT(&p, "\x80\x09");
    expect_crafted(&p, "pickle protocol 9 is not supported");
    p.n = 0;
    PK_LIT(&p, "\x80\x02(((");
    for (int i = 0; i < 300; i++) {
        pk_op(&p, '(');
    }
    expect_crafted(&p, "MARKs nested deeper than 256");
    p.n = 0;
    PK_LIT(&p, "\x80\x02");
    for (int i = 0; i <= (1 << 20); i++) {
        pk_op(&p, 'N');
    }
    expect_crafted(&p, "the pickle stack grows beyond");
    pk_begin(&p);
    PK_LIT(&p, "X\xff\xff\xff\x7f");
    expect_crafted(&p, "ends inside BINUNICODE (truncated)");
    pk_begin(&p);
    PK_LIT(&p, "cos\nsys");
    expect_crafted(&p, "GLOBAL without its two newline-terminated names");
    pk_begin(&p);
    PK_LIT(&p, "c\x01\nx\n");
    expect_crafted(&p, "non-printable");
    p.n = 0;
    PK_LIT(&p, "\x80\x02.");
    expect_crafted(&p, "STOP with 0 values");
    free(p.b);
}

/* _metadata (set with BUILD), BINPUT/BINGET and the other things torch writes are accepted. */
static void test_crafted_metadata(void **state)
{
    RnnrtTensorFile f;
    RnnrtError err;
    Pk p = {0};

    (void)state;
    pk_begin(&p);
    pk_tensor(&p, "a", "FloatStorage", "0", 24, 0, 2, sh23, st31);
    pk_op(&p, 'u');
    PK_LIT(&p, "}q\0X\x09\0\0\0_metadata");
    pk_global(&p, "collections", "OrderedDict");
    PK_LIT(&p, ")R(X\0\0\0\0}X\7\0\0\0versionK\1su");
    PK_LIT(&p, "sb.");
    if (read_crafted(&p, NULL, 0, &f, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(f.n, 1);
    rnnrt_st_free(&f);
    free(p.b);
}

/* ---- lying zip headers and zip bombs ---------------------------------------------------- */

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

#define LOCAL 1
#define CENTRAL 2

/* Sets the declared sizes of entry `name` (-1: keep) in its local and/or central header. */
static void patch_sizes(unsigned char *z, size_t n, const char *name, int64_t comp, int64_t size,
                        int which)
{
    size_t nlen = strlen(name);
    int found = 0;

    for (size_t i = 0; i + 46 + nlen <= n; i++) {
        uint32_t sig = get32(z + i);
        int local = sig == 0x04034b50;
        size_t at = local ? 30 : 46, lenat = local ? 26 : 28, compat = local ? 18 : 20;
        if ((!local && sig != 0x02014b50) ||
            (size_t)(z[i + lenat] | z[i + lenat + 1] << 8) != nlen ||
            memcmp(z + i + at, name, nlen) != 0) {
            continue;
        }
        found++;
        if (!(which & (local ? LOCAL : CENTRAL))) {
            continue;
        }
        if (comp >= 0) {
            put32(z + i + compat, (uint32_t)comp);
        }
        if (size >= 0) {
            put32(z + i + compat + 4, (uint32_t)size);
        }
    }
    assert_int_equal(found, 2);
}

/* An in-memory archive made by libzip of entries (name, data, len), deflated if `deflate`. */
static unsigned char *libzip_archive(const PtEntry *e, int n, int deflate, size_t *len)
{
    zip_error_t ze;
    zip_source_t *src;
    zip_t *za;
    unsigned char *buf;
    zip_int64_t size;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (int i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
        zip_int64_t idx = zip_file_add(za, e[i].name, s, 0);
        assert_true(idx >= 0);
        assert_int_equal(
            zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : 0, 9), 0);
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
    size = zip_source_tell(src);
    assert_true(size > 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
    buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(zip_source_read(src, buf, (zip_uint64_t)size), size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    *len = (size_t)size;
    return buf;
}

static void test_lying_zip_sizes(void **state)
{
    char p[4200];
    size_t n;
    unsigned char *orig = read_bytes(fpath(p, sizeof p, "lstm_f32", ".pt"), &n);
    unsigned char *z = malloc(n);
    RnnrtTensorFile f;
    RnnrtError err;

    (void)state;
    assert_non_null(z);
    memcpy(z, orig, n); /* a stored entry claiming 2 GiB, in both headers */
    patch_sizes(z, n, "lstm_f32/data/0", -1, 0x7fffffff, LOCAL | CENTRAL);
    expect_mem_refused(z, n, "inconsistent"); /* libzip's check or ours */
    memcpy(z, orig, n); /* compressed and uncompressed sizes both beyond the archive */
    patch_sizes(z, n, "lstm_f32/data/0", 0x7fffffff, 0x7fffffff, LOCAL | CENTRAL);
    assert_int_equal(rnnrt_pt_read_mem(z, n, "crafted.pt", &f, &err), -1);
    assert_true(err.msg[0] != '\0');
    memcpy(z, orig, n); /* both headers agree on a size 4 bytes short of the data */
    patch_sizes(z, n, "lstm_f32/data/0", 188, 188, LOCAL | CENTRAL);
    assert_int_equal(rnnrt_pt_read_mem(z, n, "crafted.pt", &f, &err), -1);
    assert_true(err.msg[0] != '\0');
    memcpy(z, orig, n); /* the central directory disagrees with the local header */
    patch_sizes(z, n, "lstm_f32/data/1", 100, 100, CENTRAL);
    assert_int_equal(rnnrt_pt_read_mem(z, n, "crafted.pt", &f, &err), -1);
    assert_true(err.msg[0] != '\0');
    free(z);
    free(orig);
}

static void test_zip_bomb(void **state)
{
    size_t big = (size_t)4 << 20, n;
    unsigned char *zeros = calloc(big, 1), *z;
    PtEntry e[2] = {{"archive/data.pkl", zeros, big}, {"archive/version", "3\n", 2}};

    (void)state;
    assert_non_null(zeros);
    z = libzip_archive(e, 2, 1, &n);
    assert_true(n < 64 * 1024);
    /* the real size: a pickle of zeros (opcode 0x00 is unknown) */
    expect_mem_refused(z, n, "unknown pickle opcode 0x00");
    patch_sizes(z, n, "archive/data.pkl", -1, 0x7fffffff, LOCAL | CENTRAL); /* 2 GiB */
    expect_mem_refused(z, n, "a zip bomb or a corrupt file");
    patch_sizes(z, n, "archive/data.pkl", -1, 1000, LOCAL | CENTRAL); /* over more data */
    expect_mem_refused(z, n, "archive/data.pkl'");
    free(z);
    /* a deflated archive of a real state_dict reads */
    static const float w[4] = {1, 2, 3, 4};
    Pk p = {0};
    pk_begin(&p);
    pk_tensor(&p, "w", "FloatStorage", "0", 4, 0, 1, (const int64_t[]){4}, (const int64_t[]){1});
    pk_end(&p);
    PtEntry e2[3] = {{"a/data.pkl", p.b, p.n}, {"a/data/0", w, sizeof w}, {"a/version", "3\n", 2}};
    RnnrtTensorFile f;
    RnnrtError err;
    z = libzip_archive(e2, 3, 1, &n);
    if (rnnrt_pt_read_mem(z, n, "deflated.pt", &f, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(f.n, 1);
    assert_memory_equal(f.t[0].data, w, sizeof w);
    rnnrt_st_free(&f);
    free(z);
    free(p.b);
    free(zeros);
}

static void test_archive_layout(void **state)
{
    static const char pkl[] = "\x80\x02}.";
    PtEntry e[4] = {{"x/data.pkl", pkl, 4}, {"x/byteorder", "middle", 6}};
    unsigned char *z;
    size_t n;

    (void)state;
    assert_int_equal(rnnrt_pt_zip_mem(e, 2, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "the byteorder entry is neither");
    free(z);
    e[1] = (PtEntry){"x/byteorder", "little-endian!!!!", 17};
    assert_int_equal(rnnrt_pt_zip_mem(e, 2, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "entry 'x/byteorder' declares 17 bytes (the limit is 16)");
    free(z);
    e[1] = (PtEntry){"x/byteorder", "big", 3}; /* big-endian storages are swapped */
    assert_int_equal(rnnrt_pt_zip_mem(e, 2, "t", &z, &n, NULL), 0);
    RnnrtTensorFile f;
    RnnrtError err;
    assert_int_equal(rnnrt_pt_read_mem(z, n, "t", &f, &err), 0); /* an empty state_dict */
    assert_int_equal(f.n, 0);
    rnnrt_st_free(&f);
    free(z);
    e[0] = (PtEntry){"data.pkl", pkl, 4};
    assert_int_equal(rnnrt_pt_zip_mem(e, 1, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "not inside one top folder");
    free(z);
    e[0] = (PtEntry){"x/constants.pkl", pkl, 4};
    assert_int_equal(rnnrt_pt_zip_mem(e, 1, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "a TorchScript archive");
    free(z);
    e[0] = e[1] = (PtEntry){"x/data.pkl", pkl, 4}; /* the same name twice */
    assert_int_equal(rnnrt_pt_zip_mem(e, 2, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "not a readable zip archive");
    free(z);
    e[0] = (PtEntry){"x/other", pkl, 4};
    assert_int_equal(rnnrt_pt_zip_mem(e, 1, "t", &z, &n, NULL), 0);
    expect_mem_refused(z, n, "has no 'x/data.pkl'");
    free(z);
    /* a big-endian storage */
    static const unsigned char be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0}; /* 1.0f, -2.0f */
    Pk p = {0};
    pk_begin(&p);
    pk_tensor(&p, "w", "FloatStorage", "0", 2, 0, 1, (const int64_t[]){2}, (const int64_t[]){1});
    pk_end(&p);
    PtEntry e3[3] = {{"x/data.pkl", p.b, p.n}, {"x/byteorder", "big", 3}, {"x/data/0", be, 8}};
    assert_int_equal(rnnrt_pt_zip_mem(e3, 3, "t", &z, &n, NULL), 0);
    assert_int_equal(rnnrt_pt_read_mem(z, n, "t", &f, &err), 0);
    assert_true(((float *)f.t[0].data)[0] == 1.0f && ((float *)f.t[0].data)[1] == -2.0f);
    rnnrt_st_free(&f);
    free(z);
    free(p.b);
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The tensors of written_by_rnnrt.pt; tools/gen_pt_fixtures.py's expected_written() holds the
 * same formulas. */
typedef struct Written {
    float w[24], bias[8], empty[1];
    double fc[16], cube[24];
    int64_t step;
    int32_t counts[3];
    RnnrtTensor t[7];
} Written;

static void written_tensors(Written *x)
{
    static const uint32_t bits[8] = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000,
                                     0x7FC00000, 0x00000001, 0x7F7FFFFF, 0xBFC00000};

    for (int i = 0; i < 24; i++) {
        x->w[i] = (float)(((i * 37) % 101 - 50) / 8.0);
        x->cube[i] = i * 0.1;
    }
    memcpy(x->bias, bits, sizeof bits);
    for (int i = 0; i < 16; i++) {
        x->fc[i] = ((i * 53) % 97 - 48) / 16.0 / 3.0;
    }
    x->step = 1234567890123LL;
    x->counts[0] = -1;
    x->counts[1] = 0;
    x->counts[2] = 2147483647;
    x->t[0] = (RnnrtTensor){"rnn.weight_ih_l0", RNNRT_F32, 2, {8, 3}, x->w};
    x->t[1] = (RnnrtTensor){"rnn.bias_ih_l0", RNNRT_F32, 1, {8}, x->bias};
    x->t[2] = (RnnrtTensor){"fc.weight", RNNRT_F64, 2, {2, 8}, x->fc};
    x->t[3] = (RnnrtTensor){"step", RNNRT_I64, 0, {0}, &x->step};
    x->t[4] = (RnnrtTensor){"counts", RNNRT_I32, 1, {3}, x->counts};
    x->t[5] = (RnnrtTensor){"empty", RNNRT_F32, 2, {0, 4}, NULL};
    x->t[6] = (RnnrtTensor){"cube", RNNRT_F64, 4, {2, 3, 4, 1}, x->cube};
}

static void test_write_read_roundtrip(void **state)
{
    static const char *const names[] = {"rt.pt", "rt.PTH", "rt.safetensors"};
    Written x;
    RnnrtTensorFile want = {7, NULL}, f;
    RnnrtError err;
    char p[128];

    (void)state;
    written_tensors(&x);
    want.t = x.t;
    for (int i = 0; i < 3; i++) {
        size_t n;
        unsigned char *b;
        tpath(p, sizeof p, names[i]);
        if (rnnrt_tensors_write(p, x.t, 7, &err) != 0) {
            fail_msg("%s", err.msg);
        }
        b = read_bytes(p, &n);
        assert_int_equal(memcmp(b, "PK\3\4", 4) == 0, i < 2);
        free(b);
        assert_int_equal(rnnrt_tensors_read(p, &f, &err), 0);
        assert_same(&f, &want, p);
        rnnrt_st_free(&f);
        unlink(p);
    }
    /* every entry's data on a 64-byte boundary, as torch.save writes them */
    assert_int_equal(rnnrt_pt_write(tpath(p, sizeof p, "a.pt"), x.t, 7, &err), 0);
    size_t n, entries = 0;
    unsigned char *z = read_bytes(p, &n);
    for (size_t i = 0; i + 30 <= n; i++) {
        if (get32(z + i) == 0x04034b50) {
            size_t data = i + 30 + (z[i + 26] | z[i + 27] << 8) + (z[i + 28] | z[i + 29] << 8);
            assert_int_equal(data % 64, 0);
            entries++;
        }
    }
    assert_int_equal(entries, 7 + 3);
    free(z);
    /* an empty state_dict */
    assert_int_equal(rnnrt_pt_write(p, NULL, 0, &err), 0);
    assert_int_equal(rnnrt_pt_read(p, &f, &err), 0);
    assert_int_equal(f.n, 0);
    rnnrt_st_free(&f);
    unlink(p);
}

/* written_by_rnnrt.pt is what rnnrt_pt_write writes today, byte for byte; torch.load reads
 * it (tools/gen_pt_fixtures.py --verify). RNNC_PT_REGEN=1 rewrites it. */
static void test_written_fixture(void **state)
{
    Written x;
    RnnrtTensorFile want = {7, NULL}, f;
    RnnrtError err;
    char fix[4200], p[128];
    size_t n1, n2;

    (void)state;
    written_tensors(&x);
    want.t = x.t;
    fpath(fix, sizeof fix, "written_by_rnnrt", ".pt");
    if (getenv("RNNC_PT_REGEN")) {
        assert_int_equal(rnnrt_pt_write(fix, x.t, 7, &err), 0);
    }
    assert_int_equal(rnnrt_pt_write(tpath(p, sizeof p, "w.pt"), x.t, 7, &err), 0);
    unsigned char *a = read_bytes(fix, &n1), *b = read_bytes(p, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
    assert_int_equal(rnnrt_pt_read(fix, &f, &err), 0);
    assert_same(&f, &want, fix);
    rnnrt_st_free(&f);
    unlink(p);
}

static void test_write_failures(void **state)
{
    float v[2] = {1, 2};
    RnnrtTensor t[2] = {{"a", RNNRT_F32, 1, {2}, v}, {"a", RNNRT_F32, 1, {2}, v}};
    RnnrtError err;
    char p[128], q[160];
    int before = count_dir_entries();

    (void)state;
    snprintf(q, sizeof q, "%s/no/such/dir/m.pt", g_dir);
    assert_int_equal(rnnrt_pt_write(q, t, 1, &err), -1);
    assert_msg(&err, "no/such/dir/m.pt: cannot write into the directory '");
    assert_msg(&err, "no/such/dir': No such file or directory");
    assert_false(exists(q));
    assert_int_equal(rnnrt_tensors_write(q, t, 1, &err), -1);
    tpath(p, sizeof p, "bad.pt");
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "duplicate tensor name 'a'");
    t[1] = (RnnrtTensor){"b", (RnnrtDtype)9, 1, {2}, v};
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "invalid dtype 9");
    t[1] = (RnnrtTensor){"b", RNNRT_F32, 1, {2}, NULL};
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "it has no data");
    t[1] = (RnnrtTensor){"b", RNNRT_F32, 1, {-2}, v};
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "negative or too large shape");
    t[1] = (RnnrtTensor){NULL, RNNRT_F32, 1, {2}, v};
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "cannot write tensor 1: its name is missing");
    t[1] = (RnnrtTensor){"caf\xc3", RNNRT_F32, 1, {2}, v}; /* cut inside a character */
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_msg(&err, "its name is not valid UTF-8");
    t[1] = (RnnrtTensor){"\xed\xa0\x80", RNNRT_F32, 1, {2}, v}; /* a surrogate */
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    t[1] = (RnnrtTensor){"\xc0\xae", RNNRT_F32, 1, {2}, v}; /* overlong '.' */
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), -1);
    assert_false(exists(p));
    assert_int_equal(count_dir_entries(), before);
    /* an existing file is replaced whole; names may be any UTF-8 */
    t[1] = (RnnrtTensor){"caf\xc3\xa9.\xf0\x9f\x98\x80", RNNRT_F32, 1, {2}, v};
    write_bytes(p, "old", 3);
    assert_int_equal(rnnrt_pt_write(p, t, 2, &err), 0);
    RnnrtTensorFile f;
    assert_int_equal(rnnrt_pt_read(p, &f, &err), 0);
    assert_int_equal(f.n, 2);
    rnnrt_st_free(&f);
    unlink(p);
}

/* ---- setup ------------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A safetensors file whose header length starts with the byte 0x80 (a pickle's first opcode)
 * is still read as safetensors: the JSON '{' after the length decides. */
static void test_dispatch_safetensors_0x80(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path,
             "%.4095s/../fixtures/batch_lstm_h20_l2_b13_len/weights.safetensors", g_fix);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char b0 = (unsigned char)fgetc(f);
    fclose(f);
    assert_int_equal(b0, 0x80);
    RnnrtTensorFile tf;
    RnnrtError err;
    assert_int_equal(rnnrt_tensors_read(path, &tf, &err), 0);
    assert_true(tf.n > 0);
    rnnrt_st_free(&tf);
}

static int setup(void **state)
{
    const char *root = getenv("RNNC_SOURCE_ROOT");

    (void)state;
    snprintf(g_fix, sizeof g_fix, "%s/tests/pt_fixtures", root ? root : ".");
    snprintf(g_dir, sizeof g_dir, "/tmp/rnnc_test_pt_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_match_expected),
        cmocka_unit_test(test_dispatch_safetensors_0x80),
        cmocka_unit_test(test_fixture_names_and_dtypes),
        cmocka_unit_test(test_refused_fixtures),
        cmocka_unit_test(test_not_torch_files),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted_bytes),
        cmocka_unit_test(test_crafted_base),
        cmocka_unit_test(test_crafted_storages),
        cmocka_unit_test(test_crafted_pickles),
        cmocka_unit_test(test_crafted_metadata),
        cmocka_unit_test(test_lying_zip_sizes),
        cmocka_unit_test(test_zip_bomb),
        cmocka_unit_test(test_archive_layout),
        cmocka_unit_test(test_write_read_roundtrip),
        cmocka_unit_test(test_written_fixture),
        cmocka_unit_test(test_write_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
