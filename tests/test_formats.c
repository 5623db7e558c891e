/* test_formats.c — librnnrt's file formats held to their specifications and against hostile
 * input: the safetensors header as strict JSON (no YAML), names over every class of code
 * point written and read back, offsets that must tile the data buffer, 200,000 tensors with
 * a planted duplicate, absurd .npy shapes, the memory check, and the in-memory readers.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnrt.h"

static char *g_dir;

static int group_setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp();
    return g_dir ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmdir(g_dir);
    return 0;
}

static void assert_contains(const char *msg, const char *sub)
{
    if (!strstr(msg, sub))
        fail_msg("expected \"%s\" in the message:\n%s", sub, msg);
}

/* A whole safetensors file in memory: the header text (not padded) and `dlen` data bytes
 * (zeros). Returns a malloc'd buffer, its length in *len. */
static unsigned char *st_image(const char *header, size_t hl, size_t dlen, size_t *len)
{
    unsigned char *buf = calloc(1, 8 + hl + dlen + 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    *len = 8 + hl + dlen;
    return buf;
}

/* Reads `header` + `dlen` zero bytes from memory: 0, or -1 with the message in err. */
static int st_try(const char *header, size_t dlen, RnnrtTensorFile *f, RnnrtError *err)
{
    size_t len;
    unsigned char *buf = st_image(header, strlen(header), dlen, &len);
    int rc = rnnrt_st_read_mem(buf, len, "mem.safetensors", f, err);
    free(buf);
    if (rc != 0) {
        assert_int_equal(f->n, 0);
        assert_null(f->t);
    }
    return rc;
}

static void st_refused(const char *header, size_t dlen, const char *sub)
{
    RnnrtTensorFile f;
    RnnrtError err;
    if (st_try(header, dlen, &f, &err) == 0) {
        rnnrt_st_free(&f);
        fail_msg("accepted: %s", header);
    }
    assert_contains(err.msg, "mem.safetensors");
    assert_contains(err.msg, sub);
}

static void st_accepted(const char *header, size_t dlen, int n)
{
    RnnrtTensorFile f;
    RnnrtError err;
    if (st_try(header, dlen, &f, &err) != 0)
        fail_msg("refused: %s\n%s", header, err.msg);
    assert_int_equal(f.n, n);
    rnnrt_st_free(&f);
}

#define E4(name, a, b)                                                                            \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #a "," #b "]}"

/* YAML that is not JSON, and JSON the reference refuses: none of it is a header. */
static void test_st_not_yaml(void **state)
{
    (void)state;
    st_accepted("{" E4("a", 0, 4) "}", 4, 1);
    /* an alias gives two names the same bytes: the overlap through YAML */
    st_refused("{\"a\":&x {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":*x}", 4,
               "malformed JSON header");
    st_refused("{\"a\":!!map {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{\"a\":{\"dtype\":!!str F32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{'a':{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{a: {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{\"a\":{\"dtype\":F32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{" E4("a", 0, 4) "} # comment", 4, "malformed JSON header");
    st_refused("{" E4("a", 0, 4) ",}", 4, "trailing ','");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4,
               "malformed JSON header");
    st_refused("{" E4("a", 0, 4) "}{}", 4, "content after the header object");
    st_refused("{" E4("a", 0, 4) "}\n---\n", 4, "content after the header object");
    /* only white space pads a header: NULs are not JSON */
    size_t len;
    const char nul_pad[] = "{" E4("a", 0, 4) "}\0\0\0";
    unsigned char *img = st_image(nul_pad, sizeof nul_pad - 1, 4, &len);
    RnnrtTensorFile f;
    RnnrtError err;
    assert_int_equal(rnnrt_st_read_mem(img, len, "nul", &f, &err), -1);
    assert_contains(err.msg, "content after the header object");
    free(img);
    st_refused("a:\n  dtype: F32\n  shape: [1]\n  data_offsets: [0, 4]\n", 4, "not a JSON object");
    st_refused("\xef\xbb\xbf{" E4("a", 0, 4) "}", 4, "not a JSON object");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
               "leading zero");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":NaN}}", 4,
               "malformed JSON header");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":'y'}}", 4,
               "malformed JSON header");
    /* numbers that are JSON but not sizes */
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
               "non-negative integers");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4,
               "non-negative integers");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
               "non-negative integers");
    st_refused(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 4,
        "two non-negative integers");
    st_refused(
        "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
        "'dtype' is given twice");
    st_refused("{" E4("a", 0, 4) ",\"__metadata__\":{\"k\":1}}", 4, "not a string");
    st_refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__' twice");
    /* unknown fields are skipped (as the reference does), but must be JSON and not too deep */
    st_accepted("{\"a\":{\"dtype\":\"F32\",\"x\":[{\"y\":[true,false,null,-1.5e+3,\"\\u00e9\"]}],"
                "\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":null}",
                4, 1);
    char deep[400] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    for (int i = 0; i < 100; i++)
        strcat(deep, "]");
    strcat(deep, "}}");
    st_refused(deep, 4, "nested too deeply");
    /* strings */
    st_refused("{\"a\x01\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "control character");
    st_refused("{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "lone high surrogate");
    st_refused("{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "lone low surrogate");
    st_refused("{\"a\\ud800\\u0041\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "lone high surrogate");
    st_refused("{\"a\\x41\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "unknown escape");
    st_refused("{\"a\\u00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "hex digit");
    st_refused("{\"a\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "NUL character");
    st_refused("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "not valid UTF-8 (at header byte 3)");
    st_refused("{\"a\xc0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "not valid UTF-8");
    st_refused("{\"a\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "not valid UTF-8");
    st_refused("{\"a\xf4\x90\x80\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, "not valid UTF-8");
}

/* Sorted by offsets, the tensors must tile the data buffer from 0 to its end. */
static void test_st_tiling(void **state)
{
    (void)state;
    st_accepted("{" E4("b", 4, 8) "," E4("a", 0, 4) "}", 8, 2);
    st_accepted("{\"z0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}," E4(
                    "a", 0, 4) ",\"z1\":{\"dtype\":\"F64\",\"shape\":[2,0],\"data_offsets\":[4,4]}"
                               "," E4("b", 4, 8) ",\"z2\":{\"dtype\":\"I32\",\"shape\":[0],\"data_"
                                                 "offsets\":[8,8]}}",
                8, 5);
    st_accepted("{}", 0, 0);
    st_accepted("{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, 1);
    /* two names for the same bytes */
    st_refused("{" E4("a", 0, 4) "," E4("b", 0, 4) "}", 4,
               "tensors 'a' [0, 4] and 'b' [0, 4] overlap");
    st_refused(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," E4("b", 4, 8) "}", 8,
        "overlap");
    st_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
               "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
               12, "overlap");
    st_refused("{" E4("a", 0, 4) "," E4("b", 8, 12) "}", 12,
               "bytes [4, 8) of the data buffer belong to no tensor");
    st_refused("{" E4("a", 4, 8) "}", 8, "bytes [0, 4) of the data buffer belong to no tensor");
    st_refused("{" E4("a", 0, 4) "}", 12, "bytes [4, 12) of the data buffer belong to no tensor");
    st_refused("{}", 4, "bytes [0, 4)");
}

/* A code point as UTF-8 appended at *p. */
static void put_utf8(char **p, uint32_t cp)
{
    unsigned char *d = (unsigned char *)*p;
    if (cp < 0x80) {
        *d++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *d++ = (unsigned char)(0xc0 | cp >> 6);
        *d++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *d++ = (unsigned char)(0xe0 | cp >> 12);
        *d++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *d++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (unsigned char)(0xf0 | cp >> 18);
        *d++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        *d++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *d++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *p = (char *)d;
}

/* Names over every class of code point, written and read back byte for byte; the header
 * holds no raw control, DEL, C1 or U+FFFE/U+FFFF. */
static void test_st_names_roundtrip(void **state)
{
    (void)state;
    static const uint32_t classes[] = {
        0x7f,    0x80,    0x85,     0x9f,     0xa0,   0xff,   0x100,  0x7ff,   0x800,
        0x2028,  0xd7ff,  0xe000,   0xfdd0,   0xfffd, 0xfffe, 0xffff, 0x10000, 0x1f600,
        0x1fffe, 0xeffff, 0x10fffe, 0x10ffff, '"',    '\\',   '/',    ' ',     '~',
    };
    enum { NC = sizeof classes / sizeof classes[0], N = 31 + 32 + NC + 1 };
    char names[N][160];
    float v[N];
    RnnrtTensor ts[N];
    int n = 0;
    for (uint32_t cp = 1; cp < 0x20; cp++) { /* C0, each between letters */
        char *p = names[n];
        p += sprintf(p, "c0_");
        put_utf8(&p, cp);
        *p = '\0';
        n++;
    }
    for (uint32_t cp = 0x80; cp < 0xa0; cp++) { /* C1 */
        char *p = names[n];
        p += sprintf(p, "c1_");
        put_utf8(&p, cp);
        strcpy(p, "_x");
        n++;
    }
    for (int i = 0; i < NC; i++) {
        char *p = names[n];
        p += sprintf(p, "k%d.", i);
        put_utf8(&p, classes[i]);
        put_utf8(&p, classes[i]);
        *p = '\0';
        n++;
    }
    char *p = names[n]; /* one name of all the awkward ones at once */
    for (int i = 0; i < NC; i++)
        put_utf8(&p, classes[i]);
    *p = '\0';
    n++;
    assert_int_equal(n, N);
    for (int i = 0; i < n; i++) {
        v[i] = (float)i;
        ts[i] = (RnnrtTensor){names[i], RNNRT_F32, 1, {1}, &v[i]};
    }
    char *path = tu_strf("%s/names.safetensors", g_dir);
    RnnrtError err;
    if (rnnrt_st_write(path, ts, n, &err) != 0)
        fail_msg("%s", err.msg);
    size_t flen;
    char *file = tu_read_file(path, &flen);
    assert_non_null(file);
    size_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | (unsigned char)file[i];
    for (size_t i = 8; i < 8 + hl; i++) {
        unsigned char c = (unsigned char)file[i];
        assert_true(c >= 0x20 && c != 0x7f);
        if (c == 0xc2 && i + 1 < 8 + hl)
            assert_false((unsigned char)file[i + 1] >= 0x80 && (unsigned char)file[i + 1] < 0xa0);
        if (c == 0xef && i + 2 < 8 + hl && (unsigned char)file[i + 1] == 0xbf)
            assert_false((unsigned char)file[i + 2] >= 0xbe);
    }
    assert_non_null(strstr(file + 8, "\\u007f\\u007f"));
    assert_non_null(strstr(file + 8, "c1_\\u0085_x"));
    assert_non_null(strstr(file + 8, "\\ufffe\\ufffe"));
    assert_non_null(strstr(file + 8, "\\\"\\\""));
    free(file);
    RnnrtTensorFile f;
    if (rnnrt_st_read(path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.n, n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(f.t[i].name, names[i]);
        assert_true(*(float *)f.t[i].data == v[i]);
    }
    rnnrt_st_free(&f);

    /* what the writer cannot write as a header it refuses */
    RnnrtTensor bad[2] = {{"ok", RNNRT_F32, 1, {1}, &v[0]}, {"a\xff", RNNRT_F32, 1, {1}, &v[1]}};
    assert_int_equal(rnnrt_st_write(path, bad, 2, &err), -1);
    assert_contains(err.msg, "not valid UTF-8");
    bad[1].name = "a\xed\xa0\x80"; /* a surrogate as UTF-8 */
    assert_int_equal(rnnrt_st_write(path, bad, 2, &err), -1);
    bad[1].name = "a\xe2\x82"; /* truncated */
    assert_int_equal(rnnrt_st_write(path, bad, 2, &err), -1);
    free(path);
}

/* Escapes as other writers use them: Python's json.dumps (ensure_ascii) writes surrogate
 * pairs above U+FFFF; every JSON escape decodes. */
static void test_st_escapes_read(void **state)
{
    (void)state;
    RnnrtTensorFile f;
    RnnrtError err;
    const char *hdr = "{\"\\ud83d\\ude00 \\u00e9\\u4E2D \\\" \\\\ \\/ \\b\\f\\n\\r\\t "
                      "\\udbff\\udfff \\u007f\\u0085\\uFFFE\":"
                      "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    if (st_try(hdr, 4, &f, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.t[0].name, "\xf0\x9f\x98\x80 \xc3\xa9\xe4\xb8\xad \" \\ / \b\f\n\r\t "
                                     "\xf4\x8f\xbf\xbf \x7f\xc2\x85\xef\xbf\xbe");
    rnnrt_st_free(&f);
}

/* 200,000 tensors: the duplicate check and the lookups are n log n (the header limit allows
 * 1.6 million). A planted duplicate is found, by the reader and by the writer. */
static void test_st_many_tensors(void **state)
{
    (void)state;
    enum { N = 200000 };
    size_t cap = (size_t)N * 80, hl = 0;
    char *hdr = malloc(cap);
    assert_non_null(hdr);
    hdr[hl++] = '{';
    for (int i = 0; i < N; i++) {
        int name = i == 150000 ? 4242 : i; /* the duplicate of t4242 */
        hl += (size_t)snprintf(hdr + hl, cap - hl,
                               "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[%d,%d]}",
                               i ? "," : "", name, 4 * i, 4 * i + 4);
    }
    hdr[hl++] = '}';
    hdr[hl] = '\0';
    size_t len;
    unsigned char *img = st_image(hdr, hl, 4 * (size_t)N, &len);
    RnnrtTensorFile f;
    RnnrtError err;
    assert_int_equal(rnnrt_st_read_mem(img, len, "many", &f, &err), -1);
    assert_contains(err.msg, "many: duplicate tensor name 't4242'");
    assert_null(strchr(err.msg, '\n'));
    /* without the duplicate: read, matched against 200,000 specs, written */
    char *at = strstr(hdr, "\"t4242\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[600000,");
    assert_non_null(at);
    free(img);
    hdr[at - hdr + 1] = 'u'; /* tensor 150000 is "u4242" now: every name unique */
    img = st_image(hdr, hl, 4 * (size_t)N, &len);
    if (rnnrt_st_read_mem(img, len, "many", &f, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.n, N);
    RnnrtParamSpec *specs = malloc(N * sizeof *specs);
    float *params = malloc(N * sizeof *params);
    assert_non_null(specs);
    assert_non_null(params);
    for (int i = 0; i < N; i++) {
        specs[i] = (RnnrtParamSpec){f.t[N - 1 - i].name, 1, {1, 0}, i};
        *(float *)f.t[N - 1 - i].data = (float)i;
    }
    if (rnnrt_params_load(&f, specs, N, 0, params, &err) != 0)
        fail_msg("%s", err.msg);
    for (int i = 0; i < N; i++)
        assert_true(params[i] == (float)i);
    char *path = tu_strf("%s/many.safetensors", g_dir);
    if (rnnrt_st_write(path, f.t, N, &err) != 0)
        fail_msg("%s", err.msg);
    f.t[150000].name[0] = 't'; /* t4242 twice again */
    assert_int_equal(rnnrt_st_write(path, f.t, N, &err), -1);
    assert_contains(err.msg, "cannot write: duplicate tensor name 't4242'");
    rnnrt_st_free(&f);
    RnnrtTensorFile g;
    if (rnnrt_st_read(path, &g, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(g.n, N);
    assert_string_equal(g.t[150000].name, "u4242");
    rnnrt_st_free(&g);
    free(path);
    free(params);
    free(specs);
    free(img);
    free(hdr);
}

/* A .npy image in memory: version 1.0 header dict, then `dlen` zero data bytes. */
static unsigned char *npy_image(const char *dict, size_t dlen, size_t *len)
{
    size_t hl = strlen(dict), total = 10 + hl + 1;
    total += (64 - total % 64) % 64;
    unsigned char *buf = calloc(1, total + dlen + 1);
    assert_non_null(buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((total - 10) & 0xff);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, dict, hl);
    memset(buf + 10 + hl, ' ', total - 11 - hl);
    buf[total - 1] = '\n';
    *len = total + dlen;
    return buf;
}

static void npy_refused(const char *dict, size_t dlen, const char *sub)
{
    size_t len;
    unsigned char *img = npy_image(dict, dlen, &len);
    RnnrtArray a;
    RnnrtError err;
    assert_int_equal(rnnrt_npy_read_mem(img, len, "mem.npy", &a, &err), -1);
    assert_null(a.data);
    assert_contains(err.msg, "mem.npy");
    assert_contains(err.msg, sub);
    free(img);
}

/* A shape that the file cannot hold is refused before anything is allocated for it. */
static void test_npy_absurd_shapes(void **state)
{
    (void)state;
    npy_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000), }", 0,
                "file is truncated: expected 4000000000000000000 data bytes, found 0");
    npy_refused("{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000000000000,), }", 16,
                "array shape is too large");
    /* zero elements, but dims whose product would overflow any caller's loop bounds */
    npy_refused("{'descr': '<f4', 'fortran_order': False, "
                "'shape': (0, 4294967296, 4294967296), }",
                0, "array shape is too large");
    /* the in-memory reader reads what the file reader reads */
    size_t len;
    unsigned char *img =
        npy_image("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", 48, &len);
    for (int i = 0; i < 6; i++)
        img[len - 48 + 8 * i] = (unsigned char)i; /* column-major 0..5 */
    RnnrtArray a, b;
    RnnrtError err;
    assert_int_equal(rnnrt_npy_read_mem(img, len, "mem.npy", &a, &err), 0);
    char *path = tu_strf("%s/f.npy", g_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(img, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(rnnrt_npy_read(path, &b, &err), 0);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(b.shape[1], 3);
    assert_memory_equal(a.data, b.data, 48);
    static const int64_t want[6] = {0, 2, 4, 1, 3, 5};
    assert_memory_equal(a.data, want, 48);
    rnnrt_array_free(&a);
    rnnrt_array_free(&b);
    free(img);
    free(path);
}

/* A sparse file of more bytes than the machine has memory: refused by the memory check
 * with the figure, not by a failed malloc. Skipped where the file cannot be made. */
static void test_mem_check_files(void **state)
{
    (void)state;
    size_t have = rnnrt_mem_available();
    if (have == 0 || have > (size_t)1 << 44)
        skip();
    long n = (long)(have / 8) + 1024; /* float64 elements */
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%ld,), }", n);
    size_t len;
    unsigned char *img = npy_image(dict, 0, &len);
    char *path = tu_strf("%s/huge.npy", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    int made = ftruncate(fd, (off_t)(len + 8 * (size_t)n)) == 0;
    close(fd);
    free(img);
    if (!made) {
        unlink(path);
        free(path);
        skip();
    }
    RnnrtArray a;
    RnnrtError err;
    assert_int_equal(rnnrt_npy_read(path, &a, &err), -1);
    assert_contains(err.msg, "huge.npy: the array needs ");
    assert_contains(err.msg, "of memory of this machine");
    unlink(path);

    /* the same for the tensors of a safetensors file */
    char hdr[160];
    snprintf(hdr, sizeof hdr,
             "{\"w\":{\"dtype\":\"F64\",\"shape\":[%ld],\"data_offsets\":[0,%ld]}}", n, 8 * n);
    img = st_image(hdr, strlen(hdr), 0, &len);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    assert_int_equal(ftruncate(fd, (off_t)(len + 8 * (size_t)n)), 0);
    close(fd);
    free(img);
    RnnrtTensorFile f;
    assert_int_equal(rnnrt_st_read(path, &f, &err), -1);
    assert_contains(err.msg, "the tensor data needs ");
    unlink(path);
    free(path);
}

static void test_mem_helpers(void **state)
{
    (void)state;
    RnnrtError err;
    assert_int_equal(rnnrt_mem_product(NULL, 0), 1);
    assert_int_equal(rnnrt_mem_product((const long[]){3, 4, 5}, 3), 60);
    assert_int_equal(rnnrt_mem_product((const long[]){0, 4, 5}, 3), 0);
    assert_true(rnnrt_mem_product((const long[]){1L << 40, 1L << 40}, 2) == SIZE_MAX);
    assert_true(rnnrt_mem_product((const long[]){0, 1L << 40, 1L << 40}, 3) == SIZE_MAX);
    assert_true(rnnrt_mem_product((const long[]){2, -1}, 2) == SIZE_MAX);
    assert_true(rnnrt_mem_sum(SIZE_MAX - 1, 2) == SIZE_MAX);
    assert_int_equal(rnnrt_mem_sum(2, 3), 5);
    assert_int_equal(rnnrt_mem_check(1, "one byte", &err), 0);
    assert_int_equal(rnnrt_mem_check(SIZE_MAX, "x.npy: the input", &err), -1);
    assert_string_equal(err.msg, "x.npy: the input needs more memory than can be addressed");
    size_t have = rnnrt_mem_available();
    assert_true(have > 0);
    assert_int_equal(rnnrt_mem_check(have, "all of it", &err), 0);
    assert_int_equal(rnnrt_mem_check(have + 1, "the batch (B=64, T=100000)", &err), -1);
    assert_contains(err.msg, "the batch (B=64, T=100000) needs ");
    assert_contains(err.msg, "more than the ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_not_yaml),        cmocka_unit_test(test_st_tiling),
        cmocka_unit_test(test_st_names_roundtrip), cmocka_unit_test(test_st_escapes_read),
        cmocka_unit_test(test_st_many_tensors),    cmocka_unit_test(test_npy_absurd_shapes),
        cmocka_unit_test(test_mem_check_files),    cmocka_unit_test(test_mem_helpers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
