/* pickle.c — the strict pickle reader and writer behind pt.c (see pickle.h).
 * The reader is a small stack machine over the opcodes torch.save emits for a state_dict;
 * its only "calls" build dicts and tensor descriptions from an allow-list of globals, so
 * nothing in a file is ever run. Stack, marks, memo and parsed objects are all bounded.
 */
#include "pickle.h"
#include "rt_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena: every parsed object, freed at once ------------------------------------ */

#define ARENA_CHUNK ((size_t)64 * 1024)

typedef struct Chunk {
    struct Chunk *next;
    size_t cap, used;
    max_align_t data[]; /* (cap bytes) */
} Chunk;

typedef struct Arena {
    Chunk *head;
    size_t total; /* bytes of all chunks */
    int over;     /* an allocation failed on PKL_MAX_ARENA (else on malloc) */
} Arena;

static void *arena_alloc(Arena *a, size_t n)
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

static void arena_free(Arena *a)
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

typedef enum ObjKind {
    OB_NONE,
    OB_BOOL,
    OB_INT,
    OB_STR,
    OB_TUPLE,
    OB_DICT,
    OB_GLOBAL,
    OB_STORAGE,
    OB_TENSOR
} ObjKind;

/* with their article, for messages */
static const char *const kind_names[] = {"None",   "a bool",   "an int",    "a str",   "a tuple",
                                         "a dict", "a global", "a storage", "a tensor"};

typedef struct Obj Obj;
typedef struct Pair {
    Obj *k, *v;
} Pair;

struct Obj {
    ObjKind kind;
    union {
        int64_t i; /* OB_BOOL, OB_INT */
        struct {
            char *s; /* NUL-terminated; may hold other NULs (len says) */
            size_t len;
        } str;
        struct {
            Obj **v; /* (n) */
            size_t n;
        } tup;
        struct {
            Pair *p; /* (n) of cap */
            size_t n, cap;
            int ordered; /* an OrderedDict (may take BUILD) */
        } dict;
        int g; /* OB_GLOBAL: index into globals[] */
        struct {
            int g;
            const char *key;
            int64_t numel;
        } storage;
        PklTensor *tensor;
    } u;
};

/* ---- the machine ------------------------------------------------------------------------ */

typedef struct Vm {
    const unsigned char *start, *p, *end;
    size_t op_pos; /* offset of the opcode being run */
    const char *where;
    RnnrtError *err;
    Arena *arena;
    Obj **stack; /* (sp) of scap */
    size_t sp, scap;
    size_t marks[PKL_MAX_MARKS]; /* (nmarks) stack heights */
    int nmarks;
    Obj **memo; /* (nmemo) of mcap; NULL: unused slot */
    size_t nmemo, mcap;
    Obj *none, *yes, *no, *empty_tuple;
} Vm;

