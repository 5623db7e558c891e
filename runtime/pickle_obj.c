/* pickle_obj.c — the objects of the strict pickle reader (see pickle_int.h): their arena,
 * the allow-list of globals and what calling one builds (dicts, storage references, tensor
 * descriptions), and the final check of the state_dict. Nothing in a file is ever run: the
 * only "calls" are the allow-list's, interpreted here.
 */
#include "pickle_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena: every parsed object, freed at once ------------------------------------ */

#define ARENA_CHUNK ((size_t)64 * 1024)

struct Chunk {
    struct Chunk *next;
    size_t cap, used;
    max_align_t data[]; /* (cap bytes) */
};

void *rnnrt_pkl_arena_alloc(Arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);

    if (n > PKL_MAX_ARENA) {
        a->over = 1;
        return NULL;
    }
    n = (n + align - 1) / align * align;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        Chunk *c;
        if (a->total + cap > PKL_MAX_ARENA) {
            a->over = 1;
            return NULL;
        }
        c = malloc(sizeof *c + cap);
        if (!c) {
            return NULL;
        }
        c->next = a->head;
        c->cap = cap;
        c->used = 0;
        a->head = c;
        a->total += cap;
    }
    void *p = (unsigned char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void rnnrt_pkl_arena_free(Arena *a)
{
    if (!a) {
        return;
    }
    for (Chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

/* ---- objects and the allow-list of globals ---------------------------------------------- */

typedef enum GlobalKind {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR,
    G_REBUILD_PARAM,
    G_STORAGE
} GlobalKind;

typedef struct Global {
    const char *module, *name;
    GlobalKind kind;
    PklDtype dtype; /* storages only */
    int elsize;
    const char *dtype_name;
} Global;

static const Global globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, PKL_OTHER, 0, ""},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, PKL_OTHER, 0, ""},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, PKL_OTHER, 0, ""},
    {"torch", "FloatStorage", G_STORAGE, PKL_F32, 4, "float32"},
    {"torch", "DoubleStorage", G_STORAGE, PKL_F64, 8, "float64"},
    {"torch", "HalfStorage", G_STORAGE, PKL_F16, 2, "float16"},
    {"torch", "BFloat16Storage", G_STORAGE, PKL_BF16, 2, "bfloat16"},
    {"torch", "IntStorage", G_STORAGE, PKL_I32, 4, "int32"},
    {"torch", "LongStorage", G_STORAGE, PKL_I64, 8, "int64"},
    /* known, so that the refusal can name the dtype */
    {"torch", "ByteStorage", G_STORAGE, PKL_OTHER, 1, "uint8"},
    {"torch", "CharStorage", G_STORAGE, PKL_OTHER, 1, "int8"},
    {"torch", "ShortStorage", G_STORAGE, PKL_OTHER, 2, "int16"},
    {"torch", "BoolStorage", G_STORAGE, PKL_OTHER, 1, "bool"},
    {"torch", "ComplexFloatStorage", G_STORAGE, PKL_OTHER, 8, "complex64"},
    {"torch", "ComplexDoubleStorage", G_STORAGE, PKL_OTHER, 16, "complex128"},
};
#define NGLOBALS ((int)(sizeof globals / sizeof globals[0]))

/* with their article, for messages */
const char *const rnnrt_pkl_kind_names[] = {
    "None", "a bool", "an int", "a str", "a tuple", "a dict", "a global", "a storage", "a tensor"};

Obj *rnnrt_pkl_obj_new(Vm *vm, ObjKind kind)
{
    Obj *o = rnnrt_pkl_arena_alloc(vm->arena, sizeof *o);

    if (o) {
        memset(o, 0, sizeof *o);
        o->kind = kind;
    }
    return o;
}

