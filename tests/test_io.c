/* test_io.c — cmocka unit tests of librnnrt's file I/O: .npy and safetensors reading and
 * writing (round trips, hand-made files, malformed files, atomic writes) and
 * rnnrt_params_load's matching of a tensor file against a parameter table.
 * All files live in a mkdtemp directory that the group teardown removes.
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

#include "rnnrt.h"

static char g_dir[64];

/* The path of `name` inside the test directory. */
static char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a malloc'd buffer. */
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

/* Number of entries of the test directory whose name contains ".tmp". */
static int count_tmp_files(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += strstr(de->d_name, ".tmp") != NULL;
    }
    closedir(d);
    return n;
}

static void assert_contains(const char *msg, const char *sub)
{
    if (!strstr(msg, sub)) {
        print_error("expected \"%s\" in error message:\n%s\n", sub, msg);
        fail();
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_io.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- .npy ----------------------------------------------------------------------------- */

/* A .npy file with the given version, header dict text and data. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t dlen)
{
    unsigned char buf[512];
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict), total;

    total = pre + hl + 1;
    total += (64 - total % 64) % 64;
    assert_true(total + dlen <= sizeof buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    memset(buf + 8, 0, 4);
    buf[8] = (unsigned char)((total - pre) & 0xff);
    buf[9] = (unsigned char)((total - pre) >> 8);
    memcpy(buf + pre, dict, hl);
    memset(buf + pre + hl, ' ', total - pre - hl - 1);
    buf[total - 1] = '\n';
    memcpy(buf + total, data, dlen);
    write_bytes(path, buf, total + dlen);
}

static void test_npy_roundtrip(void **state)
{
    static const long shapes[4][3] = {{0}, {5}, {2, 3}, {2, 3, 4}};
    char path[256], name[32];
    RnnrtError err;
    (void)state;

    for (int dt = RNNRT_F32; dt <= RNNRT_I64; dt++) {
        for (int nd = 0; nd <= 3; nd++) {
            RnnrtArray a = {(RnnrtDtype)dt, nd, {0}, NULL}, b;
            int size = rnnrt_dtype_size(a.dtype);
            unsigned char *file;
            size_t flen, hlen;
            long numel;

            memcpy(a.shape, shapes[nd], sizeof shapes[nd]);
            numel = rnnrt_array_numel(&a);
            a.data = malloc((size_t)numel * (size_t)size);
            assert_non_null(a.data);
            for (long i = 0; i < numel; i++) {
                switch (a.dtype) {
                case RNNRT_F32:
                    ((float *)a.data)[i] = 0.5f * (float)i - 3.0f;
                    break;
                case RNNRT_F64:
                    ((double *)a.data)[i] = 1e-3 * (double)i + 1e10;
                    break;
                case RNNRT_I32:
                    ((int32_t *)a.data)[i] = (int32_t)(i * 1000003 - 7);
                    break;
                case RNNRT_I64:
                    ((int64_t *)a.data)[i] = (int64_t)i << 40;
                    break;
                }
            }
            snprintf(name, sizeof name, "a_%d_%d.npy", dt, nd);
            tpath(path, sizeof path, name);
            assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
            assert_string_equal(err.msg, "");

            file = read_bytes(path, &flen);
            hlen = (size_t)file[8] | (size_t)file[9] << 8;
            assert_int_equal((10 + hlen) % 64, 0);
            assert_int_equal(file[6], 1);
            assert_int_equal(file[9 + hlen], '\n');
            assert_int_equal(flen, 10 + hlen + (size_t)numel * (size_t)size);
            free(file);

            assert_int_equal(rnnrt_npy_read(path, &b, &err), 0);
            assert_int_equal(b.dtype, a.dtype);
            assert_int_equal(b.ndim, nd);
            for (int i = 0; i < nd; i++) {
                assert_int_equal(b.shape[i], a.shape[i]);
            }
            assert_memory_equal(b.data, a.data, (size_t)numel * (size_t)size);
            rnnrt_array_free(&b);
            assert_null(b.data);
            assert_int_equal(b.ndim, 0);
            rnnrt_array_free(&a);
        }
    }
}

static void test_npy_empty_array(void **state)
{
    RnnrtArray a = {RNNRT_F64, 2, {0, 7}, NULL}, b;
    char path[256];
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "empty.npy");
    assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
    assert_int_equal(rnnrt_npy_read(path, &b, &err), 0);
    assert_int_equal(b.ndim, 2);
    assert_int_equal(b.shape[0], 0);
    assert_int_equal(b.shape[1], 7);
    assert_int_equal(rnnrt_array_numel(&b), 0);
    rnnrt_array_free(&b);
}

static void test_npy_v2_v3(void **state)
{
    const unsigned char data[16] = {0, 0, 0, 0, 0, 0, 0xf8, 0x3f,  /* 1.5 */
                                    0, 0, 0, 0, 0, 0, 0x04, 0xc0}; /* -2.5 */
    char path[256];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "v2.npy");
    write_npy_raw(path, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data,
                  sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_int_equal(a.dtype, RNNRT_F64);
    assert_int_equal(a.ndim, 1);
    assert_int_equal(a.shape[0], 2);
    assert_true(((double *)a.data)[0] == 1.5 && ((double *)a.data)[1] == -2.5);
    rnnrt_array_free(&a);

    /* Version 3.0, keys in another order, double quotes, no trailing comma, 2-d. */
    tpath(path, sizeof path, "v3.npy");
    write_npy_raw(path, 3, "{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f8\"}",
                  data, sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 1);
    assert_int_equal(a.shape[1], 2);
    assert_true(((double *)a.data)[1] == -2.5);
    rnnrt_array_free(&a);
}

