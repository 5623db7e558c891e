/* pickle_int.h — internal to the pickle reader: the machine (Vm), its parsed objects (Obj)
 * and their arena, shared by pickle_read.c (the stack machine and its opcodes) and
 * pickle_obj.c (objects, the allow-list of globals and what calling them builds, the
 * final state_dict). The rnnrt_pkl_ prefix keeps the names clear of the caller's.
 */
#ifndef RNNRT_PICKLE_INT_H
#define RNNRT_PICKLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pickle.h"

/* ---- the arena: every parsed object, freed at once ------------------------------------ */

typedef struct Chunk Chunk; /* pickle_obj.c */

typedef struct Arena {
    Chunk *head;
    size_t total; /* bytes of all chunks */
    int over;     /* an allocation failed on PKL_MAX_ARENA (else on malloc) */
} Arena;

/* ---- objects ---------------------------------------------------------------------------- */

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
        int g; /* OB_GLOBAL: index into pickle_obj.c's allow-list */
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

/* pickle_obj.c */

/* Each ObjKind's name with its article ("a tuple"), for messages. */
extern const char *const rnnrt_pkl_kind_names[];

/* `n` bytes from arena `a`, aligned for any type; NULL when out of memory, with a->over
 * set when the cause is PKL_MAX_ARENA. Freed only with the whole arena. */
void *rnnrt_pkl_arena_alloc(Arena *a, size_t n);
/* Frees every chunk of `a` and `a` itself (malloc'd); safe on NULL. */
void rnnrt_pkl_arena_free(Arena *a);
/* A zeroed object of `kind` in vm's arena; NULL when out of memory (rnnrt_pkl_push then
 * reports it). */
Obj *rnnrt_pkl_obj_new(Vm *vm, ObjKind kind);
/* Appends k: v to the dict `d` (keys: str, int, bool or None; duplicates are kept).
 * Returns 0, or -1 with the message set. */
int rnnrt_pkl_dict_add(Vm *vm, Obj *d, Obj *k, Obj *v);

/* The opcodes that touch globals; each returns 0, or -1 with the message set. GLOBAL (vm->p
 * after the opcode) and STACK_GLOBAL push an allowed global or refuse it; BINPERSID turns a
 * torch persistent id into a storage reference; REDUCE calls an allowed global. */
int rnnrt_pkl_op_global(Vm *vm);
int rnnrt_pkl_op_stack_global(Vm *vm);
int rnnrt_pkl_op_binpersid(Vm *vm);
int rnnrt_pkl_op_reduce(Vm *vm);

/* Checks the top-level object `root` (a dict of str -> tensor, keys unique, dtypes
 * readable) and fills out->t and out->n, in dict order, from vm's arena (out->arena is left
 * to the caller). Returns 0, or -1 with the message set. */
int rnnrt_pkl_result(Vm *vm, Obj *root, PklDict *out);

/* pickle_read.c */

/* Sets "<where>: byte N: <message>" in vm->err; always returns -1. */
int rnnrt_pkl_fail(Vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports an allocation failure (the arena limit or out of memory); always returns -1. */
int rnnrt_pkl_oom(Vm *vm);
/* Pushes `o`; a NULL `o` (a failed allocation) is reported as such. Returns 0, or -1 with
 * the message set (also when the stack would pass PKL_MAX_STACK). */
int rnnrt_pkl_push(Vm *vm, Obj *o);
/* Pops one value into *o; fails, naming the opcode `op`, on an empty stack (or one whose
 * top is a MARK). Returns 0 or -1. */
int rnnrt_pkl_pop(Vm *vm, Obj **o, const char *op);

#endif
