/* pickle.h — internal to librnnrt: the strict pickle reader (pickle_read.c, pickle_obj.c)
 * and writer (pickle_write.c) behind pt.c and pt_write.c.
 * The reader understands only what torch.save writes for a state_dict (an OrderedDict of
 * tensors) and executes nothing; the writer produces the same shape of pickle. Not part of
 * the public rnnrt.h API.
 */
#ifndef RNNRT_PICKLE_H
#define RNNRT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "rnnrt.h"

/* Element types of the torch storages the reader knows (PKL_OTHER: known, not readable). */
typedef enum PklDtype {
    PKL_F32,
    PKL_F64,
    PKL_F16,
    PKL_BF16,
    PKL_I32,
    PKL_I64,
    PKL_OTHER
} PklDtype;

/* One tensor of the state_dict: a strided view of a storage that lives in the archive
 * entry data/<storage>. All strings are NUL-terminated and owned by the PklDict. */
typedef struct PklTensor {
    const char *name;       /* state_dict key */
    const char *storage;    /* storage key (the entry's name under data/) */
    const char *type_name;  /* torch's storage class, e.g. "FloatStorage" */
    const char *dtype_name; /* e.g. "float32" */
    PklDtype dtype;
    int elsize;            /* bytes per element of the storage */
    int64_t storage_numel; /* elements of the storage, as the pickle declares */
    int64_t offset;        /* storage offset, in elements */
    int ndim;
    int64_t shape[RNNRT_MAX_DIMS];  /* (ndim) */
    int64_t stride[RNNRT_MAX_DIMS]; /* (ndim) in elements, all >= 0 */
} PklTensor;

/* A parsed state_dict, in the pickle's key order, names unique. */
typedef struct PklDict {
    int n;
    PklTensor *t; /* (n) */
    void *arena;  /* owns every string and the array */
} PklDict;

/* Limits of the reader (each refusal names the limit). */
#define PKL_MAX_STACK (1 << 20)    /* values on the stack */
#define PKL_MAX_MARKS 256          /* MARKs open at once (nesting depth) */
#define PKL_MAX_MEMO (1 << 24)     /* memo index */
#define PKL_MEMO_GAP 256           /* a memo index may skip at most this many unused slots */
#define PKL_MAX_ARENA (1ULL << 30) /* bytes of parsed objects */

/* Parses the pickle `buf` (n bytes) as a torch.save'd state_dict into *out. Every message
 * starts with `where` (e.g. "model.pt: archive/data.pkl"). Only the opcodes and globals of
 * a torch.save'd state_dict are accepted (collections.OrderedDict, the tensor and parameter
 * rebuilders of torch._utils, torch's storage classes); anything else, a whole pickled
 * module included, is refused with a message naming it. Tensors are checked for shape and
 * stride sanity but not against their storages (pt.c does that). Returns 0, or -1 with
 * *out zeroed. Free with rnnrt_pkl_free. */
int rnnrt_pkl_read(const unsigned char *buf, size_t n, const char *where, PklDict *out,
                   RnnrtError *err);
/* Frees what rnnrt_pkl_read allocated and zeroes *d; safe on a zeroed PklDict. */
void rnnrt_pkl_free(PklDict *d);

/* Writes the pickle of an OrderedDict holding `ts` (n tensors, C order, F32/F64/I32/I64)
 * the way torch.save does, tensor i in storage "i" of ts[i]'s elements. On success returns
 * 0 and a malloc'd buffer in *buf (*len bytes) that the caller frees; -1 when out of
 * memory. The tensors must already be validated (names, dtypes, shapes). */
int rnnrt_pkl_write(const RnnrtTensor *ts, int n, unsigned char **buf, size_t *len);

#endif
