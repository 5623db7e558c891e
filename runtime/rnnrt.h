/* rnnrt.h — the runtime library of rnnc (librnnrt): what needs no specialising.
 * Owns NumPy .npy, safetensors and PyTorch .pt I/O and the matching of a weights file against
 * the tensor table that the compiler's plan records. Never prints, never exits:
 * every function returns 0 on success or a negative code and fills an RnnrtError.
 */
#ifndef RNNRT_H
#define RNNRT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNNRT_MAX_DIMS 8

/* One error report: one or more lines, each a complete sentence, no trailing newline. */
typedef struct RnnrtError {
    char msg[4096];
} RnnrtError;

typedef enum RnnrtDtype { RNNRT_F32, RNNRT_F64, RNNRT_I32, RNNRT_I64 } RnnrtDtype;

/* A dense C-order array in native byte order. `data` is owned (malloc'd). */
typedef struct RnnrtArray {
    RnnrtDtype dtype;
    int ndim;
    long shape[RNNRT_MAX_DIMS];
    void *data;
} RnnrtArray;

/* Size in bytes of one element of `dt`. */
int rnnrt_dtype_size(RnnrtDtype dt);
/* Number of elements of `a` (product of its shape; 1 for ndim 0). */
long rnnrt_array_numel(const RnnrtArray *a);
/* Frees a->data and zeroes *a. Safe on a zeroed array. */
void rnnrt_array_free(RnnrtArray *a);

/* Reads a .npy file (versions 1.0, 2.0, 3.0; little- or big-endian f4, f8, i4, i8;
 * C or Fortran order). The shape must match the file's size and fit in memory
 * (rnnrt_mem_check) before anything is allocated for the data. On error returns -1, leaves
 * *out zeroed and says why, naming the path. */
int rnnrt_npy_read(const char *path, RnnrtArray *out, RnnrtError *err);
/* A memory mapping that an array's data may point into. */
typedef struct RnnrtMap {
    void *base; /* NULL: the data was read into memory (malloc'd) instead */
    size_t len;
} RnnrtMap;
/* As rnnrt_npy_read, but the data is memory-mapped (read-only: pages are read when touched,
 * so a large file costs no memory up front) when the file's bytes are the array's (native
 * byte order, C order, aligned); otherwise read. Release with rnnrt_npy_unmap, never with
 * rnnrt_array_free. */
int rnnrt_npy_map(const char *path, RnnrtArray *out, RnnrtMap *map, RnnrtError *err);
/* Releases what rnnrt_npy_map gave: unmaps, or frees; zeroes *a. */
void rnnrt_npy_unmap(RnnrtArray *a, RnnrtMap *map);
/* As rnnrt_npy_read, from the `len` bytes at `buf` (a whole file's contents; the caller
 * keeps them); `name` stands for the path in messages. */
int rnnrt_npy_read_mem(const void *buf, size_t len, const char *name, RnnrtArray *out,
                       RnnrtError *err);
/* Writes `a` as a version 1.0 .npy file atomically (temporary file in the same directory,
 * then rename): on any error no file at `path` is created or changed. */
int rnnrt_npy_write(const char *path, const RnnrtArray *a, RnnrtError *err);

/* Writes n bytes of `data` to `path` atomically (a temporary file in the same directory, then
 * rename), so that a failure leaves nothing half-written; a path that is a device or a pipe
 * (/dev/stdout, a fifo) is written in place instead, never renamed over. */
int rnnrt_write_file(const char *path, const void *data, size_t n, RnnrtError *err);

/* One tensor of a safetensors file. */
typedef struct RnnrtTensor {
    char *name;
    RnnrtDtype dtype;
    int ndim;
    long shape[RNNRT_MAX_DIMS];
    void *data;
} RnnrtTensor;

typedef struct RnnrtTensorFile {
    int n;
    RnnrtTensor *t; /* (n), in file header order */
} RnnrtTensorFile;

/* Reads a whole safetensors file (dtypes F32, F64, I32, I64). The header must be strict
 * JSON (RFC 8259: no YAML anchors, aliases, tags or comments; surrogate-pair escapes are
 * decoded) in UTF-8; `__metadata__` (an object of strings) is skipped, as are unknown fields
 * of an entry. Validates names (no duplicates), dtypes, shapes, and offsets: sorted, the
 * tensors must tile the data buffer exactly, from 0 to the end of the file, as the reference
 * implementation requires. On error returns -1 with *out empty. */
int rnnrt_st_read(const char *path, RnnrtTensorFile *out, RnnrtError *err);
/* As rnnrt_st_read, from the `len` bytes at `buf` (a whole file's contents; the caller keeps
 * them); `name` stands for the path in messages. */