static void test_npy_big_endian(void **state)
{
    const unsigned char i4[12] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 4, 0x93, 0xe0};
    const unsigned char f8[8] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0};
    const unsigned char i8[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    char path[256];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "be_i4.npy");
    write_npy_raw(path, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", i4,
                  sizeof i4);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_int_equal(a.dtype, RNNRT_I32);
    assert_int_equal(((int32_t *)a.data)[0], 1);
    assert_int_equal(((int32_t *)a.data)[1], -2);
    assert_int_equal(((int32_t *)a.data)[2], 300000);
    rnnrt_array_free(&a);

    tpath(path, sizeof path, "be_f8.npy");
    write_npy_raw(path, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (), }", f8,
                  sizeof f8);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_int_equal(a.ndim, 0);
    assert_true(*(double *)a.data == 1.5);
    rnnrt_array_free(&a);

    tpath(path, sizeof path, "be_i8.npy");
    write_npy_raw(path, 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (1, 1), }", i8,
                  sizeof i8);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_true(*(int64_t *)a.data == (int64_t)0x0102030405060708LL);
    rnnrt_array_free(&a);
}

static void test_npy_truncated(void **state)
{
    RnnrtArray a = {RNNRT_F32, 2, {3, 4}, NULL}, b = {RNNRT_I32, 1, {1}, NULL};
    char path[256];
    RnnrtError err;
    (void)state;

    a.data = calloc(12, sizeof(float));
    assert_non_null(a.data);
    tpath(path, sizeof path, "trunc.npy");
    assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
    assert_int_equal(truncate(path, 128 + 40), 0);
    b.data = &b; /* must be reset on error */
    assert_int_equal(rnnrt_npy_read(path, &b, &err), -1);
    assert_null(b.data);
    assert_int_equal(b.ndim, 0);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "truncated");
    assert_contains(err.msg, "expected 48");
    assert_contains(err.msg, "found 40");

    /* Trailing garbage is an error too. */
    assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
    assert_int_equal(truncate(path, 128 + 50), 0);
    assert_int_equal(rnnrt_npy_read(path, &b, &err), -1);
    assert_contains(err.msg, "found 50");
    rnnrt_array_free(&a);
}

static void test_npy_bad_magic(void **state)
{
    char path[256];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "magic.npy");
    write_bytes(path, "PK\x03\x04 this is a zip file", 24);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "bad magic");

    write_bytes(path, "\x93NUM", 4);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, "bad magic");

    tpath(path, sizeof path, "does_not_exist.npy");
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, path);
}

/* Fortran order (what np.save writes for a transposed array) is read into C order. */
static void test_npy_fortran(void **state)
{
    /* column-major (2, 3): columns (1, 2), (3, 4), (5, 6) */
    const float data[6] = {1, 2, 3, 4, 5, 6};
    const float want[6] = {1, 3, 5, 2, 4, 6};
    char path[256];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "fortran.npy");
    write_npy_raw(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data,
                  sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), 0);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_memory_equal(a.data, want, sizeof want);
    rnnrt_array_free(&a);
}

