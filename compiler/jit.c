/* jit.c — libtcc in-process compilation of generated models (the only user of libtcc.h).
 * Debian's libtcc 0.9.27: output type first, tcc_relocate with TCC_RELOCATE_AUTO, and the
 * runtime library (libtcc1.a) found through tcc_set_lib_path.
 */
#define _POSIX_C_SOURCE 200809L
#include "jit.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libtcc.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef RNNC_TCC_LIB_PATH
#define RNNC_TCC_LIB_PATH "/usr/lib/x86_64-linux-gnu/tcc"
#endif

volatile int jit_in_libtcc;

struct JitModule {
    TCCState *s; /* JIT_TCC */
    void *so;    /* JIT_CC: the dlopen handle */
};

typedef struct ErrSink {
    DiagList *d;
    int n;
} ErrSink;

static void on_tcc_error(void *opaque, const char *msg)
{
    ErrSink *e = opaque;
    if (e->n++ < 20)
        diag_error(e->d, span_none(), "JIT compile (libtcc): %s", msg);
}

/* Wrappers with exact prototypes: the addresses libm exports may be IFUNC resolvers. */
static float jit_expf(float v)
{
    return expf(v);
}
static float jit_tanhf(float v)
{
    return tanhf(v);
}
static double jit_exp(double v)
{
    return exp(v);
}
static double jit_tanh(double v)
{
    return tanh(v);
}

/* Function to object pointer, as POSIX allows (ISO C does not say). */
static void add_f32(TCCState *s, const char *name, float (*fn)(float))
{
    const void *p;
    memcpy(&p, &fn, sizeof p);
    tcc_add_symbol(s, name, p);
}

static void add_f64(TCCState *s, const char *name, double (*fn)(double))
{
    const void *p;
    memcpy(&p, &fn, sizeof p);
    tcc_add_symbol(s, name, p);
}

static JitModule *compile_cc(const char *source, DiagList *d);

/* One entry point `<prefix>_v_<what>` into *slot (a function pointer of the right type: POSIX
 * guarantees the object-to-function pointer conversion, as for dlsym). 0, or -1 when absent. */
static int entry(JitModule *m, const char *prefix, const char *what, void *slot, DiagList *d)
{
    char name[160];
    snprintf(name, sizeof name, "%s_%s", prefix, what);
    void *p = jit_symbol(m, name);
    if (!p) {
        diag_error(d, span_none(), "JIT: generated code has no symbol '%s'", name);
        return -1;
    }
    memcpy(slot, &p, sizeof p);
    return 0;
}

/* Fills the model's function table, the only place that does; frees m on failure. Without
 * a prefix, m as it is (the caller looks its symbols up). */
static JitModule *fill_fns(JitModule *m, const char *prefix, int train, ModelFns *fns, DiagList *d)
{
    if (!prefix)
        return m;
    memset(fns, 0, sizeof *fns);
    int bad = entry(m, prefix, "scratch_bytes", &fns->scratch_bytes, d) |
              entry(m, prefix, "v_pack", &fns->pack, d) |
              entry(m, prefix, "v_forward", &fns->forward, d) |
              entry(m, prefix, "v_forward_par", &fns->forward_par, d);
    if (train)
        bad |= entry(m, prefix, "train_bytes", &fns->train_bytes, d) |
               entry(m, prefix, "v_forward_train", &fns->forward_train, d) |
               entry(m, prefix, "v_backward", &fns->backward, d) |
               entry(m, prefix, "v_unpack_grads", &fns->unpack_grads, d) |
               entry(m, prefix, "v_acts", &fns->acts, d);
    if (bad) {
        jit_free(m);
        return NULL;
    }
    return m;
}

JitModule *jit_compile(JitKind kind, const char *source, const char *prefix, int train,
                       ModelFns *fns, DiagList *d)
{
    if (kind == JIT_CC) {
        JitModule *m = compile_cc(source, d);
        if (!m)
            return NULL;
        return fill_fns(m, prefix, train, fns, d);
    }
    JitModule *m = calloc(1, sizeof *m);
    if (!m)
        goto oom;
    jit_in_libtcc++; /* until the relocation, every call below runs inside libtcc */
    m->s = tcc_new();
    if (!m->s) {
        jit_in_libtcc--;
        goto oom;
    }
    ErrSink sink = {d, 0};
    tcc_set_error_func(m->s, &sink, on_tcc_error);
    tcc_set_output_type(m->s, TCC_OUTPUT_MEMORY);
    tcc_set_lib_path(m->s, RNNC_TCC_LIB_PATH);
    tcc_set_options(m->s, "-nostdlib");
    add_f32(m->s, "expf", jit_expf);
    add_f32(m->s, "tanhf", jit_tanhf);
    add_f64(m->s, "exp", jit_exp);
    add_f64(m->s, "tanh", jit_tanh);
    int bad = tcc_compile_string(m->s, source) < 0 || tcc_relocate(m->s, TCC_RELOCATE_AUTO) < 0;
    jit_in_libtcc--;
    if (bad) {
        if (sink.n == 0)
            diag_error(d, span_none(), "JIT: libtcc failed without a message");
        jit_free(m);
        return NULL;
    }
    return fill_fns(m, prefix, train, fns, d);
oom:
    free(m);
    diag_error(d, span_none(), "JIT: out of memory");
    return NULL;
}

