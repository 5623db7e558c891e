/* onnx.c — `rnnc import`, the entry points and what every part of the import shares: reads
 * the file, unpacks the ONNX model with protobuf-c (C generated at build time from Debian's
 * onnx.proto), checks its operator set, then hands over to onnx_graph.c (order and walk) and
 * onnx_spec.c (spec and weights out); also the import's memory pool, its report, attributes
 * and the decoding of tensors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "onnx_int.h"

/* ---- the pool: every allocation of one import, freed at once ---------------------------- */

struct OxChunk {
    OxChunk *next;
    max_align_t data[]; /* the allocation itself */
};

void *ox_alloc(OxImp *im, size_t n)
{
    if (im->oom)
        return NULL;
    if (n > im->budget - im->used || n > SIZE_MAX - sizeof(OxChunk)) {
        im->oom = 1;
        ox_err(im, -1,
               "the model needs more memory than %zu MiB to import (its constants "
               "grow far beyond the file's size)",
               im->budget >> 20);
        return NULL;
    }
    OxChunk *c = calloc(1, sizeof(OxChunk) + (n ? n : 1));
    if (!c) {
        im->oom = 1;
        ox_err(im, -1, "out of memory");
        return NULL;
    }
    im->used += n;
    c->next = im->chunks;
    im->chunks = c;
    return c->data;
}

static void pool_free(OxImp *im)
{
    while (im->chunks) {
        OxChunk *n = im->chunks->next;
        free(im->chunks);
        im->chunks = n;
    }
}

/* ---- the report ------------------------------------------------------------------------- */

/* Prints s into the report with anything but printable ASCII replaced: names come from the
 * file and must not break a line or a terminal. */
