/* rt_util.h — internal helpers shared by librnnrt's file readers and writers (npy, the
 * safetensors files, pt): error messages, opening a file for reading, host byte order and byte
 * swapping, and the atomic (temporary file + rename) file write. Not part of the public
 * rnnrt.h API; the rnnrt_util_ prefix keeps the names clear of the caller's.
 */
#ifndef RNNRT_RT_UTIL_H
#define RNNRT_RT_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "rnnrt.h"

/* Formats the message into err->msg (truncated to fit); does nothing if `err` is NULL. */
void rnnrt_util_set_err(RnnrtError *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties err->msg (the start of each public call); does nothing if `err` is NULL. */
void rnnrt_util_clear_err(RnnrtError *err);

/* Opens `path` for binary reading. Returns the stream, or NULL with
 * "<path>: cannot open: <strerror>" in `err`. */
FILE *rnnrt_util_open_read(const char *path, RnnrtError *err);

/* 1 if the host is little-endian, 0 if big-endian. */
int rnnrt_util_host_is_le(void);

/* Reverses the bytes of each of the `n` elements of `size` bytes at `p`, in place. */
void rnnrt_util_byteswap(void *p, size_t n, int size);

/* Writes the `n` buffers (`bufs[i]` of `lens[i]` bytes; a zero length may have a NULL
 * buffer) in order to `path` via a temporary file in the same directory and rename(2).
 * Returns 0, or -1 with a "<path>: ..." message in `err`; on failure the temporary file
 * is removed and `path` is untouched. The new file gets the mode of the file it
 * replaces, or 0644. */
int rnnrt_util_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n,
                            RnnrtError *err);

/* A growable byte string for the writers (the safetensors header, the .pt pickle); `oom`
 * is set, and sticks, when an allocation fails; the bytes are always followed by a NUL. */
typedef struct RnnrtBuf {
    char *p; /* malloc'd; the caller frees it */
    size_t len, cap;
    int oom;
} RnnrtBuf;
/* Appends n bytes. */
void rnnrt_buf_put(RnnrtBuf *b, const void *s, size_t n);
/* Appends printf-formatted text. */
void rnnrt_buf_printf(RnnrtBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
