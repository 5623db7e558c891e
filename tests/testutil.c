/* testutil.c — see testutil.h. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include "rnnrt.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("environment variable %s is not set (run the tests through meson)", name);
    return v;
}

const char *tu_src_root(void)
{
    return env_or_fail("RNNC_SOURCE_ROOT");
}

const char *tu_rnnc_bin(void)
{
    return env_or_fail("RNNC_BIN");
}

char *tu_strf(const char *fmt, ...)
{
    va_list ap;
    char probe[1];
    va_start(ap, fmt);
    int n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        if (got == 0)
            break;
        len += got;
    }
    fclose(f);
    buf[len] = '\0';
    if (n)
        *n = len;
    return buf;
}

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = tu_strf("%s/rnnc-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    return dir;
}

void tu_rmdir(char *dir)
{
    if (!dir)
        return;
    char *cmd = tu_strf("rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
    free(cmd);
    free(dir);
}

int tu_run(const char *cmd, char **out, char **err)
{
    char *dir = tu_mkdtemp();
    char *o = tu_strf("%s/out", dir), *e = tu_strf("%s/err", dir);
    char *full = tu_strf("( %s ) >'%s' 2>'%s' </dev/null", cmd, o, e);
    int st = system(full);
    if (out)
        *out = tu_read_file(o, NULL);
    if (err)
        *err = tu_read_file(e, NULL);
    free(full);
    free(o);
    free(e);
    tu_rmdir(dir);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

void tu_assert_close(const double *got, const double *want, long n, double rtol, double atol,
                     const char *what)
{
    long bad = 0, worst = -1;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(want[i]);
        double e = fabs(got[i] - want[i]);
        if (!(e <= tol)) {
            bad++;
            double excess = isnan(e) ? INFINITY : e / tol;
            if (worst < 0 || excess > worst_excess) {
                worst = i;
                worst_excess = excess;
            }
        }
    }
    if (bad)
        fail_msg("%s: %ld of %ld elements differ beyond %g + %g*|want|; worst at index %ld: "
                 "got %.9g, want %.9g",
                 what, bad, n, atol, rtol, worst, got[worst], want[worst]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tu_list_dir(const char *dir, const char *suffix, int *n)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d)
        return NULL;
    int cap = 16;
    char **list = malloc((size_t)cap * sizeof *list);
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        if (*n == cap) {
            cap *= 2;
            list = realloc(list, (size_t)cap * sizeof *list);
        }
        list[(*n)++] = tu_strf("%s", e->d_name);
    }
    closedir(d);
    qsort(list, (size_t)*n, sizeof *list, cmp_str);
    return list;
}

void tu_free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

double *tu_npy_doubles(const char *path, long *n, long *shape, int *ndim)
{
    RnnrtArray a;
    RnnrtError err;
    if (rnnrt_npy_read(path, &a, &err) < 0)
        fail_msg("%s", err.msg);
    if (a.dtype != RNNRT_F32 && a.dtype != RNNRT_F64)
        fail_msg("%s: not a float array", path);
    long count = rnnrt_array_numel(&a);
    double *out = malloc((size_t)(count ? count : 1) * sizeof *out);
    assert_non_null(out);
    for (long i = 0; i < count; i++)
        out[i] = a.dtype == RNNRT_F64 ? ((double *)a.data)[i] : ((float *)a.data)[i];
    if (n)
        *n = count;
    if (shape)
        memcpy(shape, a.shape, sizeof a.shape);
    if (ndim)
        *ndim = a.ndim;
    rnnrt_array_free(&a);
    return out;
}

double tu_st_diff(const char *got_p, const char *want_p, const char **worst)
{
    RnnrtTensorFile got, want;
    RnnrtError err;
    if (rnnrt_st_read(got_p, &got, &err) < 0 || rnnrt_st_read(want_p, &want, &err) < 0)
        fail_msg("%s", err.msg);
    double most = 0;
    static char name[256];
    for (int k = 0; k < want.n; k++) {
        const RnnrtTensor *w = &want.t[k], *g = rnnrt_st_find(&got, w->name);
        if (!g)
            fail_msg("%s: no tensor '%s'", got_p, w->name);
        long n = 1;
        for (int d = 0; d < w->ndim; d++)
            n *= w->shape[d];
        double diff = 0, scale = 1;
        for (long i = 0; i < n; i++) {
            double a = g->dtype == RNNRT_F64 ? ((double *)g->data)[i] : ((float *)g->data)[i];
            double b = w->dtype == RNNRT_F64 ? ((double *)w->data)[i] : ((float *)w->data)[i];
            diff = fabs(a - b) > diff ? fabs(a - b) : diff;
            scale = fabs(b) > scale ? fabs(b) : scale;
        }
        if (diff / scale > most || (k == 0 && worst)) {
            most = diff / scale > most ? diff / scale : most;
            snprintf(name, sizeof name, "%s", w->name);
            if (worst)
                *worst = name; /* valid until the next call */
        }
    }
    rnnrt_st_free(&got);
    rnnrt_st_free(&want);
    return most;
}

int tu_files_equal(const char *a, const char *b)
{
    size_t na, nb;
    char *ta = tu_read_file(a, &na), *tb = tu_read_file(b, &nb);
    int eq = ta && tb && na == nb && memcmp(ta, tb, na) == 0;
    free(ta);
    free(tb);
    return eq;
}

int tu_has_fma(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("fma");
#else
    return 1;
#endif
}