static void msg_put(OxImp *im, const char *s, size_t maxlen)
{
    for (size_t i = 0; s[i] && i < maxlen && im->msg_len + 1 < im->msg_cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        im->msg[im->msg_len++] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    im->msg[im->msg_len] = '\0';
}

const char *ox_node_name(const OxImp *im, int node)
{
    const Onnx__NodeProto *n = im->node[node];
    return n->name ? n->name : "";
}

void ox_err(OxImp *im, int node, const char *fmt, ...)
{
    if (im->nerr >= OX_MAX_ERRORS) {
        im->nerr++;
        im->nhidden++;
        return;
    }
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (im->msg_len)
        msg_put(im, "\n", 1);
    msg_put(im, im->what, 200);
    msg_put(im, ": ", 2);
    if (node >= 0) {
        const Onnx__NodeProto *n = im->node[node];
        msg_put(im, "node '", 6);
        msg_put(im, ox_node_name(im, node), 80);
        msg_put(im, "' (", 3);
        msg_put(im, n->op_type ? n->op_type : "?", 40);
        msg_put(im, "): ", 3);
    }
    msg_put(im, line, sizeof line);
    msg_put(im, ".", 1);
    im->nerr++;
}

void ox_unsupported(OxImp *im, int node)
{
    const Onnx__NodeProto *n = im->node[node];
    char item[160];
    const char *dom =
        n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0 ? n->domain : "";
    snprintf(item, sizeof item, "%s%.40s%s%.40s (node '%.60s')", im->nunsup ? ", " : "", dom,
             *dom ? "." : "", n->op_type ? n->op_type : "?", ox_node_name(im, node));
    size_t len = strlen(im->unsup);
    if (len + strlen(item) + 16 < sizeof im->unsup)
        memcpy(im->unsup + len, item, strlen(item) + 1);
    else if (!strstr(im->unsup, ", ..."))
        memcpy(im->unsup + len, ", ...", 6);
    im->nunsup++;
}

/* ---- attributes and tensors ------------------------------------------------------------- */

const Onnx__AttributeProto *ox_node_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

const Onnx__AttributeProto *ox_attr(const OxImp *im, int node, const char *name)
{
    return ox_node_attr(im->node[node], name);
}

const char *ox_dtype_name(int t)
{
    static const char *const names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                        "int16",      "int32",   "int64",  "string", "bool",
                                        "float16",    "double",  "uint32", "uint64", "complex64",
                                        "complex128", "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

static uint64_t le_u64(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int ox_tensor(OxImp *im, int node, const Onnx__TensorProto *t, OxConst *c)
{
    const char *tn = t->name ? t->name : "";
    char who[200];
    snprintf(who, sizeof who, node < 0 ? "initializer '%.80s'" : "its tensor '%.80s'", tn);
    memset(c, 0, sizeof *c);
    if (t->n_dims > OX_MAXR) {
        ox_err(im, node, "%s has rank %zu (at most %d)", who, t->n_dims, OX_MAXR);
        return -1;
    }
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        ox_err(im, node,
               "%s keeps its data in an external file, which rnnc import does not read "
               "(save the model with its weights inside)",
               who);
        return -1;
    }
    long n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        int64_t d = t->dims[i];
        if (d < 0 || d > (1L << 31)) {
            ox_err(im, node, "%s has dimension %lld, which is absurd (at most 2^31)", who,
                   (long long)d);
            return -1;
        }
        if (d && n > (1L << 30) / d) {
            ox_err(im, node, "%s has more than 2^30 elements", who);
            return -1;
        }
        n *= (long)d;
        c->shape[i] = (long)d;
    }
    c->rank = (int)t->n_dims;
    c->n = n;
    int dt = t->has_data_type ? t->data_type : 0;
    int esz;
    size_t ntyped;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        c->el = EL_F32, esz = 4, ntyped = t->n_float_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        c->el = EL_INT, esz = 8, ntyped = t->n_int64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        c->el = EL_INT, esz = 4, ntyped = t->n_int32_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        c->el = EL_INT, esz = 1, ntyped = t->n_int32_data;
        break;
    default:
        ox_err(im, node,
               "%s is of type %s; rnnc import reads float32 weights and int32/int64 "
               "shapes",
               who, ox_dtype_name(dt));
        return -1;
    }
    int raw = t->has_raw_data && ntyped == 0;
    size_t have = raw ? t->raw_data.len : ntyped;
    size_t want = raw ? (size_t)n * (size_t)esz : (size_t)n;
    if (have != want) {
        ox_err(im, node, "%s has %zu %s of data for its %ld elements (shape and data disagree)",
               who, have, raw ? "bytes" : "values", n);
        return -1;
    }
    c->data = ox_alloc(im, (size_t)n * (c->el == EL_F32 ? sizeof(float) : sizeof(OxDim)));
    if (!c->data)
        return -1;
    for (long i = 0; i < n; i++) {
        if (c->el == EL_F32) {
            float f;
            if (raw) {
                uint32_t u = (uint32_t)le_u64(t->raw_data.data + 4 * i, 4);
                memcpy(&f, &u, 4);
            } else {
                f = t->float_data[i];
            }
            ((float *)c->data)[i] = f;
        } else {
            int64_t v;
            if (raw)
                v = esz == 8   ? (int64_t)le_u64(t->raw_data.data + 8 * i, 8)
                    : esz == 4 ? (int32_t)(uint32_t)le_u64(t->raw_data.data + 4 * i, 4)
                               : t->raw_data.data[i];
            else
                v = esz == 8 ? t->int64_data[i] : t->int32_data[i];
            ((OxDim *)c->data)[i] = (OxDim){(long)v, {0, 0}};
        }
    }
    return 0;
}

/* ---- entry points ----------------------------------------------------------------------- */

void onnx_model_free(OnnxModel *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->t[i].name);
        free(m->t[i].data);
    }
    free(m->t);
    free(m->spec);
    memset(m, 0, sizeof *m);
}

