/* fuzz.h — what the fuzz targets of tests/fuzz/ share. Each fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput; it is linked with libFuzzer (meson -Dfuzz=true, clang) to fuzz,
 * or with replay.c (any compiler) to replay tests/fuzz/corpus/ and tests/fuzz/regress/.
 * A broken invariant aborts through FUZZ_CHECK, so both see it as a crash.
 */
#ifndef RNNC_FUZZ_H
#define RNNC_FUZZ_H

#define _GNU_SOURCE /* memfd_create */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* libFuzzer's entry point: one input, returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the place and `what` when `cond` is false. */
#define FUZZ_CHECK(cond, what)                                                                    \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, (what));    \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* The private directory's path (empty until fuzz_dir makes it). */
static inline char *fuzz_dir_buf(void)
{
    static char path[64];
    return path;
}

static inline int fuzz_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fuzz_rm_dir(void)
{
    nftw(fuzz_dir_buf(), fuzz_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A private directory for files the targets write (on /dev/shm when there is one), made on
 * first use and removed at exit. */
static inline const char *fuzz_dir(void)
{
    char *p = fuzz_dir_buf();
    if (!p[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(p, 64, "%s/rnnc-fuzz.XXXXXX", base);
        FUZZ_CHECK(mkdtemp(p) != NULL, "cannot make a temporary directory");
        atexit(fuzz_rm_dir);
    }
    return p;
}

/* `name` inside fuzz_dir() into buf. */
static inline const char *fuzz_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", fuzz_dir(), name);
    return buf;
}

/* n bytes as a file that readers taking a path can open: a memfd, named by
 * /proc/self/fd/N in `path`. Returns the descriptor to close after use. */
static inline int fuzz_memfile(const void *data, size_t n, char *path, size_t cap)
{
    int fd = memfd_create("fuzz", 0);
    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)data + off, n - off);
        FUZZ_CHECK(w > 0, "write to a memfd failed");
        off += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
