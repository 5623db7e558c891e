/* pickle_read.c — the strict pickle reader behind pt.c (see pickle.h): a small stack
 * machine over the opcodes torch.save emits for a state_dict. Stack, marks and memo are
 * bounded; the objects, the allow-list of globals and the final state_dict check are
 * pickle_obj.c's (shared through pickle_int.h).
 */
#include "pickle_int.h"
#include "rt_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the machine ------------------------------------------------------------------------ */

/* "<where>: byte N: <message>"; always returns -1. */
int rnnrt_pkl_fail(Vm *vm, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rnnrt_util_set_err(vm->err, "%s: byte %zu: %s", vm->where, vm->op_pos, msg);
    return -1;
}

int rnnrt_pkl_oom(Vm *vm)
{
    if (vm->arena->over) {
        return rnnrt_pkl_fail(vm, "the pickle builds more than %llu bytes of objects (the limit)",
                              (unsigned long long)PKL_MAX_ARENA);
    }
    return rnnrt_pkl_fail(vm, "out of memory");
}

/* Values above the innermost MARK (what the next opcode may pop). */
static size_t vm_avail(const Vm *vm)
{
    return vm->sp - (vm->nmarks ? vm->marks[vm->nmarks - 1] : 0);
}

int rnnrt_pkl_push(Vm *vm, Obj *o)
{
    if (!o) {
        return rnnrt_pkl_oom(vm);
    }
    if (vm->sp == vm->scap) {
        size_t cap = vm->scap ? vm->scap * 2 : 64;
        Obj **s;
        if (vm->scap >= PKL_MAX_STACK) {
            return rnnrt_pkl_fail(vm, "the pickle stack grows beyond %d values (the limit)",
                                  PKL_MAX_STACK);
        }
        s = realloc(vm->stack, cap * sizeof *s);
        if (!s) {
            return rnnrt_pkl_fail(vm, "out of memory");
        }
        vm->stack = s;
        vm->scap = cap;
    }
    vm->stack[vm->sp++] = o;
    return 0;
}

/* Pops one value into *o; fails on an empty stack (or one whose top is a MARK). */
int rnnrt_pkl_pop(Vm *vm, Obj **o, const char *op)
{
    if (vm_avail(vm) == 0) {
        return rnnrt_pkl_fail(vm, "%s on an empty stack", op);
    }
    *o = vm->stack[--vm->sp];
    return 0;
}

/* Closes the innermost MARK: *first is the stack index of its first value. */
static int vm_pop_mark(Vm *vm, size_t *first, const char *op)
{
    if (vm->nmarks == 0) {
        return rnnrt_pkl_fail(vm, "%s without a MARK", op);
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
        return rnnrt_pkl_push(vm, vm->empty_tuple);
    }
    t = rnnrt_pkl_obj_new(vm, OB_TUPLE);
    if (!t || !(t->u.tup.v = rnnrt_pkl_arena_alloc(vm->arena, n * sizeof(Obj *)))) {
        return rnnrt_pkl_oom(vm);
    }
    memcpy(t->u.tup.v, vm->stack + first, n * sizeof(Obj *));
    t->u.tup.n = n;
    vm->sp = first;
    return rnnrt_pkl_push(vm, t);
}