void *jit_symbol(JitModule *m, const char *name)
{
    return m->so ? dlsym(m->so, name) : tcc_get_symbol(m->s, name);
}

void jit_free(JitModule *m)
{
    if (!m)
        return;
    if (m->s) {
        jit_in_libtcc++;
        tcc_delete(m->s);
        jit_in_libtcc--;
    }
    if (m->so)
        dlclose(m->so);
    free(m);
}

/* ---- the system compiler, with a cache --------------------------------------------- */

static const char *const cc_flags[] = {"-std=c11", "-O3",     "-march=native",
                                       "-fPIC",    "-shared", NULL};

static unsigned long long fnv1a(unsigned long long h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void jit_cache_dir(char *out, size_t n)
{
    const char *v;
    if ((v = getenv("RNNC_CACHE_DIR")) && *v)
        snprintf(out, n, "%s", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v)
        snprintf(out, n, "%s/rnnc", v);
    else if ((v = getenv("HOME")) && *v)
        snprintf(out, n, "%s/.cache/rnnc", v);
    else
        snprintf(out, n, "/tmp/rnnc-cache-%ld", (long)getuid());
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Runs the compiler on c_path into so_path; its messages go to err_path. 0 on success. */
static int run_cc(const char *cc, const char *c_path, const char *so_path, const char *err_path)
{
    const char *argv[16];
    int k = 0;
    argv[k++] = cc;
    for (int i = 0; cc_flags[i]; i++)
        argv[k++] = cc_flags[i];
    argv[k++] = "-o";
    argv[k++] = so_path;
    argv[k++] = c_path;
    argv[k++] = "-lm";
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    char *const *av = (char *const *)(void *)argv;
    int rc = posix_spawnp(&pid, cc, &fa, NULL, av, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Compiles `source` with the system compiler, or finds it compiled in the cache. A new
 * object is built under a unique temporary name and renamed into place, so two processes
 * at once, or a crash mid-write, never leave a broken file under the final name. */
static JitModule *compile_cc(const char *source, DiagList *d)
{
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    unsigned long long h = fnv1a(0xcbf29ce484222325ull, source);
    h = fnv1a(h, cc);
    for (int i = 0; cc_flags[i]; i++)
        h = fnv1a(h, cc_flags[i]);
    char dir[3000], so[3100], tmp_c[3100], tmp_so[3200], tmp_err[3200];
    jit_cache_dir(dir, sizeof dir);
    if (make_dirs(dir) < 0) {
        diag_error(d, span_none(), "--jit cc: cannot create the cache directory %s: %s", dir,
                   strerror(errno));
        return NULL;
    }
    snprintf(so, sizeof so, "%s/%016llx.so", dir, h);
    if (access(so, R_OK) != 0) {
        snprintf(tmp_c, sizeof tmp_c, "%s/%016llx.XXXXXX", dir, h);
        int fd = mkstemp(tmp_c);
        if (fd < 0) {
            diag_error(d, span_none(), "--jit cc: cannot write in %s: %s", dir, strerror(errno));
            return NULL;
        }
        /* the compiler wants a .c name: the unique name plus .c */
        char c_file[3200];
        snprintf(c_file, sizeof c_file, "%s.c", tmp_c);
        snprintf(tmp_so, sizeof tmp_so, "%s.so", tmp_c);
        snprintf(tmp_err, sizeof tmp_err, "%s.err", tmp_c);
        size_t n = strlen(source);
        int ok = write(fd, source, n) == (ssize_t)n;
        ok = close(fd) == 0 && ok && rename(tmp_c, c_file) == 0;
        if (!ok || run_cc(cc, c_file, tmp_so, tmp_err) != 0 || rename(tmp_so, so) != 0) {
            FILE *f = fopen(tmp_err, "r");
            char line[512];
            int lines = 0;
            diag_error(d, span_none(), "--jit cc: '%s' failed on the generated code", cc);
            while (f && fgets(line, sizeof line, f) && lines++ < 10) {
                line[strcspn(line, "\n")] = '\0';
                diag_note(d, span_none(), "%s", line);
            }
            if (f)
                fclose(f);
            unlink(tmp_c);
            unlink(c_file);
            unlink(tmp_so);
            unlink(tmp_err);
            return NULL;
        }
        unlink(c_file);
        unlink(tmp_err);
    }
    JitModule *m = calloc(1, sizeof *m);
    if (!m) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    m->so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!m->so) {
        diag_error(d, span_none(), "--jit cc: cannot load %s: %s", so, dlerror());
        free(m);
        return NULL;
    }
    return m;
}