/* Copies `s` into *out for a message, control and non-ASCII bytes shown as '?'. */
static const char *clean(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0, i = 0;

    for (; i < len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (i < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* Messages for globals outside the allow-list. */
static int refuse_global(Vm *vm, const char *module, const char *name)
{
    if (strcmp(module, "__main__") == 0 || strcmp(module, "torch.nn") == 0 ||
        strncmp(module, "torch.nn.", 9) == 0) {
        return rnnrt_pkl_fail(vm,
                              "the pickle references the class '%s.%s': this file holds a whole "
                              "pickled model, not a state_dict; save it with "
                              "torch.save(model.state_dict(), path) instead",
                              module, name);
    }
    return rnnrt_pkl_fail(vm,
                          "refused pickle global '%s.%s': a weights file may only reference "
                          "collections.OrderedDict, torch._utils' tensor rebuilders and torch "
                          "storage types (nothing in the file is run)",
                          module, name);
}

static int printable(const char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Pushes the allowed global module.name, or refuses it. */
static int push_global(Vm *vm, const char *module, size_t mlen, const char *name, size_t nlen)
{
    char m[128], n[128];
    Obj *o;

    if (!printable(module, mlen) || !printable(name, nlen)) {
        return rnnrt_pkl_fail(vm, "global '%s.%s' has an empty or non-printable name",
                              clean(m, sizeof m, module, mlen), clean(n, sizeof n, name, nlen));
    }
    for (int i = 0; i < NGLOBALS; i++) {
        if (strlen(globals[i].module) == mlen && memcmp(globals[i].module, module, mlen) == 0 &&
            strlen(globals[i].name) == nlen && memcmp(globals[i].name, name, nlen) == 0) {
            o = rnnrt_pkl_obj_new(vm, OB_GLOBAL);
            if (o) {
                o->u.g = i;
            }
            return rnnrt_pkl_push(vm, o);
        }
    }
    return refuse_global(vm, clean(m, sizeof m, module, mlen), clean(n, sizeof n, name, nlen));
}

/* GLOBAL: "module\nname\n". */
int rnnrt_pkl_op_global(Vm *vm)
{
    const unsigned char *nl1, *nl2;
    size_t left = (size_t)(vm->end - vm->p);

    nl1 = memchr(vm->p, '\n', left);
    nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(vm->end - nl1 - 1)) : NULL;
    if (!nl2) {
        return rnnrt_pkl_fail(vm, "GLOBAL without its two newline-terminated names (truncated)");
    }
    const char *module = (const char *)vm->p, *name = (const char *)nl1 + 1;
    size_t mlen = (size_t)(nl1 - vm->p), nlen = (size_t)(nl2 - nl1 - 1);
    vm->p = nl2 + 1;
    return push_global(vm, module, mlen, name, nlen);
}

int rnnrt_pkl_op_stack_global(Vm *vm)
{
    Obj *name = NULL, *module = NULL;

    if (rnnrt_pkl_pop(vm, &name, "STACK_GLOBAL") != 0 ||
        rnnrt_pkl_pop(vm, &module, "STACK_GLOBAL") != 0) {
        return -1;
    }
    if (name->kind != OB_STR || module->kind != OB_STR) {
        return rnnrt_pkl_fail(vm, "STACK_GLOBAL on %s and %s, not two strings",
                              rnnrt_pkl_kind_names[module->kind],
                              rnnrt_pkl_kind_names[name->kind]);
    }
    return push_global(vm, module->u.str.s, module->u.str.len, name->u.str.s, name->u.str.len);
}

static int is_str(const Obj *o, const char *s)
{
    return o->kind == OB_STR && o->u.str.len == strlen(s) &&
           memcmp(o->u.str.s, s, o->u.str.len) == 0;
}

/* A storage key names an archive entry: short, no path separators, no dot-only names. */
static int key_ok(const Obj *k)
{
    if (k->kind != OB_STR || k->u.str.len == 0 || k->u.str.len > 64 || is_str(k, ".") ||
        is_str(k, "..")) {
        return 0;
    }
    for (size_t i = 0; i < k->u.str.len; i++) {
        char c = k->u.str.s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* BINPERSID: ('storage', <storage type>, key, location, numel) -> a storage reference. */
int rnnrt_pkl_op_binpersid(Vm *vm)
{
    Obj *pid = NULL, *o, **v;

    if (rnnrt_pkl_pop(vm, &pid, "BINPERSID") != 0) {
        return -1;
    }
    if (pid->kind != OB_TUPLE || pid->u.tup.n != 5) {
        return rnnrt_pkl_fail(vm,
                              "persistent id is %s, not the 5-tuple ('storage', type, key, "
                              "location, size) of a torch storage",
                              pid->kind == OB_TUPLE ? "a tuple of another length"
                                                    : rnnrt_pkl_kind_names[pid->kind]);
    }
    v = pid->u.tup.v;
    if (!is_str(v[0], "storage")) {
        return rnnrt_pkl_fail(vm, "persistent id does not start with 'storage'");
    }
    if (v[1]->kind != OB_GLOBAL || globals[v[1]->u.g].kind != G_STORAGE) {
        return rnnrt_pkl_fail(vm, "persistent id's type is not a torch storage type");
    }
    if (!key_ok(v[2])) {
        return rnnrt_pkl_fail(
            vm, "persistent id's storage key is not a short name of letters, digits, "
                "'_', '.' or '-'");
    }
    if (v[3]->kind != OB_STR) {
        return rnnrt_pkl_fail(vm, "persistent id's location is not a string");
    }
    if (v[4]->kind != OB_INT || v[4]->u.i < 0) {
        return rnnrt_pkl_fail(vm, "persistent id's storage size is not a non-negative integer");
    }
    o = rnnrt_pkl_obj_new(vm, OB_STORAGE);
    if (o) {
        o->u.storage.g = v[1]->u.g;
        o->u.storage.key = v[2]->u.str.s;
        o->u.storage.numel = v[4]->u.i;
    }
    return rnnrt_pkl_push(vm, o);
}

/* A tuple of `ndim` <= RNNRT_MAX_DIMS non-negative ints into dims[]. */
static int int_tuple(Vm *vm, const Obj *t, const char *what, int64_t *dims, int *ndim)
{
    if (t->kind != OB_TUPLE) {
        return rnnrt_pkl_fail(vm, "tensor %s is %s, not a tuple", what,
                              rnnrt_pkl_kind_names[t->kind]);
    }
    if (t->u.tup.n > RNNRT_MAX_DIMS) {
        return rnnrt_pkl_fail(vm, "tensor has %zu dimensions (at most %d are supported)",
                              t->u.tup.n, RNNRT_MAX_DIMS);
    }
    for (size_t i = 0; i < t->u.tup.n; i++) {
        const Obj *d = t->u.tup.v[i];
        if (d->kind != OB_INT || d->u.i < 0) {
            return rnnrt_pkl_fail(vm, "tensor %s holds something other than non-negative integers",
                                  what);
        }
        dims[i] = d->u.i;
    }
    *ndim = (int)t->u.tup.n;
    return 0;
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) -> a tensor description. */
static int rebuild_tensor(Vm *vm, const Obj *args)
{
    Obj *const *v = args->u.tup.v;
    int nstride = 0;
    PklTensor *t;
    Obj *o;

    if (args->u.tup.n != 6 && args->u.tup.n != 7) {
        return rnnrt_pkl_fail(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %zu",
                              args->u.tup.n);
    }
    if (v[0]->kind != OB_STORAGE) {
        return rnnrt_pkl_fail(vm, "_rebuild_tensor_v2's storage is %s",
                              rnnrt_pkl_kind_names[v[0]->kind]);
    }
    if (v[1]->kind != OB_INT || v[1]->u.i < 0) {
        return rnnrt_pkl_fail(vm,
                              "_rebuild_tensor_v2's storage offset is not a non-negative integer");
    }
    if (v[4]->kind != OB_BOOL || v[5]->kind != OB_DICT ||
        (args->u.tup.n == 7 && v[6]->kind != OB_DICT && v[6]->kind != OB_NONE)) {
        return rnnrt_pkl_fail(vm, "_rebuild_tensor_v2's requires_grad, backward_hooks or metadata "
                                  "argument has the wrong type");
    }
    o = rnnrt_pkl_obj_new(vm, OB_TENSOR);
    t = o ? rnnrt_pkl_arena_alloc(vm->arena, sizeof *t) : NULL;
    if (!t) {
        return rnnrt_pkl_oom(vm);
    }
    memset(t, 0, sizeof *t);
    if (int_tuple(vm, v[2], "size", t->shape, &t->ndim) != 0 ||
        int_tuple(vm, v[3], "stride", t->stride, &nstride) != 0) {
        return -1;
    }
    if (nstride != t->ndim) {
        return rnnrt_pkl_fail(vm, "tensor has %d sizes but %d strides", t->ndim, nstride);
    }
    const Global *g = &globals[v[0]->u.storage.g];
    t->storage = v[0]->u.storage.key;
    t->type_name = g->name;
    t->dtype_name = g->dtype_name;
    t->dtype = g->dtype;
    t->elsize = g->elsize;
    t->storage_numel = v[0]->u.storage.numel;
    t->offset = v[1]->u.i;
    o->u.tensor = t;
    return rnnrt_pkl_push(vm, o);
}

int rnnrt_pkl_op_reduce(Vm *vm)
{
    Obj *args = NULL, *fn = NULL, *o;

    if (rnnrt_pkl_pop(vm, &args, "REDUCE") != 0 || rnnrt_pkl_pop(vm, &fn, "REDUCE") != 0) {
        return -1;
    }
    if (fn->kind != OB_GLOBAL) {
        return rnnrt_pkl_fail(vm, "REDUCE calls %s; only allowed globals may be called",
                              rnnrt_pkl_kind_names[fn->kind]);
    }
    if (args->kind != OB_TUPLE) {
        return rnnrt_pkl_fail(vm, "REDUCE's arguments are %s, not a tuple",
                              rnnrt_pkl_kind_names[args->kind]);
    }
    switch (globals[fn->u.g].kind) {
    case G_ORDERED_DICT:
        if (args->u.tup.n != 0) {
            return rnnrt_pkl_fail(vm, "collections.OrderedDict called with arguments");
        }
        o = rnnrt_pkl_obj_new(vm, OB_DICT);
        if (o) {
            o->u.dict.ordered = 1;
        }
        return rnnrt_pkl_push(vm, o);
    case G_REBUILD_TENSOR:
        return rebuild_tensor(vm, args);
    case G_REBUILD_PARAM:
        if (args->u.tup.n != 3 || args->u.tup.v[0]->kind != OB_TENSOR ||
            args->u.tup.v[1]->kind != OB_BOOL || args->u.tup.v[2]->kind != OB_DICT) {
            return rnnrt_pkl_fail(vm, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
        }
        return rnnrt_pkl_push(vm, args->u.tup.v[0]);
    case G_STORAGE:
        break;
    }
    return rnnrt_pkl_fail(
        vm, "calling torch.%s is refused (storages come only through persistent ids)",
        globals[fn->u.g].name);
}

int rnnrt_pkl_dict_add(Vm *vm, Obj *d, Obj *k, Obj *v)
{
    if (k->kind != OB_STR && k->kind != OB_INT && k->kind != OB_BOOL && k->kind != OB_NONE) {
        return rnnrt_pkl_fail(vm,
                              "dict key is %s (only strings, integers, booleans and None are "
                              "accepted)",
                              rnnrt_pkl_kind_names[k->kind]);
    }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
        Pair *p = rnnrt_pkl_arena_alloc(vm->arena, cap * sizeof *p);
        if (!p) {
            return rnnrt_pkl_oom(vm);
        }
        if (d->u.dict.n) {
            memcpy(p, d->u.dict.p, d->u.dict.n * sizeof *p);
        }
        d->u.dict.p = p;
        d->u.dict.cap = cap;
    }
    d->u.dict.p[d->u.dict.n].k = k;
    d->u.dict.p[d->u.dict.n].v = v;
    d->u.dict.n++;
    return 0;
}

/* ---- the result: a flat dict of str -> tensor ------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the top-level object and copies its tensors into out->t (in dict order). */
int rnnrt_pkl_result(Vm *vm, Obj *root, PklDict *out)
{
    char nb[160];
    const char **sorted;

    if (root->kind != OB_DICT) {
        return rnnrt_pkl_fail(vm, "the pickle holds %s, not a state_dict (a dict of tensors)",
                              rnnrt_pkl_kind_names[root->kind]);
    }
    if (root->u.dict.n > (size_t)INT32_MAX / 2) {
        return rnnrt_pkl_fail(vm, "the state_dict has too many entries");
    }
    out->t = rnnrt_pkl_arena_alloc(vm->arena, (root->u.dict.n + 1) * sizeof *out->t);
    sorted = rnnrt_pkl_arena_alloc(vm->arena, (root->u.dict.n + 1) * sizeof *sorted); /* names */
    if (!out->t || !sorted) {
        return rnnrt_pkl_oom(vm);
    }
    for (size_t i = 0; i < root->u.dict.n; i++) {
        const Obj *k = root->u.dict.p[i].k, *v = root->u.dict.p[i].v;
        if (k->kind != OB_STR || strlen(k->u.str.s) != k->u.str.len) {
            return rnnrt_pkl_fail(vm, "state_dict key %zu is %s, not a string without NULs", i,
                                  k->kind == OB_STR ? "a string with a NUL"
                                                    : rnnrt_pkl_kind_names[k->kind]);
        }
        clean(nb, sizeof nb, k->u.str.s, k->u.str.len);
        if (v->kind == OB_DICT) {
            return rnnrt_pkl_fail(vm,
                                  "entry '%s' is a dict, not a tensor: a checkpoint of several "
                                  "objects? save the model's state_dict() alone",
                                  nb);
        }
        if (v->kind != OB_TENSOR) {
            return rnnrt_pkl_fail(vm,
                                  "entry '%s' is %s, not a tensor: only a state_dict of tensors "
                                  "is read",
                                  nb, rnnrt_pkl_kind_names[v->kind]);
        }
        if (v->u.tensor->dtype == PKL_OTHER) {
            return rnnrt_pkl_fail(vm,
                                  "tensor '%s' has dtype %s (torch.%s); only float32, float64, "
                                  "float16, bfloat16, int32 and int64 are read",
                                  nb, v->u.tensor->dtype_name, v->u.tensor->type_name);
        }
        out->t[i] = *v->u.tensor;
        out->t[i].name = k->u.str.s;
    }
    out->n = (int)root->u.dict.n;
    for (int i = 0; i < out->n; i++) {
        sorted[i] = out->t[i].name;
    }
    qsort(sorted, (size_t)out->n, sizeof *sorted, cmp_names);
    for (int i = 1; i < out->n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            return rnnrt_pkl_fail(vm, "duplicate key '%s' in the state_dict",
                                  clean(nb, sizeof nb, sorted[i], strlen(sorted[i])));
        }
    }
    return 0;
}