int rnnrt_st_read_mem(const void *buf, size_t len, const char *name, RnnrtTensorFile *out,
                      RnnrtError *err);
/* Writes tensors as safetensors atomically (temp file + rename), header padded to 8 bytes.
 * Names must be distinct, well-formed UTF-8 and not `__metadata__`; in the header, quotes,
 * backslashes, C0 and C1 controls, DEL and U+FFFE/U+FFFF are written as JSON escapes. What
 * it writes, rnnrt_st_read reads back equal. */
int rnnrt_st_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err);
/* The tensor called `name`, or NULL. */
const RnnrtTensor *rnnrt_st_find(const RnnrtTensorFile *f, const char *name);
void rnnrt_st_free(RnnrtTensorFile *f);

/* ---- PyTorch .pt files (pt.c, pickle.c) ------------------------------------------------ */

/* Reads a state_dict saved by torch.save(model.state_dict(), path) in the zip format of
 * PyTorch >= 1.6 (any top folder name). Only the pickle opcodes and globals torch.save writes
 * for a dict of tensors are accepted and nothing in the file is run: a whole pickled model,
 * a TorchScript archive, the legacy (pre-1.6) format and any other global are refused with
 * a message saying what to do. Storages float32, float64, float16 and bfloat16 (the last two
 * widened to F32 exactly), int32 and int64; strided views of a storage (with any offset,
 * transposed, sliced, shared) are gathered into C order. Tensors are in the state_dict's
 * order; names are unique. Sizes, offsets and strides are checked against the archive and
 * against limits (64 MiB of pickle, 16 GiB of data; pt.h). On error returns -1 with *out
 * empty and a message naming the path.
 * Free *out with rnnrt_st_free. */
int rnnrt_pt_read(const char *path, RnnrtTensorFile *out, RnnrtError *err);
/* Writes tensors (F32/F64/I32/I64, C order, unique names) as a file torch.load reads:
 * an OrderedDict of tensors in the layout torch.save produces (archive/data.pkl,
 * archive/byteorder, archive/data/<i>, archive/version; stored, data aligned to 64 bytes,
 * no timestamps). Atomic like rnnrt_write_file. At most 4 GiB (no zip64). */
int rnnrt_pt_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err);
/* Reads a tensor file of either format, chosen by content: a zip (PK\3\4) or a pickle
 * goes to rnnrt_pt_read, anything else to rnnrt_st_read. Free *out with rnnrt_st_free. */
int rnnrt_tensors_read(const char *path, RnnrtTensorFile *out, RnnrtError *err);
/* Writes with rnnrt_pt_write when `path` ends in .pt or .pth (any case), else with
 * rnnrt_st_write. */
int rnnrt_tensors_write(const char *path, const RnnrtTensor *ts, int n, RnnrtError *err);

/* One parameter tensor the model expects, in the model's flat parameter block. */
typedef struct RnnrtParamSpec {
    const char *name; /* PyTorch state_dict name, e.g. "rnn.weight_ih_l0" */
    int ndim;         /* 1 or 2 */
    long shape[2];
    long offset; /* in elements from the start of the flat block */
} RnnrtParamSpec;

/* Copies every tensor named in `specs` from `f` into `params` (a flat block of float when
 * `dbl` is 0, of double otherwise), converting F32/F64 as needed. Reports, all in one
 * error: each missing tensor with its expected shape, each extra tensor, each tensor of
 * the wrong shape (found and expected), each tensor of a non-float dtype. */
int rnnrt_params_load(const RnnrtTensorFile *f, const RnnrtParamSpec *specs, int n, int dbl,
                      void *params, RnnrtError *err);

/* ---- memory (npy.c) -------------------------------------------------------------- */

/* The product of the `n` factors, saturated: SIZE_MAX when it overflows size_t or a factor
 * is negative, so that a chain of these ends in SIZE_MAX, which rnnrt_mem_check refuses.
 * n = 0 gives 1. E.g. rnnrt_mem_product((long[]){B, T, I, sizeof(float)}, 4). */
size_t rnnrt_mem_product(const long *factors, int n);
/* a + b, saturated at SIZE_MAX. */
size_t rnnrt_mem_sum(size_t a, size_t b);
/* Bytes of memory this process can have: the machine's physical memory
 * (sysconf(_SC_PHYS_PAGES) * page size), lowered by RLIMIT_AS and RLIMIT_DATA where set;
 * 0 when it cannot be told. */
