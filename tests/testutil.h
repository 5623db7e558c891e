/* testutil.h — helpers shared by the cmocka suites: paths from the environment meson sets
 * (RNNC_SOURCE_ROOT, RNNC_BIN), running a command with its output captured, temporary
 * directories, and the closeness assertion cmocka lacks (it reports the worst index).
 */
#ifndef RNNC_TESTUTIL_H
#define RNNC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* The source tree and the built CLI, from the environment (fail the test if unset). */
const char *tu_src_root(void);
const char *tu_rnnc_bin(void);

/* printf into a fresh malloc'd string. */
char *tu_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2), nonnull(1)));

/* Whether -march=native gives this machine's compiler FMA (x86-64 without it: older than
 * Haswell; elsewhere assumed, as on AArch64): then its builds of emitted code fuse every
 * product's multiply-adds, the JIT's arithmetic, and give the JIT's bits. */
int tu_has_fma(void);

/* Whole file as a NUL-terminated malloc'd string (length in *n if n); NULL if unreadable. */
char *tu_read_file(const char *path, size_t *n);
int tu_write_file(const char *path, const char *text);
int tu_exists(const char *path);

/* Runs `cmd` with /bin/sh; stdout and stderr captured into malloc'd strings (either out
 * pointer may be NULL). Returns the exit status, or -1 if it did not exit normally. */
int tu_run(const char *cmd, char **out, char **err);

/* A fresh directory under $TMPDIR or /tmp (malloc'd path); tu_rmdir removes it and all in it. */
char *tu_mkdtemp(void);
void tu_rmdir(char *dir);

/* Fails when any |got - want| > atol + rtol * |want|, naming `what`, the worst index,
 * both values, and how many elements are off. */
void tu_assert_close(const double *got, const double *want, long n, double rtol, double atol,
                     const char *what);

/* A float .npy as doubles (malloc'd); its element count in *n, its shape in shape/ndim
 * (either may be NULL). Fails the test when unreadable or not float32/float64. */
double *tu_npy_doubles(const char *path, long *n, long *shape, int *ndim);

/* The largest difference between two safetensors files' tensors of the same names, each
 * relative to max(1, max |want|) of its tensor (want_p's tensors must all be in got_p). */
double tu_st_diff(const char *got_p, const char *want_p, const char **worst);
/* Whether two files hold the same bytes. */
int tu_files_equal(const char *a, const char *b);

/* The names (malloc'd, sorted) of the files in `dir` ending in `suffix`; count in *n. */
char **tu_list_dir(const char *dir, const char *suffix, int *n);
void tu_free_list(char **list, int n);
#endif