static void test_npy_unsupported_dtype(void **state)
{
    const unsigned char data[8] = {0};
    char path[256], want[512];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "i2.npy");
    write_npy_raw(path, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (4,), }", data,
                  sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    snprintf(want, sizeof want,
             "%s: unsupported dtype '<i2' (expected float32, float64, int32 or int64)", path);
    assert_string_equal(err.msg, want);

    write_npy_raw(path, 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", data,
                  sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, "unsupported dtype '|f4'");

    write_npy_raw(path, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                  data, sizeof data);
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, "unsupported dtype");
}

static void test_npy_malformed_header(void **state)
{
    static const char *const dicts[] = {
        "{'descr': '<f4', 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
        "{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) } x",
        "['descr', '<f4']",
    };
    const unsigned char data[8] = {0};
    char path[256];
    RnnrtArray a;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "malformed.npy");
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
        write_npy_raw(path, 1, dicts[i], data, sizeof data);
        assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
        assert_contains(err.msg, path);
    }
    assert_contains(err.msg, "malformed header");
}

static void test_npy_write_atomic(void **state)
{
    float v[3] = {1, 2, 3};
    RnnrtArray a = {RNNRT_F32, 1, {3}, v}, bad = {RNNRT_F32, 9, {1}, v}, b;
    char path[256], before[512];
    unsigned char *old, *now;
    size_t oldlen, nowlen;
    RnnrtError err;
    (void)state;

    /* A nonexistent directory: fails, creates nothing. */
    tpath(path, sizeof path, "no_such_dir/x.npy");
    assert_int_equal(rnnrt_npy_write(path, &a, &err), -1);
    assert_contains(err.msg, path);
    tpath(path, sizeof path, "no_such_dir");
    assert_false(exists(path));

    /* A failed write leaves the existing file alone. */
    tpath(path, sizeof path, "keep.npy");
    assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
    old = read_bytes(path, &oldlen);
    assert_int_equal(rnnrt_npy_write(path, &bad, &err), -1);
    assert_contains(err.msg, "ndim 9");
    now = read_bytes(path, &nowlen);
    assert_int_equal(nowlen, oldlen);
    assert_memory_equal(now, old, oldlen);
    free(now);
    free(old);

    /* Renaming onto a directory fails after the data is written: the temporary goes. */
    tpath(path, sizeof path, "a_dir.npy");
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(before, sizeof before, "%s", path);
    assert_int_equal(rnnrt_npy_write(path, &a, &err), -1);
    assert_contains(err.msg, before);
    assert_int_equal(count_tmp_files(), 0);
    assert_int_equal(rmdir(path), 0);

    /* Overwriting works. */
    v[0] = 42;
    tpath(path, sizeof path, "keep.npy");
    assert_int_equal(rnnrt_npy_write(path, &a, &err), 0);
    assert_int_equal(rnnrt_npy_read(path, &b, &err), 0);
    assert_true(((float *)b.data)[0] == 42.0f);
    rnnrt_array_free(&b);
    assert_int_equal(count_tmp_files(), 0);
}

/* ---- safetensors --------------------------------------------------------------------- */

/* A safetensors file with the given header text (not padded) and data buffer. */
static void write_st_raw(const char *path, const char *header, const void *data, size_t dlen)
{
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + dlen + 1);

    assert_non_null(buf);
    for (int i = 0; i < 8; i++) {
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    }
    memcpy(buf + 8, header, hl);
    if (dlen) {
        memcpy(buf + 8 + hl, data, dlen);
    }
    write_bytes(path, buf, 8 + hl + dlen);
    free(buf);
}

