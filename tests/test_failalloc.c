/* test_failalloc.c — failure injection, SQLite's way: this program is linked with malloc,
 * calloc and realloc wrapped (-Wl,--wrap), so that the n-th allocation fails; for every n
 * through a compile (spec -> check -> plan -> emit, written out), a weights load, and a
 * gradient step (forward, loss, backward, written out), the call must end in a clean error
 * (-1 and a diagnostic) with no output file, or, where the allocation was optional (a
 * did-you-mean that is not needed), succeed with the output of a run without injection; and
 * (under LeakSanitizer) leak nothing.
 * Allocations inside libtcc are never failed (see jit_in_libtcc in compiler/jit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "jit.h"
#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static long fail_at; /* 0: never */
static long count;   /* allocations since armed */
static int failed;   /* the n-th allocation was refused */

static int refuse(void)
{
    if (!fail_at || jit_in_libtcc)
        return 0;
    if (++count == fail_at) {
        failed = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return refuse() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return refuse() ? NULL : __real_realloc(p, n);
}

/* One operation on a fresh handle; returns its status. `out`: the file it writes, if any. */
typedef int (*Op)(Rnnc *r, const char *dir);

static const char *fixture(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/grad_fixtures/lstm_l2_len_ce_seq_none", tu_src_root());
    return path;
}

static int op_compile(Rnnc *r, const char *dir)
{
    char spec[4200], out[4200];
    snprintf(spec, sizeof spec, "%s/spec.yaml", fixture());
    snprintf(out, sizeof out, "%s/m.c", dir);
    if (rnnc_load(r, spec) < 0)
        return -1;
    char *src = rnnc_source(r);
    if (!src)
        return -1;
    free(src);
    return rnnc_write(r, out);
}

static int op_weights(Rnnc *r, const char *dir)
{
    char spec[4200], w[4200], out[4200];
    snprintf(out, sizeof out, "%s/params.bin", dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", fixture());
    snprintf(w, sizeof w, "%s/weights.safetensors", fixture());
    long armed = fail_at;
    fail_at = 0; /* the spec itself loads: only the weights are under test */
    int rc = rnnc_load(r, spec);
    fail_at = armed;
    if (rc < 0)
        return -2;
    void *p = rnnc_load_weights(r, w);
    if (!p)
        return -1;
    long n = r->plan->nparams * r->plan->real_size;
    FILE *f = fopen(out, "wb");
    int ok = f && fwrite(p, 1, (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    free(p);
    return ok ? 0 : -3;
}

static int op_grad(Rnnc *r, const char *dir)
{
    const char *f = fixture();
    char spec[4200], w[4200], x[4200], l[4200], t[4200], out[4200];
    snprintf(spec, sizeof spec, "%s/spec.yaml", f);
    snprintf(w, sizeof w, "%s/weights.safetensors", f);
    snprintf(x, sizeof x, "%s/x.npy", f);
    snprintf(l, sizeof l, "%s/lengths.npy", f);
    snprintf(t, sizeof t, "%s/target.npy", f);
    snprintf(out, sizeof out, "%s/g.safetensors", dir);
    long armed = fail_at;
    fail_at = 0;
    int rc = rnnc_load(r, spec);
    fail_at = armed;
    if (rc < 0)
        return -2;
    RnncGradArgs a = {w, x, l, t, out, 0, 0, NULL, NULL, NULL, NULL};
    return rnnc_grad(r, &a);
}

/* Runs op in a fresh directory; the bytes of its output file (malloc'd), or NULL. */
static char *reference(Op op, const char *outfile, size_t *len)
{
    char *dir = tu_mkdtemp();
    Rnnc r;
    rnnc_init(&r);
    fail_at = 0;
    assert_int_equal(op(&r, dir), 0);
    rnnc_fini(&r);
    char *p = tu_strf("%s/%s", dir, outfile);
    char *bytes = tu_read_file(p, len);
    free(p);
    tu_rmdir(dir);
    return bytes;
}

/* Every n from 1 until the operation no longer reaches an n-th allocation. */
static void inject(Op op, const char *what, const char *outfile)
{
    long n, optional = 0;
    size_t nref;
    char *ref = reference(op, outfile, &nref);
    assert_non_null(ref);
    for (n = 1;; n++) {
        char *dir = tu_mkdtemp();
        Rnnc r;
        rnnc_init(&r);
        fail_at = n;
        count = 0;
        failed = 0;
        int rc = op(&r, dir);
        fail_at = 0;
        if (rc == -2)
            fail_msg("%s: the spec did not load without injection", what);
        char *p = tu_strf("%s/%s", dir, outfile);
        if (failed && rc == 0) { /* an optional allocation: the same result without it */
            size_t ngot;
            char *got = tu_read_file(p, &ngot);
            if (!got || ngot != nref || memcmp(got, ref, nref) != 0)
                fail_msg("%s: allocation %ld failed; the call succeeded with another result", what,
                         n);
            free(got);
            optional++;
        } else if (failed) {
            if (rc != -1)
                fail_msg("%s: allocation %ld failed, yet the call returned %d", what, n, rc);
            if (r.diag.nerrors == 0)
                fail_msg("%s: allocation %ld failed without a diagnostic", what, n);
            if (tu_exists(p))
                fail_msg("%s: allocation %ld failed, but %s was written", what, n, outfile);
        }
        free(p);
        rnnc_fini(&r);
        tu_rmdir(dir);
        if (!failed) {
            if (rc != 0)
                fail_msg("%s: fails (%d) without injection", what, rc);
            break;
        }
    }
    printf("%s: %ld allocations, each failed once: clean errors (%ld optional ones: the same "
           "result)\n",
           what, n - 1, optional);
    assert_true(n > 3);
    free(ref);
}

static void test_compile(void **state)
{
    (void)state;
    inject(op_compile, "compile", "m.c");
}

static void test_weights(void **state)
{
    (void)state;
    inject(op_weights, "weights load", "params.bin");
}

static void test_grad(void **state)
{
    (void)state;
    inject(op_grad, "gradient step", "g.safetensors");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