static int need(Vm *vm, size_t k, const char *op)
{
    if ((size_t)(vm->end - vm->p) < k) {
        return rnnrt_pkl_fail(vm, "the pickle ends inside %s (truncated)", op);
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
    Obj *o = rnnrt_pkl_obj_new(vm, OB_INT);

    if (o) {
        o->u.i = v;
    }
    return rnnrt_pkl_push(vm, o);
}

/* A string of `len` bytes at vm->p (already checked to be there). */
static int push_str(Vm *vm, size_t len)
{
    Obj *o = rnnrt_pkl_obj_new(vm, OB_STR);
    char *s = o ? rnnrt_pkl_arena_alloc(vm->arena, len + 1) : NULL;

    if (!s) {
        return rnnrt_pkl_oom(vm);
    }
    memcpy(s, vm->p, len);
    s[len] = '\0';
    vm->p += len;
    o->u.str.s = s;
    o->u.str.len = len;
    return rnnrt_pkl_push(vm, o);
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
        return rnnrt_pkl_fail(vm, "LONG1 integer of %zu bytes does not fit in 64 bits", n);
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

static int op_setitem(Vm *vm)
{
    Obj *k = NULL, *v = NULL;

    if (rnnrt_pkl_pop(vm, &v, "SETITEM") != 0 || rnnrt_pkl_pop(vm, &k, "SETITEM") != 0) {
        return -1;
    }
    if (vm_avail(vm) == 0 || vm->stack[vm->sp - 1]->kind != OB_DICT) {
        return rnnrt_pkl_fail(vm, "SETITEM on something that is not a dict");
    }
    return rnnrt_pkl_dict_add(vm, vm->stack[vm->sp - 1], k, v);
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
        return rnnrt_pkl_fail(vm, "SETITEMS with an odd number of values");
    }
    if (vm_avail(vm) <= n || (d = vm->stack[first - 1])->kind != OB_DICT) {
        return rnnrt_pkl_fail(vm, "SETITEMS on something that is not a dict");
    }
    for (size_t i = first; i < vm->sp; i += 2) {
        if (rnnrt_pkl_dict_add(vm, d, vm->stack[i], vm->stack[i + 1]) != 0) {
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

    if (rnnrt_pkl_pop(vm, &state, "BUILD") != 0) {
        return -1;
    }
    if (vm_avail(vm) == 0) {
        return rnnrt_pkl_fail(vm, "BUILD on an empty stack");
    }
    o = vm->stack[vm->sp - 1];
    if (o->kind != OB_DICT || !o->u.dict.ordered) {
        return rnnrt_pkl_fail(vm,
                              "BUILD sets the state of %s; only an OrderedDict's attributes "
                              "are accepted",
                              rnnrt_pkl_kind_names[o->kind]);
    }
    if (state->kind == OB_NONE) {
        return 0;
    }
    if (state->kind != OB_DICT) {
        return rnnrt_pkl_fail(vm, "BUILD's state is %s, not a dict of attributes",
                              rnnrt_pkl_kind_names[state->kind]);
    }
    for (size_t i = 0; i < state->u.dict.n; i++) {
        if (state->u.dict.p[i].k->kind != OB_STR) {
            return rnnrt_pkl_fail(vm, "BUILD's state has an attribute name that is not a string");
        }
    }
    return 0;
}

static int memo_put(Vm *vm, uint64_t idx)
{
    if (vm_avail(vm) == 0) {
        return rnnrt_pkl_fail(vm, "memo store from an empty stack");
    }
    if (idx >= PKL_MAX_MEMO || idx > vm->nmemo + PKL_MEMO_GAP) {
        return rnnrt_pkl_fail(vm, "memo index %llu is out of range (%zu stored, limit %d)",
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
            return rnnrt_pkl_fail(vm, "out of memory");
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
        return rnnrt_pkl_fail(vm, "memo index %llu was never stored", (unsigned long long)idx);
    }
    return rnnrt_pkl_push(vm, vm->memo[idx]);
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
            return rnnrt_pkl_fail(vm, "pickle protocol %d is not supported (torch.save writes 2)",
                                  *vm->p);
        }
        vm->p++;
        return 0;
    case 0x95: /* FRAME: a length prefix for buffering, nothing to do */
        if (need(vm, 8, "FRAME") != 0) {
            return -1;
        }
        if (le(vm->p, 8) > (uint64_t)(vm->end - vm->p - 8)) {
            return rnnrt_pkl_fail(vm, "FRAME is longer than the rest of the pickle");
        }
        vm->p += 8;
        return 0;
    case '(': /* MARK */
        if (vm->nmarks == PKL_MAX_MARKS) {
            return rnnrt_pkl_fail(vm, "MARKs nested deeper than %d (the limit)", PKL_MAX_MARKS);
        }
        vm->marks[vm->nmarks++] = vm->sp;
        return 0;
    case '.': /* STOP */
        if (vm->nmarks != 0 || vm->sp != 1) {
            return rnnrt_pkl_fail(vm,
                                  "STOP with %zu values and %d MARKs on the stack (expected one "
                                  "value)",
                                  vm->sp, vm->nmarks);
        }
        if (vm->p != vm->end) {
            return rnnrt_pkl_fail(vm, "%zu bytes follow STOP", (size_t)(vm->end - vm->p));
        }
        return 1;
    case 'N':
        return rnnrt_pkl_push(vm, vm->none);
    case 0x88: /* NEWTRUE */
        return rnnrt_pkl_push(vm, vm->yes);
    case 0x89: /* NEWFALSE */
        return rnnrt_pkl_push(vm, vm->no);
    case ')':
        return rnnrt_pkl_push(vm, vm->empty_tuple);
    case '}':
        return rnnrt_pkl_push(vm, rnnrt_pkl_obj_new(vm, OB_DICT));
    case 't':
        if (vm_pop_mark(vm, &first, "TUPLE") != 0) {
            return -1;
        }
        return vm_tuple(vm, first, vm->sp - first);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
        if (vm_avail(vm) < (size_t)(op - 0x84)) {
            return rnnrt_pkl_fail(vm, "TUPLE%d with fewer values on the stack", op - 0x84);
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
        return rnnrt_pkl_op_global(vm);
    case 0x93:
        return rnnrt_pkl_op_stack_global(vm);
    case 'Q':
        return rnnrt_pkl_op_binpersid(vm);
    case 'R':
        return rnnrt_pkl_op_reduce(vm);
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
        return rnnrt_pkl_fail(vm,
                              "pickle opcode %s (0x%02x) is refused: torch.save does not write it "
                              "for a state_dict",
                              op_name(op), op);
    }
    return rnnrt_pkl_fail(vm, "unknown pickle opcode 0x%02x", op);
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
    vm.none = rnnrt_pkl_obj_new(&vm, OB_NONE);
    vm.yes = rnnrt_pkl_obj_new(&vm, OB_BOOL);
    vm.no = rnnrt_pkl_obj_new(&vm, OB_BOOL);
    vm.empty_tuple = rnnrt_pkl_obj_new(&vm, OB_TUPLE);
    if (!vm.none || !vm.yes || !vm.no || !vm.empty_tuple) {
        rc = rnnrt_pkl_oom(&vm);
    } else {
        vm.yes->u.i = 1;
    }
    if (rc == 0 && n == 0) {
        rc = rnnrt_pkl_fail(&vm, "the pickle is empty");
    }
    while (rc == 0) {
        if (vm.p == vm.end) {
            vm.op_pos = n;
            rc = rnnrt_pkl_fail(&vm, "the pickle ends without STOP (truncated)");
            break;
        }
        rc = vm_step(&vm);
    }
    if (rc == 1) {
        rc = rnnrt_pkl_result(&vm, vm.stack[0], out);
    }
    free(vm.stack);
    free(vm.memo);
    if (rc != 0) {
        rnnrt_pkl_arena_free(vm.arena);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->arena = vm.arena;
    return 0;
}

void rnnrt_pkl_free(PklDict *d)
{
    if (d) {
        rnnrt_pkl_arena_free(d->arena);
        memset(d, 0, sizeof *d);
    }
}
