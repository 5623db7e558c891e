/* st_int.h — internal to librnnrt's safetensors files: what the reader (safetensors.c), the
 * writer (st_write.c) and the parameter matching (params.c) share, defined in st_util.c:
 * multi-line error reports, shapes and their byte counts, and name lookups. Not part of the
 * public rnnrt.h API; the rnnrt_sti_ prefix keeps the names clear of the caller's.
 */
#ifndef RNNRT_ST_INT_H
#define RNNRT_ST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rnnrt.h"

#define SHAPE_BUF (RNNRT_MAX_DIMS * 24 + 4) /* room for any shape rnnrt_sti_fmt_shape prints */

/* "F32", "F64", "I32", "I64", indexed by RnnrtDtype. */
extern const char *const rnnrt_sti_dtype_names[4];

/* ---- error reporting ---------------------------------------------------------------- */

/* Collects the lines of a multi-problem error report. */
typedef struct ErrList {
    RnnrtError *err; /* may be NULL: lines are then only counted */
    int lines;       /* written into err->msg */
    int dropped;     /* over the cap, only counted */
} ErrList;

/* Appends one line to e->err->msg (truncated to fit); past 20 lines, only counts it. */
void rnnrt_sti_err_line(ErrList *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends "... and N more" if lines were dropped; returns -1 if anything was reported,
 * else 0. */
int rnnrt_sti_err_finish(ErrList *e);

/* ---- shapes ------------------------------------------------------------------------- */

/* Formats the `ndim` dims as "[256, 10]" into buf (`cap` bytes, SHAPE_BUF is enough);
 * returns buf. */
const char *rnnrt_sti_fmt_shape(char *buf, size_t cap, int ndim, const long *shape);

/* Bytes of `ndim` dims (non-negative) of `size`-byte elements into *out; -1 when the product
 * of the non-zero dims overflows int64, so that no product of any of the dims, in any order,
 * that a caller forms later can overflow either. */
int rnnrt_sti_shape_bytes(int ndim, const long *shape, int size, uint64_t *out);

/* ---- names -------------------------------------------------------------------------- */

/* A name with its place, sorted to find duplicates in n log n. */
typedef struct NameRef {
    const char *name;
    int index;
} NameRef;

/* The names of the `n` tensors (NULL names skipped) with their indices, sorted by name
 * then index, in a fresh array (the caller frees it) of *count entries; NULL when out of
 * memory. */
NameRef *rnnrt_sti_sorted_names(const RnnrtTensor *ts, int n, int *count);

/* Reports each name that occurs more than once among the `n` tensors (once per name, in
 * sorted order), as "<path>: <lead>duplicate tensor name '<name>'". -1 when out of memory,
 * else 0. */
int rnnrt_sti_report_duplicates(ErrList *e, const char *path, const char *lead,
                                const RnnrtTensor *ts, int n);

#endif