/* The whole conversion; im->what, msg and budget set by the caller. */
static int import(OxImp *im, const void *buf, size_t len, const char *name, OnnxModel *out)
{
    im->model = onnx__model_proto__unpack(NULL, len, buf);
    if (!im->model) {
        ox_err(im, -1,
               "not a valid ONNX model (the protobuf does not parse: a truncated or "
               "damaged file?)");
        return -1;
    }
    if (!im->model->graph) {
        ox_err(im, -1, "the model has no graph");
        return -1;
    }
    im->g = im->model->graph;
    im->opset = -1;
    for (size_t i = 0; i < im->model->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = im->model->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            im->opset = o->has_version ? (long)o->version : 1;
    }
    if (im->opset < 7 || im->opset > 21) {
        ox_err(im, -1,
               "the model imports operator set %ld of the default domain; rnnc import "
               "reads 7 to 21",
               im->opset);
        return -1;
    }
    im->bind[0] = im->bind[1] = -1;
    if (ox_graph_walk(im) < 0)
        return -1;
    if (im->nunsup) {
        char line[sizeof im->unsup + 200];
        snprintf(line, sizeof line, "%d unsupported operator%s: %s", im->nunsup,
                 im->nunsup > 1 ? "s" : "", im->unsup);
        ox_err(im, -1,
               "%s; rnnc import reads LSTM, GRU, RNN, Gemm, MatMul, Add, Softmax, "
               "Sigmoid and the shape operators PyTorch emits around them",
               line);
    }
    if (im->nerr)
        return -1;
    return ox_spec_build(im, name ? name : "imported", out);
}

static void finish(OxImp *im)
{
    if (im->nhidden) {
        char more[80];
        snprintf(more, sizeof more, "\n%s: and %d more problems", im->what, im->nhidden);
        msg_put(im, more, sizeof more);
    }
    if (im->model)
        onnx__model_proto__free_unpacked(im->model, NULL);
    pool_free(im);
}

int onnx_import_mem(const void *buf, size_t len, const char *what, const char *name,
                    OnnxModel *out, RnnrtError *err)
{
    memset(out, 0, sizeof *out);
    OxImp im = {0};
    im.what = what ? what : "model";
    im.msg = err->msg;
    im.msg_cap = sizeof err->msg;
    err->msg[0] = '\0';
    /* weights are copied about twice (decoded, then reordered); shapes are small */
    im.budget = (len < ((size_t)1 << 40) ? 4 * len : (size_t)1 << 42) + ((size_t)64 << 20);
    if (name && !ox_is_ident(name)) {
        ox_err(&im, -1, "'%.80s' is not a C identifier, so it cannot name a spec", name);
        finish(&im);
        return -1;
    }
    int rc = import(&im, buf, len, name, out);
    finish(&im);
    if (rc < 0)
        onnx_model_free(out);
    return rc;
}

/* The spec's name from its path: the base name up to the first dot, as a C identifier. */
static void spec_name(const char *path, char *name, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    while (*b == '_' || (*b >= '0' && *b <= '9'))
        b++;
    size_t i = 0;
    for (; b[i] && b[i] != '.' && i + 1 < cap && i < 40; i++) {
        char c = b[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        name[i] = ok ? c : '_';
    }
    name[i] = '\0';
    if (!i)
        snprintf(name, cap, "imported");
}

int onnx_import(const char *onnx_path, const char *spec_out, const char *weights_out,
                RnnrtError *err)
{
    FILE *f = fopen(onnx_path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot open: %s", onnx_path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap)
            break;
        if (cap >= ((size_t)1 << 31)) {
            free(buf);
            fclose(f);
            snprintf(err->msg, sizeof err->msg,
                     "%s: larger than 2 GiB, the limit of a protobuf "
                     "(ONNX keeps bigger models' data outside)",
                     onnx_path);
            return -1;
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        free(buf);
        snprintf(err->msg, sizeof err->msg, "%s: %s", onnx_path,
                 buf ? "read error" : "out of memory");
        return -1;
    }
    char name[64];
    spec_name(spec_out, name, sizeof name);
    OnnxModel m;
    int rc = onnx_import_mem(buf, len, onnx_path, name, &m, err);
    free(buf);
    if (rc < 0)
        return -1;
    rc = rnnrt_st_write(weights_out, m.t, m.n, err);
    if (rc == 0) {
        rc = rnnrt_write_file(spec_out, m.spec, strlen(m.spec), err);
        if (rc < 0)
            remove(weights_out); /* nothing half-written: the weights go with the spec */
    }
    onnx_model_free(&m);
    return rc < 0 ? -1 : 0;
}
