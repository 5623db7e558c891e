/* host.h — what the host modules share (load, io, run, deploy, grad, train, checkpoint,
 * random, model): the Rnnc handle's insides, one run's buffers, and the helpers that turn
 * runtime errors into diagnostics. Internal: the public API is include/rnnc.h.
 */
#ifndef RNNC_HOST_H
#define RNNC_HOST_H

#include "arena.h"
#include "diag.h"
#include "jit.h"
#include "net.h"
#include "plan.h"
#include "rnnc.h"
#include "rnnrt.h"
#include "spec.h"

/* One --rename: the file's prefix `old` is the spec's `nw` ("": strip `old`). */
typedef struct HostRename {
    const char *old, *nw;
} HostRename;
enum { RNNC_MAX_RENAMES = 64 };

/* A loaded spec: the compiler's products, all in one arena, and how to compile them. */
struct Rnnc {
    Arena arena; /* everything below lives here */
    DiagList diag;
    SpecDoc *doc;
    const Net *net;
    const Plan *plan;
    JitKind jit; /* how run, grad and train compile the code (JIT_TCC by default) */
    int nren;    /* rnnc_rename's, applied to every weights file read */
    HostRename ren[RNNC_MAX_RENAMES];
};

/* A handle on the stack (tests, the REPL): rnnc_init, then rnnc_fini. */
void rnnc_init(Rnnc *r);
void rnnc_fini(Rnnc *r);

/* ---- load.c ---------------------------------------------------------------------- */

/* Generates the loaded model's JIT unit (with the training API when `train`), shaped for
 * and compiled by `kind`, filling *fns. The module (free with jit_free), or NULL with errors
 * in r->diag. */
JitModule *host_compile(Rnnc *r, JitKind kind, int train, ModelFns *fns);
/* As host_compile, and *gen_end_ms: the monotonic clock (ms) when generation ended. */
JitModule *host_compile_timed(Rnnc *r, JitKind kind, int train, ModelFns *fns, double *gen_end_ms);

/* ---- io.c: tensor tables and arrays <-> files ------------------------------------- */

/* Everything one run holds, freed by io_data_free. */
typedef struct RunData {
    RnnrtArray x, lengths;
    RnnrtMap xmap; /* x is memory-mapped when io_load_inputs was asked to (map_x) */
    int map_x;
    void *params, *packed, *xr, *y, *h_n, *c_n;
    void *h0, *c0; /* the top block's initial state, or NULL */
    int *len;
    JitModule *jit;
} RunData;

void io_data_free(RunData *d);
/* Adds each line of a runtime error as a diagnostic, after `prefix` when not NULL. */
void io_rt_error_in(Rnnc *r, const char *prefix, const RnnrtError *e);
void io_rt_error(Rnnc *r, const RnnrtError *e);
/* A fresh copy of a float array in the model precision; NULL when out of memory. */
void *io_to_real(const RnnrtArray *a, int dbl, long n);
/* n bytes (at least 64) on a 64-byte boundary, zeroed, for free(): the generated code's
 * packed weights, their gradient, its scratch and training cache, whose regions the plan
 * lays 64 bytes apart, so that no vector load of theirs straddles two cache lines (malloc's
 * large blocks start 16 bytes past one). NULL when out of memory. */
void *io_alloc64(size_t n);
/* "(2, 3, 4)" into buf. */
void io_fmt_shape(char *buf, size_t n, const long *shape, int ndim);
/* Reads a->input (and a->lengths) into d, checked against the spec; sets B and T. */
int io_load_inputs(Rnnc *r, const RnncRunArgs *a, RunData *d, int *B, int *T);
/* Writes `data` (model precision, `shape`) to the .npy file `path` and adds it to written[]
 * (*nw of them); on failure removes every file written[] names. 0, or -1 with the error in
 * r->diag. */
int io_save(Rnnc *r, const char *path, int dbl, void *data, int ndim, const long *shape,
            const char **written, int *nw);
/* The top block's initial h (c when `c`) from the .npy at `path`: (L*D, B, Hr) (H for c) as
 * h_n's layout, float32/float64, into a fresh block of the model's precision (free with free).
 * NULL after a diagnostic naming `what` ("--h0") and the expected shape, or a c for a top
 * block that is no LSTM. */
void *io_load_state(Rnnc *r, const char *path, const char *what, int c, int B);
/* The top block's state h (L*D, B, Hr) and c (L*D, B, H) (either NULL: zeros) into `state`,
 * B sequences in the plan's state layout (state0 of the training unit; the rest zero); and
 * the top block's part of `state` out into h and c (either NULL: not wanted). */
void io_state_put(const Plan *p, int B, const void *h, const void *c, void *state);
void io_state_get(const Plan *p, int B, const void *state, void *h, void *c);
/* The parameter tensors of the plan, pointing into `params` (model precision): an array of
 * plan->ntensors (malloc'd; names borrowed from the plan), or NULL when out of memory. */
RnnrtTensor *io_tensor_table(const Plan *p, void *params);

/* The state_dict tensors of `params` (model precision) written to `path` (safetensors).
 * 0, or -1 with the error in r->diag. */
int io_save_params(Rnnc *r, const char *path, const void *params);
/* n reals of the model precision (double when dbl, else float) to doubles, and back. */
void io_to_double(double *dst, const void *src, long n, int dbl);
void io_from_double(void *dst, const double *src, long n, int dbl);
/* The runtime's names for the spec's loss and head activation. */
RnnrtLossKind io_loss_kind(LossKind k);
RnnrtAct io_head_act(HeadAct a);

/* ---- names.c: a weights file's names against the plan's --------------------------- */

/* Each plan tensor's name in the file f (the spec's weights: and the renames applied), in
 * the plan's order: an array in r's arena, or NULL (out of memory, diagnosed). */
const char **names_resolve(Rnnc *r, const RnnrtTensorFile *f);
/* When every tensor of a block or the head (names[], from names_resolve) is missing from f
 * while f has them all, with the plan's shapes, under another prefix: an error per such part
 * and a note with the --rename options and the spec's weights: that fix it; their plan
 * tensors and the file's tensors they found are marked in plan_done[] (plan->ntensors) and
 * file_done[] (f->n). Returns how many parts. */
int names_suggest(Rnnc *r, const RnnrtTensorFile *f, const char *path, const char **names,
                  unsigned char *plan_done, unsigned char *file_done);

/* ---- random.c: the one random source of training ----------------------------------- */

/* splitmix64's next value of state *s. */
unsigned long long random_next(unsigned long long *s);
/* Uniform in [0, 1) with 53 random bits. */
double random_uniform(unsigned long long *s);
/* PyTorch's initialisation of every parameter (state_dict order) from `seed`. */
void random_init_params(const Plan *p, void *params, long seed);
/* order[0..N): 0..N-1, shuffled from (seed, epoch) when `shuffle`. */
void random_epoch_order(int *order, int N, int shuffle, long seed, long epoch);
/* Dropout masks of a batch of B sequences of T steps in the plan's dropout layout, each
 * sequence's drawn from `seed` and its id ids[b] (NULL: b) alone; NULL when no layer has
 * dropout (or out of memory: check *oom). */
void *random_dropout_masks(const Plan *p, int B, int T, unsigned long long seed, const int *ids,
                           int *oom);

#endif
