/* jit.c — in-process compilation of generated models: libtcc (the only user of libtcc.h;
 * Debian's 0.9.27: output type first, tcc_relocate with TCC_RELOCATE_AUTO, libtcc1.a found
 * through tcc_set_lib_path), the system compiler into a cache of shared objects, and
 * JIT_AUTO, which starts on libtcc and hands every entry point over to the system
 * compiler's build, made in the background, the moment it is loaded.
 */
#define _POSIX_C_SOURCE 200809L
#include "jit.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libtcc.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#ifndef RNNC_TCC_LIB_PATH
#define RNNC_TCC_LIB_PATH "/usr/lib/x86_64-linux-gnu/tcc"
#endif

typedef struct AutoJob AutoJob;
volatile int jit_in_libtcc;

struct JitModule {
    TCCState *s;  /* JIT_TCC */
    void *so;     /* JIT_CC: the dlopen handle */
    AutoJob *job; /* JIT_AUTO on libtcc: the system compiler's build in the background */
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
/* A function of jit_kern.c, by its address (its type is the generated prelude's). */
static void add_fn(TCCState *s, const char *name, void (*fn)(void))
{
    const void *p;
    memcpy(&p, &fn, sizeof p);
    tcc_add_symbol(s, name, p);
}

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
static JitModule *compile_tcc(const char *source, DiagList *d);
static void auto_release(AutoJob *j);

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
    JitModule *m = kind == JIT_TCC ? compile_tcc(source, d) : compile_cc(source, d);
    return m ? fill_fns(m, prefix, train, fns, d) : NULL;
}

