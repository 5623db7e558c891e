/* spec.h — first stage: YAML text to SpecDoc, a tree of maps, sequences and scalars,
 * every node carrying its span. Only spec.c knows libyaml; `check` gives the tree meaning.
 */
#ifndef RNNC_SPEC_H
#define RNNC_SPEC_H

#include "arena.h"
#include "diag.h"

typedef enum NodeKind { NODE_SCALAR, NODE_MAP, NODE_SEQ } NodeKind;

typedef struct Node Node;
struct Node {
    NodeKind kind;
    Span span;
    const char *str; /* NODE_SCALAR: the text */
    int plain;       /* NODE_SCALAR: unquoted, so `true` or `12` may be read as such */
    int n;           /* NODE_MAP: pairs; NODE_SEQ: items */
    Node **keys;     /* NODE_MAP: (n) scalar keys, in source order, duplicates kept */
    Node **vals;     /* NODE_MAP: (n); NODE_SEQ: the items */
};

typedef struct SpecDoc {
    SrcFile src;
    Node *root; /* NULL for an empty document */
} SpecDoc;

/* Parses `text` (NUL-terminated, kept by reference) named `name` for diagnostics.
 * Returns the document, or NULL after adding a diagnostic for a YAML syntax error,
 * an anchor (`&a`, even one no alias refers to), an alias (`*a`), a tag (`!!str`), a
 * non-scalar key, more than one document or nesting deeper than 32. */
SpecDoc *spec_parse(Arena *a, DiagList *d, const char *name, const char *text);
/* Reads the file at `path` into the arena and parses it; NULL (with a diagnostic) when it
 * cannot be read or does not parse. */
SpecDoc *spec_load_file(Arena *a, DiagList *d, const char *path);
/* The value of `key` in map `map` (first occurrence), or NULL. */
const Node *spec_map_get(const Node *map, const char *key);

/* spec_edit.c: the spec text `text` (which `doc` was parsed from) with the value at `path`
 * ("layers[0].hidden_size") replaced by `value`, or the key added to its mapping; malloc'd,
 * or NULL after a diagnostic when the path leads nowhere or names a mapping or list. */
char *spec_edit_set(DiagList *d, const SpecDoc *doc, const char *text, const char *path,
                    const char *value);
/* A YAML list of rows of `width` numbers ("[[1, 2], [3, 4]]"; a flat list for width 1) as a
 * malloc'd (rows, width) array; NULL after a diagnostic. The parse tree lives in `a`. */
double *spec_read_rows(Arena *a, DiagList *d, const char *text, int width, int *rows);

#endif