size_t rnnrt_mem_available(void);
/* Whether `bytes` of memory can be asked for, before asking: 0, or -1 with
 * "<what> needs N bytes (X GB), more than the Y GB of memory of this machine" (or "more than
 * can be addressed" for SIZE_MAX, the saturated result of an overflow) in `err`. `what`
 * names the allocation, e.g. "x.npy: the input, B=64 x T=100000 x I=512 floats". */
int rnnrt_mem_check(size_t bytes, const char *what, RnnrtError *err);

/* ---- losses (loss.c) ------------------------------------------------------------- */

typedef enum RnnrtLossKind {
    RNNRT_LOSS_CROSS_ENTROPY,
    RNNRT_LOSS_MSE,
    RNNRT_LOSS_BCE
} RnnrtLossKind;
typedef enum RnnrtAct { RNNRT_ACT_NONE, RNNRT_ACT_SOFTMAX, RNNRT_ACT_SIGMOID } RnnrtAct;

/* One batch's outputs and what the loss needs to know about them. Per-step outputs are
 * (B, T, O) if batch_first else (T, B, O); per-sequence outputs are (B, O). */
typedef struct RnnrtLossArgs {
    RnnrtLossKind kind;
    int dbl; /* arrays are double (else float) */
    int B, T, O;
    int per_step, batch_first;
    const int *len;     /* (B) valid steps of each sequence */
    const void *logits; /* the head's output before its activation; NULL: no head */
    const void *y;      /* the output (after the head's activation) */
    RnnrtAct act;       /* the head's activation */
    double denom;       /* > 0: the mean divides by this count (the valid elements of a whole
                           batch of which these B sequences are a share); 0: by their own */
    const int *rows;    /* NULL, or (B) each sequence's row in the target file, for messages */
} RnnrtLossArgs;

/* The number of valid elements the mean of rnnrt_loss is over (target checked as there,
 * class ids not): what a share contributes to a whole batch's denominator. */
long rnnrt_loss_count(const RnnrtLossArgs *a, const RnnrtArray *target);

/* Mean loss over the valid elements (cross_entropy: over valid sequences or steps whose
 * target is not -100, on the logits; bce_with_logits: on the logits, or y without a head;
 * mse: on y) and its gradient `dout` (model precision, y's layout) with respect to the
 * logits, or to y without a head. `target`: int32/int64 class ids (B,) or per step for
 * cross_entropy, else a float array of y's shape. Returns 0 and sets *loss, or -1 with a
 * message naming `target_name` (a bad shape, dtype or class id). */
int rnnrt_loss(const RnnrtLossArgs *a, const RnnrtArray *target, const char *target_name,
               double *loss, void *dout, RnnrtError *err);

/* ---- optimizers (optim.c) --------------------------------------------------------- */

typedef enum RnnrtOptKind { RNNRT_SGD, RNNRT_ADAM, RNNRT_ADAMW } RnnrtOptKind;

/* PyTorch's SGD (momentum, nesterov, weight decay; dampening 0), Adam and AdamW (amsgrad
 * off), element for element over one flat parameter block, in the model precision with
 * PyTorch's order of operations. */
typedef struct RnnrtOptim {
    RnnrtOptKind kind;
    double lr, momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    int dbl;   /* params, grads and state are double (else float) */
    long n;    /* parameters */
    long step; /* steps taken */
    void *m;   /* (n) SGD's momentum buffer, or Adam's exp_avg */
    void *v;   /* (n) Adam's exp_avg_sq; NULL for SGD */
} RnnrtOptim;

/* Fills in *o from the settings already in it (kind, lr, ...): allocates zeroed state for
 * n parameters. -1 when out of memory. */
int rnnrt_optim_init(RnnrtOptim *o, long n, int dbl, RnnrtError *err);
void rnnrt_optim_free(RnnrtOptim *o);
/* One update of `params` (n) from `grads` (n). */
void rnnrt_optim_step(RnnrtOptim *o, void *params, const void *grads);
/* clip_grad_norm_: scales grads so their global 2-norm is at most max_norm (PyTorch's
 * max_norm / (norm + 1e-6) factor, clamped at 1); returns the norm before clipping. */
double rnnrt_clip_grad_norm(void *grads, long n, int dbl, double max_norm);
/* The global 2-norm of n gradients (summed in double, in order). */
double rnnrt_grad_norm(const void *grads, long n, int dbl);
/* clip_grad_value_: clamps every gradient to [-value, value]. */
void rnnrt_clip_grad_value(void *grads, long n, int dbl, double value);

#ifdef __cplusplus
}
#endif
#endif