static JitModule *compile_tcc(const char *source, DiagList *d)
{
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
    add_fn(m->s, "fmaf", (void (*)(void))jit_fmaf);
    add_fn(m->s, "fma", (void (*)(void))jit_fma);
    add_fn(m->s, "rnnc_product_f32", (void (*)(void))jit_product_f32);
    add_fn(m->s, "rnnc_product_f64", (void (*)(void))jit_product_f64);
    add_fn(m->s, "rnnc_product_blk_f32", (void (*)(void))jit_product_blk_f32);
    add_fn(m->s, "rnnc_product_blk_f64", (void (*)(void))jit_product_blk_f64);
    add_fn(m->s, "rnnc_sigmoid_v_f32", (void (*)(void))jit_sigmoid_v_f32);
    add_fn(m->s, "rnnc_tanh_v_f32", (void (*)(void))jit_tanh_v_f32);
    add_fn(m->s, "rnnc_sigmoid_v_f64", (void (*)(void))jit_sigmoid_v_f64);
    add_fn(m->s, "rnnc_tanh_v_f64", (void (*)(void))jit_tanh_v_f64);
    static const struct {
        const char *name;
        void (*fn)(void);
    } elems[] = {
        {"rnnc_copy_f32", (void (*)(void))jit_copy_f32},
        {"rnnc_copy_f64", (void (*)(void))jit_copy_f64},
        {"rnnc_zero_f32", (void (*)(void))jit_zero_f32},
        {"rnnc_zero_f64", (void (*)(void))jit_zero_f64},
        {"rnnc_add_f32", (void (*)(void))jit_add_f32},
        {"rnnc_add_f64", (void (*)(void))jit_add_f64},
        {"rnnc_rowsum_f32", (void (*)(void))jit_rowsum_f32},
        {"rnnc_rowsum_f64", (void (*)(void))jit_rowsum_f64},
        {"rnnc_lstm_fwd_f32", (void (*)(void))jit_lstm_fwd_f32},
        {"rnnc_lstm_fwd_f64", (void (*)(void))jit_lstm_fwd_f64},
        {"rnnc_lstm_bdz_f32", (void (*)(void))jit_lstm_bdz_f32},
        {"rnnc_lstm_bdz_f64", (void (*)(void))jit_lstm_bdz_f64},
        {"rnnc_gru_fwd_f32", (void (*)(void))jit_gru_fwd_f32},
        {"rnnc_gru_fwd_f64", (void (*)(void))jit_gru_fwd_f64},
        {"rnnc_gru_b_fwd_f32", (void (*)(void))jit_gru_b_fwd_f32},
        {"rnnc_gru_b_fwd_f64", (void (*)(void))jit_gru_b_fwd_f64},
        {"rnnc_gru_bdz_f32", (void (*)(void))jit_gru_bdz_f32},
        {"rnnc_gru_bdz_f64", (void (*)(void))jit_gru_bdz_f64},
    };
    for (size_t i = 0; i < sizeof elems / sizeof elems[0]; i++)
        add_fn(m->s, elems[i].name, elems[i].fn);
    add_fn(m->s, "rnnc_prefetch_l2", (void (*)(void))jit_prefetch_l2);
    add_fn(m->s, "rnnc_transpose_f32", (void (*)(void))jit_transpose_f32);
    add_fn(m->s, "rnnc_transpose_f64", (void (*)(void))jit_transpose_f64);
    add_fn(m->s, "rnnc_outer_f32", (void (*)(void))jit_outer_f32);
    add_fn(m->s, "rnnc_outer_f64", (void (*)(void))jit_outer_f64);
    add_f32(m->s, "rnnc_exp_f32", jit_exp_f32);
    add_f32(m->s, "rnnc_tanh_f32", jit_tanh_f32);
    add_f64(m->s, "rnnc_exp_f64", jit_exp_f64);
    add_f64(m->s, "rnnc_tanh_f64", jit_tanh_f64);
    int bad = tcc_compile_string(m->s, source) < 0 || tcc_relocate(m->s, TCC_RELOCATE_AUTO) < 0;
    jit_in_libtcc--;
    if (bad) {
        if (sink.n == 0)
            diag_error(d, span_none(), "JIT: libtcc failed without a message");
        jit_free(m);
        return NULL;
    }
    return m;
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
    if (m->job)
        auto_release(m->job);
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

/* The system compiler: $CC, else cc. */
static const char *cc_name(void)
{
    const char *cc = getenv("CC");
    return cc && *cc ? cc : "cc";
}

/* Whether the system compiler can be run: a path that is executable, or a name found in
 * $PATH. */
static int cc_present(void)
{
    const char *cc = cc_name(), *path = getenv("PATH");
    if (strchr(cc, '/'))
        return access(cc, X_OK) == 0;
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        char f[4096];
        snprintf(f, sizeof f, "%.*s/%s", (int)n, n ? p : ".", cc);
        if (access(f, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* The cache's directory (dir, made when missing) and the shared object the build of
 * `source` has there (so): its name a hash of the code, the compiler and its flags. 0, or
 * -1 when the directory cannot be made. */
static int so_path(const char *source, char *dir, size_t nd, char *so, size_t ns)
{
    unsigned long long h = fnv1a(0xcbf29ce484222325ull, source);
    h = fnv1a(h, cc_name());
    for (int i = 0; cc_flags[i]; i++)
        h = fnv1a(h, cc_flags[i]);
    jit_cache_dir(dir, nd);
    snprintf(so, ns, "%s/%016llx.so", dir, h);
    return make_dirs(dir);
}

int jit_cached(JitKind kind, const char *source)
{
    char dir[3000], so[3100];
    if (kind == JIT_TCC || so_path(source, dir, sizeof dir, so, sizeof so))
        return 0;
    return access(so, R_OK) == 0;
}

/* Writes `source` to a fresh file in dir, "<dir>/<unique>.c" into c_file; 0 or -1. */
static int write_source(const char *dir, const char *source, char *c_file, size_t n)
{
    char tmp[3100];
    snprintf(tmp, sizeof tmp, "%s/build.XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    size_t len = strlen(source);
    int ok = write(fd, source, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    snprintf(c_file, n, "%s.c", tmp);
    ok = ok && rename(tmp, c_file) == 0;
    if (!ok)
        unlink(tmp);
    return ok ? 0 : -1;
}

/* Starts the build of c_file into so through sh: the compiler writes a file of its own
 * (c_file's name with .so), renamed to so only when complete, so that two processes at
 * once, a crash, or this process ending first never leave a broken object under that name.
 * The source and so's .lock go. A foreground build (someone waits for it) keeps the
 * messages in c_file's name with .err; a background one (auto's) drops them and runs
 * niced, so that on a busy or single core the work it would replace is not slowed by it.
 * background 2: detached, the sh ends at once and leaves the build running (no one
 * waits for it; it outlives this process). The child's pid, or -1. */
static pid_t start_build(const char *c_file, const char *so, int background)
{
    static const char script[] =
        "cc=$1 c=$2 so=$3 bg=$4; shift 4; nice=; "
        "[ \"$bg\" != 0 ] && command -v nice >/dev/null 2>&1 && nice='nice -n 10'; "
        "b() { $nice \"$cc\" \"$@\" -o \"$c.so\" \"$c\" -lm >\"$c.err\" 2>&1 && "
        "mv -f \"$c.so\" \"$so\" 2>/dev/null; "
        "rc=$?; rm -f \"$c\" \"$c.so\" \"$so.lock\"; [ \"$bg\" != 0 ] && rm -f \"$c.err\"; "
        "return $rc; }; "
        "if [ \"$bg\" = 2 ]; then b \"$@\" & exit 0; fi; b \"$@\"; exit $?";
    const char *argv[24];
    int k = 0;
    argv[k++] = "sh";
    argv[k++] = "-c";
    argv[k++] = script;
    argv[k++] = "rnnc-cc";
    argv[k++] = cc_name();
    argv[k++] = c_file;
    argv[k++] = so;
    argv[k++] = background == 2 ? "2" : background ? "1" : "0";
    for (int i = 0; cc_flags[i]; i++)
        argv[k++] = cc_flags[i];
    argv[k] = NULL;
    pid_t pid;
    char *const *av = (char *const *)(void *)argv;
    /* A background build outlives short commands: it must not hold their standard streams,
     * or a pipe reading rnnc's output (`rnnc train ... | tee log`, a script's capture) waits
     * for the build's end rather than rnnc's. */
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    int ok = 1;
    for (int fd = 0; background && fd < 3; fd++)
        ok &= posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY,
                                               0) == 0;
    ok = ok && posix_spawn(&pid, "/bin/sh", &fa, NULL, av, environ) == 0;
    posix_spawn_file_actions_destroy(&fa);
    return ok ? pid : -1;
}

/* Waits for a build; 0 when it succeeded. */
static int wait_build(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The compiler's messages for a failed build of c_file, as notes (ten lines at most). */
static void build_messages(const char *c_file, DiagList *d)
{
    char err[3300], line[512];
    snprintf(err, sizeof err, "%s.err", c_file);
    FILE *f = fopen(err, "r");
    for (int lines = 0; f && fgets(line, sizeof line, f) && lines < 10; lines++) {
        line[strcspn(line, "\n")] = '\0';
        diag_note(d, span_none(), "%s", line);
    }
    if (f)
        fclose(f);
    unlink(err);
}

static JitModule *load_so(const char *so, DiagList *d)
{
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

/* Compiles `source` with the system compiler, or finds it compiled in the cache. */
static JitModule *compile_cc(const char *source, DiagList *d)
{
    char dir[3000], so[3100], c_file[3200], err[3300];
    if (so_path(source, dir, sizeof dir, so, sizeof so) < 0) {
        diag_error(d, span_none(), "--jit cc: cannot create the cache directory %s: %s", dir,
                   strerror(errno));
        return NULL;
    }
    if (access(so, R_OK) != 0) {
        if (write_source(dir, source, c_file, sizeof c_file) < 0) {
            diag_error(d, span_none(), "--jit cc: cannot write in %s: %s", dir, strerror(errno));
            return NULL;
        }
        pid_t pid = start_build(c_file, so, 0);
        if (pid < 0 || wait_build(pid) != 0) {
            diag_error(d, span_none(), "--jit cc: '%s' failed on the generated code", cc_name());
            build_messages(c_file, d);
            unlink(c_file);
            return NULL;
        }
        snprintf(err, sizeof err, "%s.err", c_file);
        unlink(err);
    }
    return load_so(so, d);
}

/* ---- JIT_AUTO: libtcc at once, the system compiler's build when it is ready ------------ */

/* The entry points an auto module hands out are trampolines: each slot's call through the
 * slot's current table, libtcc's until the build is loaded, then the build's. The two
 * compute the same bits (MADD fused in both; the same plan, so the same layouts of weights,
 * scratch and cache), so a call may go to either, even mid-run. A fixed number of slots
 * (function pointers carry no context); past them a module stays on libtcc. */
enum { AUTO_SLOTS = 8, AUTO_DELAY_MS = 1000, AUTO_WORTH_MS = 10000, AUTO_LOOK_MS = 250 };

typedef struct AutoSlot {
    _Atomic(const ModelFns *) cur;
    ModelFns tcc, cc;
} AutoSlot;

static AutoSlot slots[AUTO_SLOTS];
static int slot_used[AUTO_SLOTS]; /* under jobs_lock */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;

/* The build in the background; owned by its module and its thread, freed by the last. */
struct AutoJob {
    int slot, train, module_alive, done;
    int started;         /* the thread or the release has taken the build on */
    atomic_long left_ms; /* the work left by the caller's estimate (jit_auto_remaining), or -1 */
    pthread_cond_t wake; /* the module is going: start the build now */
    char *source;        /* the unit shaped for the system compiler; the thread frees it */
    char prefix[128], so[3100];
    JitModule *cc; /* the build, loaded */
};

#define CUR(i) atomic_load_explicit(&slots[i].cur, memory_order_acquire)
#define SLOT_FNS(i)                                                                               \
    static long a_sb##i(int B, int T)                                                             \
    {                                                                                             \
        return CUR(i)->scratch_bytes(B, T);                                                       \
    }                                                                                             \
    static void a_pk##i(const void *p, void *pw)                                                  \
    {                                                                                             \
        CUR(i)->pack(p, pw);                                                                      \
    }                                                                                             \
    static int a_fw##i(const void *w, const void *x, const int *l, int B, int T, const void *h0,  \
                       const void *c0, void *y, void *hn, void *cn, void *s)                      \
    {                                                                                             \
        return CUR(i)->forward(w, x, l, B, T, h0, c0, y, hn, cn, s);                              \
    }                                                                                             \
    static int a_fp##i(const void *w, const void *x, const int *l, int B, int T, const void *h0,  \
                       const void *c0, void *y, void *hn, void *cn, void *s, void *sh, int part,  \
                       int nparts, void (*sync)(void *), void *ctx)                               \
    {                                                                                             \
        return CUR(i)->forward_par(w, x, l, B, T, h0, c0, y, hn, cn, s, sh, part, nparts, sync,   \
                                   ctx);                                                          \
    }                                                                                             \
    static long a_tb##i(int B, int T)                                                             \
    {                                                                                             \
        return CUR(i)->train_bytes(B, T);                                                         \
    }                                                                                             \
    static int a_ft##i(const void *w, const void *x, const int *l, int B, int T, void *y,         \
                       void *lg, const void *dr, const void *s0, void *s1, void *c, int part,     \
                       int nparts, int *sched)                                                    \
    {                                                                                             \
        return CUR(i)->forward_train(w, x, l, B, T, y, lg, dr, s0, s1, c, part, nparts, sched);   \
    }                                                                                             \
    static int a_bw##i(const void *w, const void *x, int B, int T, const void *dout,              \
                       const void *dr, void *dw, void *ds0, void *c, int part, int nparts,        \
                       void (*sync)(void *, int, int, int), void *ctx)                            \
    {                                                                                             \
        return CUR(i)->backward(w, x, B, T, dout, dr, dw, ds0, c, part, nparts, sync, ctx);       \
    }                                                                                             \
    static void a_ug##i(const void *g, void *dp)                                                  \
    {                                                                                             \
        CUR(i)->unpack_grads(g, dp);                                                              \
    }                                                                                             \
    static void *a_ac##i(void *c, int B, int T, int k)                                            \
    {                                                                                             \
        return CUR(i)->acts(c, B, T, k);                                                          \
    }
#define SLOT_TABLE(i)                                                                             \
    {                                                                                             \
        a_sb##i, a_pk##i, a_fw##i, a_fp##i, a_tb##i, a_ft##i, a_bw##i, a_ug##i, a_ac##i           \
    }
SLOT_FNS(0)
SLOT_FNS(1)
SLOT_FNS(2)
SLOT_FNS(3)
SLOT_FNS(4)
SLOT_FNS(5)
SLOT_FNS(6)
SLOT_FNS(7)
static const ModelFns trampolines[AUTO_SLOTS] = {SLOT_TABLE(0), SLOT_TABLE(1), SLOT_TABLE(2),
                                                 SLOT_TABLE(3), SLOT_TABLE(4), SLOT_TABLE(5),
                                                 SLOT_TABLE(6), SLOT_TABLE(7)};

/* Frees what the job holds once neither its module nor its thread needs it (jobs_lock
 * held). */
static void auto_reap(AutoJob *j)
{
    if (j->module_alive || !j->done)
        return;
    jit_free(j->cc);
    slot_used[j->slot] = 0;
    pthread_cond_destroy(&j->wake);
    free(j->source);
    free(j);
}

/* Starts the build of j's object unless another process is building it (so's .lock, taken
 * here, is dropped by the build's script; one older than ten minutes is a crash's):
 * background 1 returns the build's pid to wait for, 2 leaves it running detached. 0 when
 * another process builds it, -1 on failure. */
static pid_t auto_spawn(AutoJob *j, int background)
{
    char dir[3000], c_file[3200], lock[3200];
    struct stat st;
    jit_cache_dir(dir, sizeof dir);
    snprintf(lock, sizeof lock, "%s.lock", j->so);
    int fd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0 && stat(lock, &st) == 0 && time(NULL) - st.st_mtime > 600) {
        unlink(lock);
        fd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0600);
    }
    if (fd < 0)
        return 0;
    close(fd);
    pid_t pid = write_source(dir, j->source, c_file, sizeof c_file) == 0
                    ? start_build(c_file, j->so, background)
                    : -1;
    if (pid < 0)
        unlink(lock);
    return pid;
}

/* The module is going. A build not yet started starts now, detached, so that the cache
 * has it for the next run; this process does not wait for it. */
static void auto_release(AutoJob *j)
{
    pthread_mutex_lock(&jobs_lock);
    int start = !j->started;
    j->started = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&jobs_lock);
    if (start && access(j->so, R_OK) != 0) {
        pid_t pid = auto_spawn(j, 2);
        if (pid > 0)
            wait_build(pid); /* the sh that leaves the build running, at once */
    }
    pthread_mutex_lock(&jobs_lock);
    j->module_alive = 0;
    auto_reap(j);
    pthread_mutex_unlock(&jobs_lock);
}

