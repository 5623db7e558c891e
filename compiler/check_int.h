/* check_int.h — what the check stage's files share, and nothing outside compiler/check*.c
 * includes: the Checker, the key tables' shape and the readers of spec values (check_value.c)
 * that every block's rules are written with. The stage's public face is check.h.
 */
#ifndef RNNC_CHECK_INT_H
#define RNNC_CHECK_INT_H

#include "check.h"

/* One check_spec run: where its Net goes and where its diagnostics go. */
typedef struct Checker {
    Arena *arena;
    DiagList *diag;
} Checker;

/* An entry of a mapping's table of known keys; `cells` is a mask of the selector values (cell
 * kinds, optimizers, scheduler kinds: bit i for value i) the key applies to. A table ends with
 * a NULL key. */
typedef struct KeyInfo {
    const char *key;
    int cells;
} KeyInfo;

/* What selects the keys of a mapping that apply: `value` indexes the NULL-terminated `names`
 * (the selector's spellings), and `noun` is the selector's key (cell, optimizer, kind). */
typedef struct KeyFilter {
    const char *noun;
    const char *const *names;
    int value;
} KeyFilter;

/* Largest input_size, out_features and deploy.max_seq_len; hidden_size; layers of a block. */
enum { MAX_SIZE = 1 << 20, MAX_HIDDEN = 1 << 16, MAX_LAYERS = 64 };

/* Levenshtein distance of `a` and `b`, 99 when either is over 40 characters: enough to
 * suggest a near miss. */
int check_edit_distance(const char *a, const char *b);

/* Reports the unknown and duplicate keys of mapping `map` against `table`, and, when `f` is
 * not NULL and f->value >= 0, the keys that do not apply to that value. `where` names the map
 * in messages. Diagnostics only, in key order; out of memory is reported too. */
void check_keys(Checker *c, const Node *map, const KeyInfo *table, const KeyFilter *f,
                const char *where);

/* How a message names what node `n` is: "a mapping", "a list" or "text". */
const char *check_node_what(const Node *n);

/* 0 when `v` is a scalar; else -1 after "'key' must be <type>, found ...". */
int check_want_scalar(Checker *c, const Node *v, const char *key, const char *type);

/* Reads an integer in [lo, hi] from `v`; 0 and *out set, or -1 after a diagnostic at v. */
int check_get_int(Checker *c, const Node *v, const char *key, long lo, long hi, int *out);

/* Reads unquoted true or false from `v`; 0 and *out set (1 or 0), or -1 after a diagnostic. */
int check_get_bool(Checker *c, const Node *v, const char *key, int *out);

/* Reads a finite number from `v`; 0 and *out set, or -1 after a diagnostic. */
int check_get_float(Checker *c, const Node *v, const char *key, double *out);

/* Reads a number in [lo, hi] from `v` (lo_open, hi_open: that end excluded); 0 and *out set,
 * or -1 after a diagnostic. */
int check_get_range(Checker *c, const Node *v, const char *key, double lo, double hi, int hi_open,
                    int lo_open, double *out);

/* Reads one of the NULL-terminated `options` from `v`: its index, or -1 after a diagnostic
 * listing them. */
int check_get_enum(Checker *c, const Node *v, const char *key, const char *const *options);

/* Reads a C identifier (check_is_ident) from `v`: the node's own string, or NULL after a
 * diagnostic. */
const char *check_get_ident(Checker *c, const Node *v, const char *key);

/* Reports that `map` (named `where`) lacks the required `key`, unless one of its keys is a
 * near miss of it: that was reported already, with the suggestion. */
void check_missing(Checker *c, const Node *map, const char *key, const char *where);

/* check_train.c: fills *t from the spec's train: mapping `m` (NULL: no train: block, all
 * defaults). Diagnostics for every bad key; *t holds defaults where a key was bad. */
void check_train(Checker *c, const Node *m, TrainCfg *t);

/* check_limits.c: the layers of block `b` (checked, input_size set) against
 * CHECK_UNROLL_MAX when it asks for kernel: unrolled; one diagnostic at most. */
void check_block_unroll(Checker *c, const Block *b);

/* check_limits.c: the whole network against the CHECK_MAX_* limits (check.h), block by
 * block, so that a message points at the block (of the list `layers`) that crosses a limit,
 * each limit reported once. The blocks, and the head mapping `head` when present, have passed
 * their own checks. */
void check_totals(Checker *c, const Node *layers, const Net *net, const Node *head);

/* check_limits.c: fills net's weights_strip and weights_map from the weights: mapping `m`;
 * the blocks and head are read already, so that the map's names can be checked against them.
 * Diagnostics for every bad entry, which is left out of the map. */
void check_weights(Checker *c, const Node *m, Net *net);

#endif
