/* write.h — the only place the compiler writes files: atomically (temporary file in the
 * same directory, then rename), so a failure never leaves a half-written output.
 */
#ifndef RNNC_WRITE_H
#define RNNC_WRITE_H

#include "emit.h"

/* Writes `n` bytes of `data` to `path` atomically. 0, or -1 with a diagnostic. */
int write_file_atomic(const char *path, const char *data, size_t n, DiagList *d);

/* Writes OUT.c (`c_path`) and the header beside it (OUT.h). On failure neither file is
 * left changed-and-half-done: a header written before a failed .c is removed again. */
int write_unit(const char *c_path, const Plan *plan, DiagList *d);

/* Writes a rendered unit: its header to the header path of `c_path`, then `c_path`.
 * Neither is left behind when the second fails. */
int write_cunit(const char *c_path, const CUnit *u, DiagList *d);

/* The file name (no directory) of the header of `c_path`, into `out` (size n). */
int write_header_name(const char *c_path, char *out, size_t n);

/* The header path for `c_path` ("x/model.c" -> "x/model.h") into `out` (size n). */
int write_header_path(const char *c_path, char *out, size_t n);

#endif