static void test_st_roundtrip(void **state)
{
    float w[6] = {1, 2, 3, 4, 5, 6};
    double b[2] = {-1.5, 1e300};
    int32_t n32 = -7;
    int64_t i64[3] = {1, -1, INT64_MAX};
    RnnrtTensor ts[5] = {
        {"rnn.weight_ih_l0", RNNRT_F32, 2, {2, 3}, w},
        {"bias \"quoted\" \\ name", RNNRT_F64, 1, {2}, b},
        {"scalar", RNNRT_I32, 0, {0}, &n32},
        {"ids", RNNRT_I64, 1, {3}, i64},
        {"empty", RNNRT_F32, 2, {0, 4}, NULL},
    };
    char path[256];
    unsigned char *file;
    size_t flen, hlen;
    RnnrtTensorFile f;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "rt.safetensors");
    assert_int_equal(rnnrt_st_write(path, ts, 5, &err), 0);
    file = read_bytes(path, &flen);
    hlen = 0;
    for (int i = 7; i >= 0; i--) {
        hlen = hlen << 8 | file[i];
    }
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(file[8], '{');
    assert_memory_equal(file + 8,
                        "{\"rnn.weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                        "\"data_offsets\":[0,24]},",
                        65);
    assert_int_equal(flen, 8 + hlen + 24 + 16 + 4 + 24);
    free(file);

    assert_int_equal(rnnrt_st_read(path, &f, &err), 0);
    assert_int_equal(f.n, 5);
    for (int i = 0; i < 5; i++) {
        const RnnrtTensor *t = rnnrt_st_find(&f, ts[i].name);
        uint64_t bytes = (uint64_t)rnnrt_dtype_size(ts[i].dtype);
        assert_ptr_equal(t, &f.t[i]);
        assert_string_equal(t->name, ts[i].name);
        assert_int_equal(t->dtype, ts[i].dtype);
        assert_int_equal(t->ndim, ts[i].ndim);
        for (int d = 0; d < t->ndim; d++) {
            assert_int_equal(t->shape[d], ts[i].shape[d]);
            bytes *= (uint64_t)t->shape[d];
        }
        assert_non_null(t->data);
        if (bytes) {
            assert_memory_equal(t->data, ts[i].data, bytes);
        }
    }
    assert_null(rnnrt_st_find(&f, "nope"));
    rnnrt_st_free(&f);
    assert_int_equal(f.n, 0);
    assert_null(f.t);

    /* Zero tensors. */
    assert_int_equal(rnnrt_st_write(path, ts, 0, &err), 0);
    assert_int_equal(rnnrt_st_read(path, &f, &err), 0);
    assert_int_equal(f.n, 0);
    rnnrt_st_free(&f);
}

static const float g_st_data[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static void check_two_tensors(const char *path)
{
    RnnrtTensorFile f;
    RnnrtError err;
    const RnnrtTensor *a, *b;

    if (rnnrt_st_read(path, &f, &err) != 0) {
        print_error("%s\n", err.msg);
        fail();
    }
    assert_int_equal(f.n, 2);
    a = rnnrt_st_find(&f, "a");
    b = rnnrt_st_find(&f, "b.c");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->ndim, 2);
    assert_int_equal(a->shape[0], 2);
    assert_int_equal(a->shape[1], 3);
    assert_memory_equal(a->data, g_st_data, 24);
    assert_int_equal(b->ndim, 1);
    assert_int_equal(b->shape[0], 2);
    assert_memory_equal(b->data, g_st_data + 6, 8);
    rnnrt_st_free(&f);
}

static void test_st_compact_json(void **state)
{
    char path[256];
    (void)state;

    /* What the Rust library and tools/save_safetensors.py write. */
    tpath(path, sizeof path, "compact.safetensors");
    write_st_raw(path,
                 "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\","
                 "\"shape\":[2,3],\"data_offsets\":[0,24]},\"b.c\":{\"dtype\":\"F32\","
                 "\"shape\":[2],\"data_offsets\":[24,32]}}      ",
                 g_st_data, 32);
    check_two_tensors(path);
}

static void test_st_spaced_json(void **state)
{
    char path[256];
    (void)state;

    /* What Python's json.dumps writes by default (plus a newline and padding). */
    tpath(path, sizeof path, "spaced.safetensors");
    write_st_raw(path,
                 "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": "
                 "[0, 24]}, \"b.c\": {\"data_offsets\": [24, 32], \"dtype\": \"F32\", "
                 "\"shape\": [2]}, \"__metadata__\": {\"k\": \"v\"}}\n   ",
                 g_st_data, 32);
    check_two_tensors(path);
}

/* Reading `header` + 32 data bytes fails with a message containing each of `subs`. */
static void expect_st_error(const char *header, const char *sub1, const char *sub2)
{
    char path[256];
    RnnrtTensorFile f;
    RnnrtError err;

    tpath(path, sizeof path, "bad.safetensors");
    write_st_raw(path, header, g_st_data, 32);
    f.n = 99;
    assert_int_equal(rnnrt_st_read(path, &f, &err), -1);
    assert_int_equal(f.n, 0);
    assert_null(f.t);
    assert_contains(err.msg, path);
    assert_contains(err.msg, sub1);
    if (sub2) {
        assert_contains(err.msg, sub2);
    }
}

static void test_st_bad_offsets(void **state)
{
    (void)state;
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[16,40]}}", "'w'",
                    "outside the data buffer (32 bytes)");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,4]}}", "'w'",
                    "data_offsets [8, 4]");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", "'w'",
                    "needs 24 bytes");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0]}}", "'w'",
                    "data_offsets");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "'w'",
                    "shape");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "'w'", "'data_offsets'");
}

