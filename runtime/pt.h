/* pt.h — internal to librnnrt: the in-memory entry points of pt.c and pt_write.c (PyTorch
 * .pt files), for the fuzz target and the tests that build hostile archives. The public API
 * is rnnrt_pt_read / rnnrt_pt_write in rnnrt.h.
 */
#ifndef RNNRT_PT_H
#define RNNRT_PT_H

#include <stddef.h>
#include <stdint.h>

#include "rnnrt.h"

/* Limits of the reader; each refusal names the one it hit. */
#define PT_MAX_PICKLE ((uint64_t)64 << 20) /* bytes of data.pkl */
#define PT_MAX_BYTES ((uint64_t)16 << 30)  /* storages read plus tensors made, in bytes */
#define PT_MAX_EXPAND ((int64_t)1 << 24)   /* elements stride-0 views add beyond storages */
#define PT_MAX_RATIO 1100                  /* uncompressed / compressed size (deflate: 1032) */

/* rnnrt_pt_read on the `n` bytes at `buf` (not copied, not kept); `name` stands for the
 * path in messages. Same contract otherwise. */
int rnnrt_pt_read_mem(const void *buf, size_t n, const char *name, RnnrtTensorFile *out,
                      RnnrtError *err);

/* One entry of a zip archive to build. */
typedef struct PtEntry {
    const char *name;
    const void *data; /* (len bytes); may be NULL when len is 0 */
    size_t len;
} PtEntry;

/* Builds in memory the zip archive rnnrt_pt_write writes: the `n` entries in order, stored
 * uncompressed, each entry's data aligned to 64 bytes, no timestamps. Returns 0 and a
 * malloc'd buffer in *buf (*len bytes; the caller frees it), or -1 with a message naming
 * `name` (too large for a zip without zip64, out of memory). */
int rnnrt_pt_zip_mem(const PtEntry *e, int n, const char *name, unsigned char **buf, size_t *len,
                     RnnrtError *err);

#endif
