/* rt_util.c — internal helpers shared by npy.c and safetensors.c (see rt_util.h):
 * error messages, opening for reading, byte order, and the atomic temporary-file-and-rename
 * write.
 */
#define _POSIX_C_SOURCE 200809L

#include "rt_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void rnnrt_util_set_err(RnnrtError *err, const char *fmt, ...)
{
    va_list ap;

    if (!err) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void rnnrt_util_clear_err(RnnrtError *err)
{
    if (err) {
        err->msg[0] = '\0';
    }
}

FILE *rnnrt_util_open_read(const char *path, RnnrtError *err)
{
    FILE *f = fopen(path, "rb");

    if (!f) {
        rnnrt_util_set_err(err, "%s: cannot open: %s", path, strerror(errno));
    }
    return f;
}

int rnnrt_util_host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char c;

    memcpy(&c, &one, 1);
    return c == 1;
}

void rnnrt_util_byteswap(void *p, size_t n, int size)
{
    unsigned char *b = p;

    for (size_t i = 0; i < n; i++, b += size) {
        for (int j = 0; j < size / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[size - 1 - j];
            b[size - 1 - j] = t;
        }
    }
}

/* A device or pipe (/dev/stdout, /dev/null, a fifo) is written in place: renaming a
 * temporary file over it would replace the device node itself. */
static int write_special(const char *path, const void *const *bufs, const size_t *lens, int n,
                         RnnrtError *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        rnnrt_util_set_err(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = !lens[i] || fwrite(bufs[i], 1, lens[i], f) == lens[i];
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        rnnrt_util_set_err(err, "%s: write error: %s", path, strerror(errno));
    return ok ? 0 : -1;
}

int rnnrt_util_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n,
                            RnnrtError *err)
{
    struct stat sp;
    if (stat(path, &sp) == 0 && !S_ISREG(sp.st_mode) && !S_ISDIR(sp.st_mode))
        return write_special(path, bufs, lens, n, err);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmpXXXXXX");
    struct stat st;
    FILE *f;
    int fd;

    if (!tmp) {
        rnnrt_util_set_err(err, "%s: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    fd = mkstemp(tmp);
    if (fd < 0) {
        /* name the directory: it is what is missing or not writable */
        int e = errno;
        const char *slash = strrchr(path, '/');
        int dn = slash ? (int)(slash - path) : 1;
        rnnrt_util_set_err(err, "%s: cannot write into the directory '%.*s': %s", path,
                           slash == path ? 1 : dn, slash ? path : ".", strerror(e));
        free(tmp);
        return -1;
    }
    (void)fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644);
    f = fdopen(fd, "wb");
    if (!f) {
        rnnrt_util_set_err(err, "%s: cannot open the temporary file: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (lens[i] && fwrite(bufs[i], 1, lens[i], f) != lens[i]) {
            rnnrt_util_set_err(err, "%s: write error: %s", path, strerror(errno));
            fclose(f);
            goto fail;
        }
    }
    if (fflush(f) != 0 || ferror(f)) {
        rnnrt_util_set_err(err, "%s: write error: %s", path, strerror(errno));
        fclose(f);
        goto fail;
    }
    if (fclose(f) != 0) {
        rnnrt_util_set_err(err, "%s: write error: %s", path, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rnnrt_util_set_err(err, "%s: cannot rename the temporary file into place: %s", path,
                           strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    unlink(tmp);
    free(tmp);
    return -1;
}

int rnnrt_write_file(const char *path, const void *data, size_t n, RnnrtError *err)
{
    const void *bufs[1] = {data};
    size_t lens[1] = {n};
    rnnrt_util_clear_err(err);
    return rnnrt_util_write_atomic(path, bufs, lens, 1, err);
}

/* Room for n more bytes and the NUL after them; 0, or -1 (and oom set). */
static int buf_reserve(RnnrtBuf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void rnnrt_buf_put(RnnrtBuf *b, const void *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rnnrt_buf_printf(RnnrtBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