static void test_st_unsupported_dtype(void **state)
{
    (void)state;
    expect_st_error("{\"half\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                    "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[4,5]}}",
                    "tensor 'half' has unsupported dtype F16",
                    "'flag' has unsupported dtype BOOL");
}

static void test_st_bad_header(void **state)
{
    char path[256];
    unsigned char buf[16] = {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, '{', '}'};
    RnnrtTensorFile f;
    RnnrtError err;
    (void)state;

    expect_st_error("[1, 2]", "not a JSON object", NULL);
    expect_st_error("{\"a\":{\"dtype\":\"F32\",", "malformed JSON header", NULL);
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                    "duplicate tensor name 'a'", NULL);
    expect_st_error("{\"a\":[0,4]}", "'a'", "not an object");

    tpath(path, sizeof path, "biglen.safetensors");
    write_bytes(path, buf, sizeof buf);
    assert_int_equal(rnnrt_st_read(path, &f, &err), -1);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "header length 16777215");

    write_bytes(path, buf, 5);
    assert_int_equal(rnnrt_st_read(path, &f, &err), -1);
    assert_contains(err.msg, "shorter than 8 bytes");
}

static void test_st_write_atomic(void **state)
{
    float w[2] = {1, 2};
    RnnrtTensor ok = {"w", RNNRT_F32, 1, {2}, w};
    RnnrtTensor dup[2] = {{"w", RNNRT_F32, 1, {2}, w}, {"w", RNNRT_F32, 1, {2}, w}};
    char path[256];
    unsigned char *old, *now;
    size_t oldlen, nowlen;
    RnnrtError err;
    (void)state;

    tpath(path, sizeof path, "missing_dir/m.safetensors");
    assert_int_equal(rnnrt_st_write(path, &ok, 1, &err), -1);
    assert_contains(err.msg, path);
    tpath(path, sizeof path, "missing_dir");
    assert_false(exists(path));

    tpath(path, sizeof path, "keep.safetensors");
    assert_int_equal(rnnrt_st_write(path, &ok, 1, &err), 0);
    old = read_bytes(path, &oldlen);
    assert_int_equal(rnnrt_st_write(path, dup, 2, &err), -1);
    assert_contains(err.msg, "duplicate tensor name 'w'");
    now = read_bytes(path, &nowlen);
    assert_int_equal(nowlen, oldlen);
    assert_memory_equal(now, old, oldlen);
    free(now);
    free(old);
    assert_int_equal(count_tmp_files(), 0);
}

/* A safetensors file whose header length is 128 modulo 256 starts with 0x80, a pickle's
 * PROTO: rnnrt_tensors_read still reads it as safetensors (names of every length up to 255
 * cover every header length modulo 256). */
static void test_tensors_read_header_0x80(void **state)
{
    char path[256], name[256];
    float v[2] = {1.5f, -2};
    int hits = 0;
    (void)state;

    tpath(path, sizeof path, "h80.safetensors");
    for (int len = 1; len < 256; len++) {
        memset(name, 'a', (size_t)len);
        name[len] = '\0';
        RnnrtTensor t = {name, RNNRT_F32, 1, {2}, v};
        RnnrtTensorFile f;
        RnnrtError err;
        unsigned char first = 0;
        assert_int_equal(rnnrt_st_write(path, &t, 1, &err), 0);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        assert_int_equal(fread(&first, 1, 1, fp), 1);
        fclose(fp);
        hits += first == 0x80;
        if (rnnrt_tensors_read(path, &f, &err) < 0)
            fail_msg("name of %d characters: %s", len, err.msg);
        assert_int_equal(f.n, 1);
        assert_memory_equal(f.t[0].data, v, sizeof v);
        rnnrt_st_free(&f);
    }
    assert_true(hits > 0);
}

/* ---- rnnrt_params_load ---------------------------------------------------------------- */

