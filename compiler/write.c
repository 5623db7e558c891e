/* write.c — emitted files to disk, atomically (through the runtime's one atomic writer): the
 * only writer of compiler outputs. */
#define _POSIX_C_SOURCE 200809L
#include "write.h"

#include "../runtime/rnnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int write_file_atomic(const char *path, const char *data, size_t n, DiagList *d)
{
    RnnrtError err;
    if (rnnrt_write_file(path, data, n, &err) == 0)
        return 0;
    diag_error(d, span_none(), "%s", err.msg);
    return -1;
}

int write_header_path(const char *c_path, char *out, size_t n)
{
    size_t len = strlen(c_path);
    if (len + 3 > n)
        return -1;
    memcpy(out, c_path, len + 1);
    if (len >= 2 && strcmp(out + len - 2, ".c") == 0)
        out[len - 1] = 'h';
    else
        memcpy(out + len, ".h", 3);
    return 0;
}

int write_header_name(const char *c_path, char *out, size_t n)
{
    char h_path[4096];
    if (write_header_path(c_path, h_path, sizeof h_path) < 0)
        return -1;
    const char *name = strrchr(h_path, '/') ? strrchr(h_path, '/') + 1 : h_path;
    if (strlen(name) + 1 > n)
        return -1;
    memcpy(out, name, strlen(name) + 1);
    return 0;
}

int write_cunit(const char *c_path, const CUnit *u, DiagList *d)
{
    char h_path[4096];
    if (write_header_path(c_path, h_path, sizeof h_path) < 0) {
        diag_error(d, span_none(), "%s: path too long", c_path);
        return -1;
    }
    size_t na = strlen(u->banner), ni = strlen(u->include), nb = strlen(u->body);
    char *c_text = malloc(na + ni + nb + 1);
    if (!c_text) {
        diag_error(d, span_none(), "out of memory");
        return -1;
    }
    memcpy(c_text, u->banner, na);
    memcpy(c_text + na, u->include, ni);
    memcpy(c_text + na + ni, u->body, nb + 1);
    int rc = -1;
    if (write_file_atomic(h_path, u->header, strlen(u->header), d) == 0) {
        if (write_file_atomic(c_path, c_text, na + ni + nb, d) == 0)
            rc = 0;
        else
            unlink(h_path);
    }
    free(c_text);
    return rc;
}

int write_unit(const char *c_path, const Plan *plan, DiagList *d)
{
    char h_name[1024];
    if (write_header_name(c_path, h_name, sizeof h_name) < 0) {
        diag_error(d, span_none(), "%s: path too long", c_path);
        return -1;
    }
    CUnit u;
    if (emit_unit(plan, h_name, &u, d) < 0)
        return -1;
    int rc = write_cunit(c_path, &u, d);
    cunit_free(&u);
    return rc;
}