/* Whether two tables carve their memory alike (a handover needs it; the same plan gives
 * it, so this only guards against a stale object under a colliding name). */
static int same_layouts(const ModelFns *a, const ModelFns *b, int train)
{
    return a->scratch_bytes(7, 13) == b->scratch_bytes(7, 13) &&
           (!train || a->train_bytes(7, 13) == b->train_bytes(7, 13));
}

/* Builds j's object (or waits for another process's build of it) and waits for its end. */
static void auto_make(AutoJob *j)
{
    char lock[3200];
    snprintf(lock, sizeof lock, "%s.lock", j->so);
    pid_t pid = auto_spawn(j, 1);
    if (pid > 0) {
        wait_build(pid);
        return;
    }
    const struct timespec nap = {0, 20 * 1000 * 1000};
    for (int waited = 0;
         pid == 0 && access(j->so, R_OK) != 0 && access(lock, F_OK) == 0 && waited < 30000;
         waited++)
        nanosleep(&nap, NULL);
}

/* t + ms milliseconds. */
static void add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += ms % 1000 * 1000000L;
    if (t->tv_nsec >= 1000000000L)
        t->tv_sec++, t->tv_nsec -= 1000000000L;
}

/* The thread: wait, build, load, check, hand over. Any failure leaves the module on
 * libtcc. A build not in the cache starts after the module's first AUTO_DELAY_MS of work
 * (or when it goes, detached): on a machine whose cores the work keeps busy, a build
 * that starts at once slows a short run by a third and lands after it ends. Past that, it
 * waits on while the caller says less than AUTO_WORTH_MS of work is left: T1's recipe
 * (about a second) that started its build at its first second ran 1.5-1.8 s where the runs
 * that ended before it ran 1.0 s (the same command, `bench/run.py`'s end-to-end row). */
