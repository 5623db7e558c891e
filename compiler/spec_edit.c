/* spec_edit.c — edits of spec text for the REPL's `set PATH VALUE`, and the YAML number
 * lists it takes as input. Works on a parsed SpecDoc and the text it came from: the edit
 * replaces the value's bytes (or adds a key line), so comments and layout survive; the
 * result is validated by loading it again, like any spec.
 */
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The byte offset of (line, col), both 1-based, in text. */
static size_t offset_of(const char *text, int line, int col)
{
    size_t at = 0;
    for (int l = 1; l < line && text[at]; at++)
        if (text[at] == '\n')
            l++;
    return at + (size_t)(col - 1);
}

/* Follows "a.b[2].c" from the root: the node at the path (NULL when its last key is absent),
 * the mapping that holds (or would hold) the last key in *parent, the key in key. -1 after
 * a diagnostic when the path leads nowhere. */
static int walk(DiagList *d, const SpecDoc *doc, const char *path, const Node **out,
                const Node **parent, char *key, size_t nkey)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const Node *cur = doc->root;
    *parent = NULL;
    for (char *seg = buf; seg && *seg;) {
        char *dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        char *br = strchr(seg, '[');
        long index = -1;
        if (br) {
            index = strtol(br + 1, NULL, 10);
            *br = '\0';
        }
        snprintf(key, nkey, "%.*s", (int)(nkey - 1), seg);
        *parent = cur;
        if (!cur || cur->kind != NODE_MAP) {
            diag_error(d, span_none(), "'%s' is not inside a mapping", seg);
            return -1;
        }
        cur = spec_map_get(cur, seg);
        if (index >= 0) {
            if (!cur || cur->kind != NODE_SEQ || index >= cur->n) {
                diag_error(d, span_none(), "'%s' has no item %ld", seg, index);
                return -1;
            }
            cur = cur->vals[index];
            *parent = NULL;
        }
        seg = dot ? dot + 1 : NULL;
        if (seg && !cur) {
            diag_error(d, span_none(), "the spec has no '%s': add it to the file", key);
            return -1;
        }
    }
    *out = cur;
    return 0;
}

/* text with the scalar `cur` replaced by value. */
static char *replace_value(DiagList *d, const char *text, const Node *cur, const char *path,
                           const char *value)
{
    if (cur->kind != NODE_SCALAR) {
        diag_error(d, span_none(), "'%s' is a %s: set one of its keys", path,
                   cur->kind == NODE_MAP ? "mapping" : "list");
        return NULL;
    }
    size_t n = strlen(text), vn = strlen(value);
    size_t at = offset_of(text, cur->span.line, cur->span.col);
    size_t len = cur->span.len ? (size_t)cur->span.len : strlen(cur->str);
    if (cur->str[0] == '\0')
        len = 0;
    char *out = malloc(n - len + vn + 1);
    if (!out) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    memcpy(out, text, at);
    memcpy(out + at, value, vn);
    memcpy(out + at + vn, text + at + len, n - at - len + 1);
    return out;
}

/* text with "key: value" added to mapping `parent`: a line of its own, at the indentation of
 * the mapping's first key. */
static char *add_key(DiagList *d, const char *text, const Node *parent, const char *key,
                     const char *value)
{
    if (!parent || parent->n == 0) {
        diag_error(d, span_none(), "cannot add '%s' here: edit the file", key);
        return NULL;
    }
    size_t n = strlen(text);
    const Span *k0 = &parent->keys[0]->span;
    size_t line = offset_of(text, k0->line, 1), at = line;
    const char *l = text + line;
    int dash = 0;
    for (int c = 0; c < k0->col - 1 && l[c]; c++)
        dash |= l[c] == '-';
    if (dash) { /* the first key shares the line of a list's "- ": go below it */
        const char *nl = strchr(l, '\n');
        at = nl ? (size_t)(nl - text) + 1 : n;
    }
    char add[512];
    int an = snprintf(add, sizeof add, "%*s%s: %s\n", k0->col - 1, "", key, value);
    if (an < 0 || (size_t)an >= sizeof add) {
        diag_error(d, span_none(), "value too long");
        return NULL;
    }
    char *out = malloc(n + (size_t)an + 2);
    if (!out) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    size_t o = at;
    memcpy(out, text, at);
    if (at == n && n > 0 && text[n - 1] != '\n')
        out[o++] = '\n';
    memcpy(out + o, add, (size_t)an);
    o += (size_t)an;
    memcpy(out + o, text + at, n - at + 1);
    return out;
}

char *spec_edit_set(DiagList *d, const SpecDoc *doc, const char *text, const char *path,
                    const char *value)
{
    if (!doc->root || doc->root->kind != NODE_MAP) {
        diag_error(d, span_none(), "the spec does not parse");
        return NULL;
    }
    const Node *cur, *parent;
    char key[128] = "";
    if (walk(d, doc, path, &cur, &parent, key, sizeof key) < 0)
        return NULL;
    return cur ? replace_value(d, text, cur, path, value) : add_key(d, text, parent, key, value);
}

double *spec_read_rows(Arena *a, DiagList *d, const char *text, int width, int *rows)
{
    SpecDoc *doc = spec_parse(a, d, "x", text);
    const Node *n = doc ? doc->root : NULL;
    double *x = NULL;
    int ok = n && n->kind == NODE_SEQ && n->n > 0;
    if (ok) {
        *rows = n->n;
        x = malloc((size_t)n->n * (size_t)width * sizeof *x);
        for (int t = 0; x && ok && t < n->n; t++) {
            const Node *row = n->vals[t];
            int flat = row->kind == NODE_SCALAR && width == 1;
            ok = flat || (row->kind == NODE_SEQ && row->n == width);
            for (int k = 0; ok && k < width; k++) {
                const Node *v = flat ? row : row->vals[k];
                char *end;
                ok = v->kind == NODE_SCALAR && *v->str;
                if (ok)
                    x[(long)t * width + k] = strtod(v->str, &end);
                ok = ok && !*end;
            }
        }
    }
    if (!ok || !x) {
        free(x);
        diag_error(d, span_none(),
                   "x = [[...], ...]: a list of T steps, each a list of %d numbers", width);
        return NULL;
    }
    return x;
}
