/* pickle_write.c — the pickle writer behind rnnrt_pt_write (see pickle.h): the protocol-2
 * pickle of an OrderedDict of tensors, opcode for opcode what torch.save writes for a
 * state_dict (memoised globals, the shortest integer opcodes), into a growing buffer.
 */
#include "pickle.h"
#include "rt_util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put1(RnnrtBuf *o, int c)
{
    unsigned char b = (unsigned char)c;

    rnnrt_buf_put(o, &b, 1);
}

static void put_le(RnnrtBuf *o, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        put1(o, (int)(v >> (8 * i) & 0xff));
    }
}

/* The shortest of BININT1, BININT2, BININT and LONG1, as Python's pickler chooses. */
static void put_int(RnnrtBuf *o, int64_t v)
{
    if (v >= 0 && v < 256) {
        put1(o, 'K');
        put1(o, (int)v);
    } else if (v >= 0 && v < 65536) {
        put1(o, 'M');
        put_le(o, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put1(o, 'J');
        put_le(o, (uint64_t)v, 4);
    } else {
        int n = 8;
        /* drop sign-extension bytes while the next byte keeps the sign */
        while (n > 1 && (((uint64_t)v >> (8 * (n - 1)) & 0xff) == (v < 0 ? 0xff : 0)) &&
               ((((uint64_t)v >> (8 * (n - 2))) & 0x80) != 0) == (v < 0)) {
            n--;
        }
        put1(o, 0x8a);
        put1(o, n);
        put_le(o, (uint64_t)v, n);
    }
}

static void put_str(RnnrtBuf *o, const char *s)
{
    size_t n = strlen(s);

    put1(o, 'X');
    put_le(o, n, 4);
    rnnrt_buf_put(o, s, n);
}

/* First use of a memoised value: emit it and BINPUT; later uses: BINGET. */
static void put_memo(RnnrtBuf *o, int *slot, int *next, const char *emit, size_t len)
{
    if (*slot >= 0) {
        put1(o, 'h');
        put1(o, *slot);
        return;
    }
    rnnrt_buf_put(o, emit, len);
    *slot = (*next)++;
    put1(o, 'q');
    put1(o, *slot);
}

static void put_tuple(RnnrtBuf *o, const int64_t *v, int n)
{
    if (n == 0) {
        put1(o, ')');
        return;
    }
    if (n > 3) {
        put1(o, '(');
    }
    for (int i = 0; i < n; i++) {
        put_int(o, v[i]);
    }
    put1(o, n > 3 ? 't' : 0x84 + n);
}

int rnnrt_pkl_write(const RnnrtTensor *ts, int n, unsigned char **buf, size_t *len)
{
    static const char od[] = "ccollections\nOrderedDict\n";
    static const char rebuild[] = "ctorch._utils\n_rebuild_tensor_v2\n";
    static const char *const types[] = {"ctorch\nFloatStorage\n", "ctorch\nDoubleStorage\n",
                                        "ctorch\nIntStorage\n", "ctorch\nLongStorage\n"};
    int m_od = -1, m_rebuild = -1, m_storage = -1, m_cpu = -1, m_type[4] = {-1, -1, -1, -1};
    int next = 0;
    RnnrtBuf o = {NULL, 0, 0, 0};

    put1(&o, 0x80);
    put1(&o, 2);
    put_memo(&o, &m_od, &next, od, sizeof od - 1);
    put1(&o, ')');
    put1(&o, 'R');
    if (n > 0) {
        put1(&o, '(');
    }
    for (int i = 0; i < n; i++) {
        const RnnrtTensor *t = &ts[i];
        int64_t shape[RNNRT_MAX_DIMS], stride[RNNRT_MAX_DIMS], numel = 1, s = 1;
        char key[24];

        for (int d = t->ndim - 1; d >= 0; d--) {
            shape[d] = t->shape[d];
            stride[d] = s;
            s *= shape[d] > 1 ? shape[d] : 1; /* torch's contiguous strides */
            numel *= shape[d];
        }
        put_str(&o, t->name);
        put_memo(&o, &m_rebuild, &next, rebuild, sizeof rebuild - 1);
        put1(&o, '(');
        put1(&o, '(');
        put_memo(&o, &m_storage, &next, "X\7\0\0\0storage", 12);
        put_memo(&o, &m_type[t->dtype], &next, types[t->dtype], strlen(types[t->dtype]));
        snprintf(key, sizeof key, "%d", i);
        put_str(&o, key);
        put_memo(&o, &m_cpu, &next, "X\3\0\0\0cpu", 8);
        put_int(&o, numel);
        put1(&o, 't');
        put1(&o, 'Q');
        put_int(&o, 0);
        put_tuple(&o, shape, t->ndim);
        put_tuple(&o, stride, t->ndim);
        put1(&o, 0x89);
        put_memo(&o, &m_od, &next, od, sizeof od - 1);
        put1(&o, ')');
        put1(&o, 'R');
        put1(&o, 't');
        put1(&o, 'R');
    }
    if (n > 0) {
        put1(&o, 'u');
    }
    put1(&o, '.');
    if (o.oom || next > 255) {
        free(o.p);
        return -1;
    }
    *buf = (unsigned char *)o.p;
    *len = o.len;
    return 0;
}