static void *auto_build(void *arg)
{
    AutoJob *j = arg;
    int mine = 1;
    if (access(j->so, R_OK) != 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until); /* the wake's clock (auto_start) */
        add_ms(&until, AUTO_DELAY_MS);
        pthread_mutex_lock(&jobs_lock);
        while (!j->started) {
            if (pthread_cond_timedwait(&j->wake, &jobs_lock, &until) == 0)
                continue; /* woken: started by the release, or not at all */
            long left = atomic_load(&j->left_ms);
            if (left < 0 || left >= AUTO_WORTH_MS)
                break;
            add_ms(&until, AUTO_LOOK_MS); /* a short run's end: look again */
        }
        mine = !j->started;
        j->started = 1;
        pthread_mutex_unlock(&jobs_lock);
        if (mine)
            auto_make(j);
    }
    Arena a;
    arena_init(&a);
    DiagList d;
    diag_init(&d, &a);
    ModelFns f;
    JitModule *m = mine && access(j->so, R_OK) == 0 ? load_so(j->so, &d) : NULL;
    if (m)
        m = fill_fns(m, j->prefix, j->train, &f, &d);
    arena_free(&a);
    pthread_mutex_lock(&jobs_lock);
    /* same_layouts calls the module's libtcc code, which jit_free deletes once auto_release
     * has cleared module_alive under this lock: a module freed while its build ran (the
     * build lands for the cache) is not handed over to, nor called */
    if (m && j->module_alive && same_layouts(&f, &slots[j->slot].tcc, j->train)) {
        slots[j->slot].cc = f;
        atomic_store_explicit(&slots[j->slot].cur, &slots[j->slot].cc, memory_order_release);
    }
    j->cc = m;
    j->done = 1;
    auto_reap(j);
    pthread_mutex_unlock(&jobs_lock);
    return NULL;
}