static int vm_fail(Vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "<where>: byte N: <message>"; always returns -1. */
static int vm_fail(Vm *vm, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rnnrt_util_set_err(vm->err, "%s: byte %zu: %s", vm->where, vm->op_pos, msg);
    return -1;
}

static int vm_oom(Vm *vm)
{
    if (vm->arena->over) {
        return vm_fail(vm, "the pickle builds more than %llu bytes of objects (the limit)",
                       (unsigned long long)PKL_MAX_ARENA);
    }
    return vm_fail(vm, "out of memory");
}

static Obj *new_obj(Vm *vm, ObjKind kind)
{
    Obj *o = arena_alloc(vm->arena, sizeof *o);

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

/* Values above the innermost MARK (what the next opcode may pop). */
static size_t vm_avail(const Vm *vm)
{
    return vm->sp - (vm->nmarks ? vm->marks[vm->nmarks - 1] : 0);
}

static int vm_push(Vm *vm, Obj *o)
{
    if (!o) {
        return vm_oom(vm);
    }
    if (vm->sp == vm->scap) {
        size_t cap = vm->scap ? vm->scap * 2 : 64;
        Obj **s;
        if (vm->scap >= PKL_MAX_STACK) {
            return vm_fail(vm, "the pickle stack grows beyond %d values (the limit)",
                           PKL_MAX_STACK);
        }
        s = realloc(vm->stack, cap * sizeof *s);
        if (!s) {
            return vm_fail(vm, "out of memory");
        }
        vm->stack = s;
        vm->scap = cap;
    }
    vm->stack[vm->sp++] = o;
    return 0;
}

/* Pops one value into *o; fails on an empty stack (or one whose top is a MARK). */
static int vm_pop(Vm *vm, Obj **o, const char *op)
{
    if (vm_avail(vm) == 0) {
        return vm_fail(vm, "%s on an empty stack", op);
    }
    *o = vm->stack[--vm->sp];
    return 0;
}

/* Closes the innermost MARK: *first is the stack index of its first value. */
static int vm_pop_mark(Vm *vm, size_t *first, const char *op)
{
    if (vm->nmarks == 0) {
        return vm_fail(vm, "%s without a MARK", op);
    }
    *first = vm->marks[--vm->nmarks];
    return 0;
}

/* Makes a tuple of the `n` values at stack[first..] and drops them from the stack. */
static int vm_tuple(Vm *vm, size_t first, size_t n)
{
    Obj *t;

    if (n == 0) {
        vm->sp = first;
        return vm_push(vm, vm->empty_tuple);
    }
    t = new_obj(vm, OB_TUPLE);
    if (!t || !(t->u.tup.v = arena_alloc(vm->arena, n * sizeof(Obj *)))) {
        return vm_oom(vm);
    }
    memcpy(t->u.tup.v, vm->stack + first, n * sizeof(Obj *));
    t->u.tup.n = n;
    vm->sp = first;
    return vm_push(vm, t);
}

static int need(Vm *vm, size_t k, const char *op)
{
    if ((size_t)(vm->end - vm->p) < k) {
        return vm_fail(vm, "the pickle ends inside %s (truncated)", op);
    }
    return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static int push_int(Vm *vm, int64_t v)
{
    Obj *o = new_obj(vm, OB_INT);

    if (o) {
        o->u.i = v;
    }
    return vm_push(vm, o);
}

/* A string of `len` bytes at vm->p (already checked to be there). */
static int push_str(Vm *vm, size_t len)
{
    Obj *o = new_obj(vm, OB_STR);
    char *s = o ? arena_alloc(vm->arena, len + 1) : NULL;

    if (!s) {
        return vm_oom(vm);
    }
    memcpy(s, vm->p, len);
    s[len] = '\0';
    vm->p += len;
    o->u.str.s = s;
    o->u.str.len = len;
    return vm_push(vm, o);
}

/* LONG1: a little-endian two's complement integer of up to 8 bytes. */
static int op_long1(Vm *vm)
{
    size_t n;
    uint64_t v;

    if (need(vm, 1, "LONG1") != 0) {
        return -1;
    }
    n = *vm->p++;
    if (n > 8) {
        return vm_fail(vm, "LONG1 integer of %zu bytes does not fit in 64 bits", n);
    }
    if (need(vm, n, "LONG1") != 0) {
        return -1;
    }
    v = le(vm->p, (int)n);
    if (n > 0 && n < 8 && (vm->p[n - 1] & 0x80)) {
        v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    }
    vm->p += n;
    return push_int(vm, (int64_t)v);
}

/* Messages for globals outside the allow-list. */
static int refuse_global(Vm *vm, const char *module, const char *name)
{
    if (strcmp(module, "__main__") == 0 || strcmp(module, "torch.nn") == 0 ||
        strncmp(module, "torch.nn.", 9) == 0) {
        return vm_fail(vm,
                       "the pickle references the class '%s.%s': this file holds a whole "
                       "pickled model, not a state_dict; save it with "
                       "torch.save(model.state_dict(), path) instead",
                       module, name);
    }
    return vm_fail(vm,
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
        return vm_fail(vm, "global '%s.%s' has an empty or non-printable name",
                       clean(m, sizeof m, module, mlen), clean(n, sizeof n, name, nlen));
    }
    for (int i = 0; i < NGLOBALS; i++) {
        if (strlen(globals[i].module) == mlen && memcmp(globals[i].module, module, mlen) == 0 &&
            strlen(globals[i].name) == nlen && memcmp(globals[i].name, name, nlen) == 0) {
            o = new_obj(vm, OB_GLOBAL);
            if (o) {
                o->u.g = i;
            }
            return vm_push(vm, o);
        }
    }
    return refuse_global(vm, clean(m, sizeof m, module, mlen), clean(n, sizeof n, name, nlen));
}

/* GLOBAL: "module\nname\n". */
static int op_global(Vm *vm)
{
    const unsigned char *nl1, *nl2;
    size_t left = (size_t)(vm->end - vm->p);

    nl1 = memchr(vm->p, '\n', left);
    nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(vm->end - nl1 - 1)) : NULL;
    if (!nl2) {
        return vm_fail(vm, "GLOBAL without its two newline-terminated names (truncated)");
    }
    const char *module = (const char *)vm->p, *name = (const char *)nl1 + 1;
    size_t mlen = (size_t)(nl1 - vm->p), nlen = (size_t)(nl2 - nl1 - 1);
    vm->p = nl2 + 1;
    return push_global(vm, module, mlen, name, nlen);
}

static int op_stack_global(Vm *vm)
{
    Obj *name = NULL, *module = NULL;

    if (vm_pop(vm, &name, "STACK_GLOBAL") != 0 || vm_pop(vm, &module, "STACK_GLOBAL") != 0) {
        return -1;
    }
    if (name->kind != OB_STR || module->kind != OB_STR) {
        return vm_fail(vm, "STACK_GLOBAL on %s and %s, not two strings", kind_names[module->kind],
                       kind_names[name->kind]);
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
static int op_binpersid(Vm *vm)
{
    Obj *pid = NULL, *o, **v;

    if (vm_pop(vm, &pid, "BINPERSID") != 0) {
        return -1;
    }
    if (pid->kind != OB_TUPLE || pid->u.tup.n != 5) {
        return vm_fail(vm,
                       "persistent id is %s, not the 5-tuple ('storage', type, key, "
                       "location, size) of a torch storage",
                       pid->kind == OB_TUPLE ? "a tuple of another length"
                                             : kind_names[pid->kind]);
    }
    v = pid->u.tup.v;
    if (!is_str(v[0], "storage")) {
        return vm_fail(vm, "persistent id does not start with 'storage'");
    }
    if (v[1]->kind != OB_GLOBAL || globals[v[1]->u.g].kind != G_STORAGE) {
        return vm_fail(vm, "persistent id's type is not a torch storage type");
    }
    if (!key_ok(v[2])) {
        return vm_fail(vm, "persistent id's storage key is not a short name of letters, digits, "
                           "'_', '.' or '-'");
    }
    if (v[3]->kind != OB_STR) {
        return vm_fail(vm, "persistent id's location is not a string");
    }
    if (v[4]->kind != OB_INT || v[4]->u.i < 0) {
        return vm_fail(vm, "persistent id's storage size is not a non-negative integer");
    }
    o = new_obj(vm, OB_STORAGE);
    if (o) {
        o->u.storage.g = v[1]->u.g;
        o->u.storage.key = v[2]->u.str.s;
        o->u.storage.numel = v[4]->u.i;
    }
    return vm_push(vm, o);
}

/* A tuple of `ndim` <= RNNRT_MAX_DIMS non-negative ints into dims[]. */
static int int_tuple(Vm *vm, const Obj *t, const char *what, int64_t *dims, int *ndim)
{
    if (t->kind != OB_TUPLE) {
        return vm_fail(vm, "tensor %s is %s, not a tuple", what, kind_names[t->kind]);
    }
    if (t->u.tup.n > RNNRT_MAX_DIMS) {
        return vm_fail(vm, "tensor has %zu dimensions (at most %d are supported)", t->u.tup.n,
                       RNNRT_MAX_DIMS);
    }
    for (size_t i = 0; i < t->u.tup.n; i++) {
        const Obj *d = t->u.tup.v[i];
        if (d->kind != OB_INT || d->u.i < 0) {
            return vm_fail(vm, "tensor %s holds something other than non-negative integers", what);
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
        return vm_fail(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %zu", args->u.tup.n);
    }
    if (v[0]->kind != OB_STORAGE) {
        return vm_fail(vm, "_rebuild_tensor_v2's storage is %s", kind_names[v[0]->kind]);
    }
    if (v[1]->kind != OB_INT || v[1]->u.i < 0) {
        return vm_fail(vm, "_rebuild_tensor_v2's storage offset is not a non-negative integer");
    }
    if (v[4]->kind != OB_BOOL || v[5]->kind != OB_DICT ||
        (args->u.tup.n == 7 && v[6]->kind != OB_DICT && v[6]->kind != OB_NONE)) {
        return vm_fail(vm, "_rebuild_tensor_v2's requires_grad, backward_hooks or metadata "
                           "argument has the wrong type");
    }
    o = new_obj(vm, OB_TENSOR);
    t = o ? arena_alloc(vm->arena, sizeof *t) : NULL;
    if (!t) {
        return vm_oom(vm);
    }
    memset(t, 0, sizeof *t);
    if (int_tuple(vm, v[2], "size", t->shape, &t->ndim) != 0 ||
        int_tuple(vm, v[3], "stride", t->stride, &nstride) != 0) {
        return -1;
    }
    if (nstride != t->ndim) {
        return vm_fail(vm, "tensor has %d sizes but %d strides", t->ndim, nstride);
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
    return vm_push(vm, o);
}

static int op_reduce(Vm *vm)
{
    Obj *args = NULL, *fn = NULL, *o;

    if (vm_pop(vm, &args, "REDUCE") != 0 || vm_pop(vm, &fn, "REDUCE") != 0) {
        return -1;
    }
    if (fn->kind != OB_GLOBAL) {
        return vm_fail(vm, "REDUCE calls %s; only allowed globals may be called",
                       kind_names[fn->kind]);
    }
    if (args->kind != OB_TUPLE) {
        return vm_fail(vm, "REDUCE's arguments are %s, not a tuple", kind_names[args->kind]);
    }
    switch (globals[fn->u.g].kind) {
    case G_ORDERED_DICT:
        if (args->u.tup.n != 0) {
            return vm_fail(vm, "collections.OrderedDict called with arguments");
        }
        o = new_obj(vm, OB_DICT);
        if (o) {
            o->u.dict.ordered = 1;
        }
        return vm_push(vm, o);
    case G_REBUILD_TENSOR:
        return rebuild_tensor(vm, args);
    case G_REBUILD_PARAM:
        if (args->u.tup.n != 3 || args->u.tup.v[0]->kind != OB_TENSOR ||
            args->u.tup.v[1]->kind != OB_BOOL || args->u.tup.v[2]->kind != OB_DICT) {
            return vm_fail(vm, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
        }
        return vm_push(vm, args->u.tup.v[0]);
    case G_STORAGE:
        break;
    }
    return vm_fail(vm, "calling torch.%s is refused (storages come only through persistent ids)",
                   globals[fn->u.g].name);
}

static int dict_add(Vm *vm, Obj *d, Obj *k, Obj *v)
{
    if (k->kind != OB_STR && k->kind != OB_INT && k->kind != OB_BOOL && k->kind != OB_NONE) {
        return vm_fail(vm,
                       "dict key is %s (only strings, integers, booleans and None are "
                       "accepted)",
                       kind_names[k->kind]);
    }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
        Pair *p = arena_alloc(vm->arena, cap * sizeof *p);
        if (!p) {
            return vm_oom(vm);
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

static int op_setitem(Vm *vm)
{
    Obj *k = NULL, *v = NULL;

    if (vm_pop(vm, &v, "SETITEM") != 0 || vm_pop(vm, &k, "SETITEM") != 0) {
        return -1;
    }
    if (vm_avail(vm) == 0 || vm->stack[vm->sp - 1]->kind != OB_DICT) {
        return vm_fail(vm, "SETITEM on something that is not a dict");
    }
    return dict_add(vm, vm->stack[vm->sp - 1], k, v);
}

static int op_setitems(Vm *vm)
{
    size_t first = 0, n;
    Obj *d;

    if (vm_pop_mark(vm, &first, "SETITEMS") != 0) {
        return -1;
    }
    n = vm->sp - first;
    if (n % 2 != 0) {
        return vm_fail(vm, "SETITEMS with an odd number of values");
    }
    if (vm_avail(vm) <= n || (d = vm->stack[first - 1])->kind != OB_DICT) {
        return vm_fail(vm, "SETITEMS on something that is not a dict");
    }
    for (size_t i = first; i < vm->sp; i += 2) {
        if (dict_add(vm, d, vm->stack[i], vm->stack[i + 1]) != 0) {
            return -1;
        }
    }
    vm->sp = first;
    return 0;
}

/* BUILD: only an OrderedDict's attributes (torch's `_metadata`), which are ignored. */
static int op_build(Vm *vm)
{
    Obj *state = NULL, *o;

    if (vm_pop(vm, &state, "BUILD") != 0) {
        return -1;
    }
    if (vm_avail(vm) == 0) {
        return vm_fail(vm, "BUILD on an empty stack");
    }
    o = vm->stack[vm->sp - 1];
    if (o->kind != OB_DICT || !o->u.dict.ordered) {
        return vm_fail(vm,
                       "BUILD sets the state of %s; only an OrderedDict's attributes "
                       "are accepted",
                       kind_names[o->kind]);
    }
    if (state->kind == OB_NONE) {
        return 0;
    }
    if (state->kind != OB_DICT) {
        return vm_fail(vm, "BUILD's state is %s, not a dict of attributes",
                       kind_names[state->kind]);
    }
    for (size_t i = 0; i < state->u.dict.n; i++) {
        if (state->u.dict.p[i].k->kind != OB_STR) {
            return vm_fail(vm, "BUILD's state has an attribute name that is not a string");
        }
    }
    return 0;
}

static int memo_put(Vm *vm, uint64_t idx)
{
    if (vm_avail(vm) == 0) {
        return vm_fail(vm, "memo store from an empty stack");
    }
    if (idx >= PKL_MAX_MEMO || idx > vm->nmemo + PKL_MEMO_GAP) {
        return vm_fail(vm, "memo index %llu is out of range (%zu stored, limit %d)",
                       (unsigned long long)idx, vm->nmemo, PKL_MAX_MEMO);
    }
    if (idx >= vm->mcap) {
        size_t cap = vm->mcap ? vm->mcap : 64;
        Obj **m;
        while (cap <= idx) {
            cap *= 2;
        }
        m = realloc(vm->memo, cap * sizeof *m);
        if (!m) {
            return vm_fail(vm, "out of memory");
        }
        memset(m + vm->mcap, 0, (cap - vm->mcap) * sizeof *m);
        vm->memo = m;
        vm->mcap = cap;
    }
    vm->memo[idx] = vm->stack[vm->sp - 1];
    if (idx >= vm->nmemo) {
        vm->nmemo = (size_t)idx + 1;
    }
    return 0;
}

static int memo_get(Vm *vm, uint64_t idx)
{
    if (idx >= vm->nmemo || !vm->memo[idx]) {
        return vm_fail(vm, "memo index %llu was never stored", (unsigned long long)idx);
    }
    return vm_push(vm, vm->memo[idx]);
}

/* Names of the opcodes this reader refuses, for the message. */
static const struct {
    unsigned char op;
    const char *name;
} refused_ops[] = {
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'F', "FLOAT"},
    {'I', "INT"},
    {'L', "LONG"},
    {'P', "PERSID"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'a', "APPEND"},
    {'d', "DICT"},
    {'e', "APPENDS"},
    {'g', "GET"},
    {'i', "INST"},
    {'l', "LIST"},
    {']', "EMPTY_LIST"},
    {'o', "OBJ"},
    {'p', "PUT"},
    {'G', "BINFLOAT"},
    {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"},
    {0x81, "NEWOBJ"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {0x8b, "LONG4"},
    {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
};

static const char *op_name(int op)
{
    for (size_t i = 0; i < sizeof refused_ops / sizeof refused_ops[0]; i++) {
        if (refused_ops[i].op == op) {
            return refused_ops[i].name;
        }
    }
    return NULL;
}

/* One opcode at vm->p. Returns 1 after STOP, 0 to go on, -1 on error. */
static int vm_step(Vm *vm)
{
    size_t first = 0;
    int op;

    vm->op_pos = (size_t)(vm->p - vm->start);
    op = *vm->p++;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(vm, 1, "PROTO") != 0) {
            return -1;
        }
        if (*vm->p < 2 || *vm->p > 5) {
            return vm_fail(vm, "pickle protocol %d is not supported (torch.save writes 2)",
                           *vm->p);
        }
        vm->p++;
        return 0;
    case 0x95: /* FRAME: a length prefix for buffering, nothing to do */
        if (need(vm, 8, "FRAME") != 0) {
            return -1;
        }
        if (le(vm->p, 8) > (uint64_t)(vm->end - vm->p - 8)) {
            return vm_fail(vm, "FRAME is longer than the rest of the pickle");
        }
        vm->p += 8;
        return 0;
    case '(': /* MARK */
        if (vm->nmarks == PKL_MAX_MARKS) {
            return vm_fail(vm, "MARKs nested deeper than %d (the limit)", PKL_MAX_MARKS);
        }
        vm->marks[vm->nmarks++] = vm->sp;
        return 0;
    case '.': /* STOP */
        if (vm->nmarks != 0 || vm->sp != 1) {
            return vm_fail(vm,
                           "STOP with %zu values and %d MARKs on the stack (expected one "
                           "value)",
                           vm->sp, vm->nmarks);
        }
        if (vm->p != vm->end) {
            return vm_fail(vm, "%zu bytes follow STOP", (size_t)(vm->end - vm->p));
        }
        return 1;
    case 'N':
        return vm_push(vm, vm->none);
    case 0x88: /* NEWTRUE */
        return vm_push(vm, vm->yes);
    case 0x89: /* NEWFALSE */
        return vm_push(vm, vm->no);
    case ')':
        return vm_push(vm, vm->empty_tuple);
    case '}':
        return vm_push(vm, new_obj(vm, OB_DICT));
    case 't':
        if (vm_pop_mark(vm, &first, "TUPLE") != 0) {
            return -1;
        }
        return vm_tuple(vm, first, vm->sp - first);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
        if (vm_avail(vm) < (size_t)(op - 0x84)) {
            return vm_fail(vm, "TUPLE%d with fewer values on the stack", op - 0x84);
        }
        return vm_tuple(vm, vm->sp - (size_t)(op - 0x84), (size_t)(op - 0x84));
    case 'X': /* BINUNICODE */
        if (need(vm, 4, "BINUNICODE") != 0) {
            return -1;
        }
        first = (size_t)le(vm->p, 4);
        vm->p += 4;
        if (need(vm, first, "BINUNICODE") != 0) {
            return -1;
        }
        return push_str(vm, first);
    case 0x8c: /* SHORT_BINUNICODE */
        if (need(vm, 1, "SHORT_BINUNICODE") != 0) {
            return -1;
        }
        first = *vm->p++;
        if (need(vm, first, "SHORT_BINUNICODE") != 0) {
            return -1;
        }
        return push_str(vm, first);
    case 'K': /* BININT1 */
        if (need(vm, 1, "BININT1") != 0) {
            return -1;
        }
        return push_int(vm, *vm->p++);
    case 'M': /* BININT2 */
        if (need(vm, 2, "BININT2") != 0) {
            return -1;
        }
        vm->p += 2;
        return push_int(vm, (int64_t)le(vm->p - 2, 2));
    case 'J': /* BININT: signed 32 bits */
        if (need(vm, 4, "BININT") != 0) {
            return -1;
        }
        vm->p += 4;
        return push_int(vm, (int32_t)(uint32_t)le(vm->p - 4, 4));
    case 0x8a:
        return op_long1(vm);
    case 'c':
        return op_global(vm);
    case 0x93:
        return op_stack_global(vm);
    case 'Q':
        return op_binpersid(vm);
    case 'R':
        return op_reduce(vm);
    case 's':
        return op_setitem(vm);
    case 'u':
        return op_setitems(vm);
    case 'b':
        return op_build(vm);
    case 'q': /* BINPUT */
        if (need(vm, 1, "BINPUT") != 0) {
            return -1;
        }
        return memo_put(vm, *vm->p++);
    case 'r': /* LONG_BINPUT */
        if (need(vm, 4, "LONG_BINPUT") != 0) {
            return -1;
        }
        vm->p += 4;
        return memo_put(vm, le(vm->p - 4, 4));
    case 0x94: /* MEMOIZE */
        return memo_put(vm, vm->nmemo);
    case 'h': /* BINGET */
        if (need(vm, 1, "BINGET") != 0) {
            return -1;
        }
        return memo_get(vm, *vm->p++);
    case 'j': /* LONG_BINGET */
        if (need(vm, 4, "LONG_BINGET") != 0) {
            return -1;
        }
        vm->p += 4;
        return memo_get(vm, le(vm->p - 4, 4));
    default:
        break;
    }
    if (op_name(op)) {
        return vm_fail(vm,
                       "pickle opcode %s (0x%02x) is refused: torch.save does not write it "
                       "for a state_dict",
                       op_name(op), op);
    }
    return vm_fail(vm, "unknown pickle opcode 0x%02x", op);
}

/* ---- the result: a flat dict of str -> tensor ------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the top-level object and copies its tensors into out->t (in dict order). */
static int vm_result(Vm *vm, Obj *root, PklDict *out)
{
    char nb[160];
    const char **sorted;

    if (root->kind != OB_DICT) {
        return vm_fail(vm, "the pickle holds %s, not a state_dict (a dict of tensors)",
                       kind_names[root->kind]);
    }
    if (root->u.dict.n > (size_t)INT32_MAX / 2) {
        return vm_fail(vm, "the state_dict has too many entries");
    }
    out->t = arena_alloc(vm->arena, (root->u.dict.n + 1) * sizeof *out->t);
    sorted = arena_alloc(vm->arena, (root->u.dict.n + 1) * sizeof *sorted); /* names */
    if (!out->t || !sorted) {
        return vm_oom(vm);
    }
    for (size_t i = 0; i < root->u.dict.n; i++) {
        const Obj *k = root->u.dict.p[i].k, *v = root->u.dict.p[i].v;
        if (k->kind != OB_STR || strlen(k->u.str.s) != k->u.str.len) {
            return vm_fail(vm, "state_dict key %zu is %s, not a string without NULs", i,
                           k->kind == OB_STR ? "a string with a NUL" : kind_names[k->kind]);
        }
        clean(nb, sizeof nb, k->u.str.s, k->u.str.len);
        if (v->kind == OB_DICT) {
            return vm_fail(vm,
                           "entry '%s' is a dict, not a tensor: a checkpoint of several "
                           "objects? save the model's state_dict() alone",
                           nb);
        }
        if (v->kind != OB_TENSOR) {
            return vm_fail(vm,
                           "entry '%s' is %s, not a tensor: only a state_dict of tensors "
                           "is read",
                           nb, kind_names[v->kind]);
        }
        if (v->u.tensor->dtype == PKL_OTHER) {
            return vm_fail(vm,
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
            return vm_fail(vm, "duplicate key '%s' in the state_dict",
                           clean(nb, sizeof nb, sorted[i], strlen(sorted[i])));
        }
    }
    return 0;
}

int rnnrt_pkl_read(const unsigned char *buf, size_t n, const char *where, PklDict *out,
                   RnnrtError *err)
{
    Vm vm;
    int rc = 0;

    memset(out, 0, sizeof *out);
    memset(&vm, 0, sizeof vm);
    vm.start = vm.p = buf;
    vm.end = buf + n;
    vm.where = where;
    vm.err = err;
    vm.arena = calloc(1, sizeof *vm.arena);
    if (!vm.arena) {
        rnnrt_util_set_err(err, "%s: out of memory", where);
        return -1;
    }
    vm.none = new_obj(&vm, OB_NONE);
    vm.yes = new_obj(&vm, OB_BOOL);
    vm.no = new_obj(&vm, OB_BOOL);
    vm.empty_tuple = new_obj(&vm, OB_TUPLE);
    if (!vm.none || !vm.yes || !vm.no || !vm.empty_tuple) {
        rc = vm_oom(&vm);
    } else {
        vm.yes->u.i = 1;
    }
    if (rc == 0 && n == 0) {
        rc = vm_fail(&vm, "the pickle is empty");
    }
    while (rc == 0) {
        if (vm.p == vm.end) {
            vm.op_pos = n;
            rc = vm_fail(&vm, "the pickle ends without STOP (truncated)");
            break;
        }
        rc = vm_step(&vm);
    }
    if (rc == 1) {
        rc = vm_result(&vm, vm.stack[0], out);
    }
    free(vm.stack);
    free(vm.memo);
    if (rc != 0) {
        arena_free(vm.arena);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->arena = vm.arena;
    return 0;
}

void rnnrt_pkl_free(PklDict *d)
{
    if (d) {
        arena_free(d->arena);
        memset(d, 0, sizeof *d);
    }
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct Out {
    unsigned char *p;
    size_t len, cap;
    int oom;
} Out;

static void put(Out *o, const void *b, size_t n)
{
    if (o->oom) {
        return;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        unsigned char *p;
        while (cap < o->len + n) {
            cap *= 2;
        }
        p = realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void put1(Out *o, int c)
{
    unsigned char b = (unsigned char)c;

    put(o, &b, 1);
}

static void put_le(Out *o, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        put1(o, (int)(v >> (8 * i) & 0xff));
    }
}

/* The shortest of BININT1, BININT2, BININT and LONG1, as Python's pickler chooses. */
static void put_int(Out *o, int64_t v)
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

static void put_str(Out *o, const char *s)
{
    size_t n = strlen(s);

    put1(o, 'X');
    put_le(o, n, 4);
    put(o, s, n);
}

/* First use of a memoised value: emit it and BINPUT; later uses: BINGET. */
static void put_memo(Out *o, int *slot, int *next, const char *emit, size_t len)
{
    if (*slot >= 0) {
        put1(o, 'h');
        put1(o, *slot);
        return;
    }
    put(o, emit, len);
    *slot = (*next)++;
    put1(o, 'q');
    put1(o, *slot);
}

static void put_tuple(Out *o, const int64_t *v, int n)
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
    Out o = {NULL, 0, 0, 0};

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
    *buf = o.p;
    *len = o.len;
    return 0;
}