static void test_params_load_ok(void **state)
{
    float w32[6] = {1, 2, 3, 4, 5, 6};
    double b64[2] = {0.25, -0.5};
    RnnrtTensor ts[2] = {{"rnn.weight_ih_l0", RNNRT_F32, 2, {3, 2}, w32},
                         {"rnn.bias_ih_l0", RNNRT_F64, 1, {2}, b64}};
    RnnrtTensorFile f = {2, ts};
    const RnnrtParamSpec specs[2] = {{"rnn.bias_ih_l0", 1, {2, 0}, 1},
                                     {"rnn.weight_ih_l0", 2, {3, 2}, 3}};
    float pf[9];
    double pd[9];
    RnnrtError err;
    (void)state;

    memset(pf, 0, sizeof pf);
    memset(pd, 0, sizeof pd);
    /* F64 into a float block and F32 into a double block, at the spec offsets. */
    assert_int_equal(rnnrt_params_load(&f, specs, 2, 0, pf, &err), 0);
    assert_string_equal(err.msg, "");
    assert_true(pf[0] == 0 && pf[1] == 0.25f && pf[2] == -0.5f && pf[3] == 1 && pf[8] == 6);
    assert_int_equal(rnnrt_params_load(&f, specs, 2, 1, pd, &err), 0);
    assert_true(pd[0] == 0 && pd[1] == 0.25 && pd[2] == -0.5 && pd[3] == 1 && pd[8] == 6);
}

static void test_params_load_errors(void **state)
{
    float w[6] = {0};
    int64_t steps = 3;
    RnnrtTensor ts[4] = {{"rnn.weight_ih_l0", RNNRT_F32, 2, {256, 9}, w},
                         {"rnn.bias_ih_l0", RNNRT_F32, 1, {256}, w},
                         {"num_batches", RNNRT_I64, 1, {1}, &steps},
                         {"foo", RNNRT_F32, 1, {3}, w}};
    RnnrtTensorFile f = {4, ts};
    const RnnrtParamSpec specs[4] = {{"rnn.weight_ih_l0", 2, {256, 10}, 0},
                                     {"rnn.bias_ih_l0", 1, {256, 0}, 2560},
                                     {"rnn.weight_hh_l0", 2, {256, 256}, 2816},
                                     {"num_batches", 1, {1, 0}, 68352}};
    float canary = 123;
    RnnrtError err;
    (void)state;

    assert_int_equal(rnnrt_params_load(&f, specs, 4, 0, &canary, &err), -1);
    assert_contains(err.msg, "tensor 'rnn.weight_ih_l0' has shape [256, 9], expected [256, 10]");
    assert_contains(err.msg, "missing tensor 'rnn.weight_hh_l0' (expected shape [256, 256])");
    assert_contains(err.msg, "tensor 'num_batches' has dtype I64, expected F32 or F64");
    assert_contains(err.msg, "unexpected tensor 'foo' (shape [3])");
    assert_null(strstr(err.msg, "bias"));
    assert_int_equal(err.msg[strlen(err.msg) - 1] != '\n', 1);
    assert_true(canary == 123);
}

static void test_params_load_cap(void **state)
{
    RnnrtParamSpec specs[30];
    char names[30][16];
    RnnrtTensorFile f = {0, NULL};
    RnnrtError err;
    float p;
    int lines = 1;
    (void)state;

    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        specs[i] = (RnnrtParamSpec){names[i], 1, {4, 0}, 0};
    }
    assert_int_equal(rnnrt_params_load(&f, specs, 30, 0, &p, &err), -1);
    for (const char *s = err.msg; *s; s++) {
        lines += *s == '\n';
    }
    assert_int_equal(lines, 21);
    assert_contains(err.msg, "missing tensor 'p19' (expected shape [4])");
    assert_null(strstr(err.msg, "'p20'"));
    assert_contains(err.msg, "\n... and 10 more");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_empty_array),
        cmocka_unit_test(test_npy_v2_v3),
        cmocka_unit_test(test_npy_big_endian),
        cmocka_unit_test(test_npy_truncated),
        cmocka_unit_test(test_npy_bad_magic),
        cmocka_unit_test(test_npy_fortran),
        cmocka_unit_test(test_npy_unsupported_dtype),
        cmocka_unit_test(test_npy_malformed_header),
        cmocka_unit_test(test_npy_write_atomic),
        cmocka_unit_test(test_st_roundtrip),
        cmocka_unit_test(test_st_compact_json),
        cmocka_unit_test(test_st_spaced_json),
        cmocka_unit_test(test_st_bad_offsets),
        cmocka_unit_test(test_st_unsupported_dtype),
        cmocka_unit_test(test_st_bad_header),
        cmocka_unit_test(test_st_write_atomic),
        cmocka_unit_test(test_tensors_read_header_0x80),
        cmocka_unit_test(test_params_load_ok),
        cmocka_unit_test(test_params_load_errors),
        cmocka_unit_test(test_params_load_cap),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