/* The first free slot (taken), or -1. */
static int take_slot(void)
{
    pthread_mutex_lock(&jobs_lock);
    int s = -1;
    for (int i = 0; i < AUTO_SLOTS && s < 0; i++)
        if (!slot_used[i])
            slot_used[i] = 1, s = i;
    pthread_mutex_unlock(&jobs_lock);
    return s;
}

/* Starts the background build of m (on libtcc, its table in tcc) and hands out the
 * trampolines in fns; leaves fns as libtcc's when it cannot. */
static void auto_start(JitModule *m, const char *cc_source, const char *prefix, int train,
                       ModelFns *fns)
{
    char dir[3000];
    AutoJob *j = calloc(1, sizeof *j);
    if (!j || !(j->source = strdup(cc_source)) ||
        so_path(cc_source, dir, sizeof dir, j->so, sizeof j->so) < 0 ||
        (j->slot = take_slot()) < 0) {
        if (j)
            free(j->source);
        free(j);
        return;
    }
    snprintf(j->prefix, sizeof j->prefix, "%s", prefix);
    j->train = train;
    j->module_alive = 1;
    atomic_init(&j->left_ms, -1);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a clock set back waits no longer */
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    AutoSlot *s = &slots[j->slot];
    s->tcc = *fns;
    atomic_store_explicit(&s->cur, &s->tcc, memory_order_release);
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, auto_build, j) != 0) {
        pthread_mutex_lock(&jobs_lock);
        slot_used[j->slot] = 0;
        pthread_mutex_unlock(&jobs_lock);
        pthread_cond_destroy(&j->wake);
        free(j->source);
        free(j);
        pthread_attr_destroy(&at);
        return;
    }
    pthread_attr_destroy(&at);
    m->job = j;
    *fns = trampolines[j->slot];
    if (!train)
        fns->train_bytes = NULL, fns->forward_train = NULL, fns->backward = NULL,
        fns->unpack_grads = NULL, fns->acts = NULL;
}

void jit_auto_remaining(JitModule *m, double seconds)
{
    if (m && m->job) /* the job lives as long as its module */
        atomic_store(&m->job->left_ms, seconds < 0     ? -1
                                       : seconds > 1e9 ? 1000000000L * 1000L
                                                       : (long)(seconds * 1e3));
}

JitModule *jit_compile_auto(const char *tcc_source, const char *cc_source, const char *prefix,
                            int train, ModelFns *fns, DiagList *d)
{
    static atomic_int noted;
    int have_cc = cc_present();
    if (!have_cc && !atomic_exchange(&noted, 1))
        diag_note(d, span_none(),
                  "no system compiler ('%s'): running on libtcc's code alone (--jit tcc; "
                  "unrolled layers run slower on it)",
                  cc_name());
    JitModule *m = compile_tcc(tcc_source, d);
    if (!m || !(m = fill_fns(m, prefix, train, fns, d)))
        return NULL;
    if (have_cc)
        auto_start(m, cc_source, prefix, train, fns);
    return m;
}
