/* spec.c — YAML to SpecDoc through libyaml's event parser: the only file that includes
 * yaml.h. Builds a small tree with spans so later stages can point at the spec's text.
 */
#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { SPEC_MAX_DEPTH = 32 };

typedef struct Parser {
    yaml_parser_t yp;
    Arena *arena;
    DiagList *diag;
    const SrcFile *src;
    int failed;  /* the parse stopped: no tree */
    int refused; /* the tree is whole but holds something refused (an anchor, a tag) */
} Parser;

static Span mark_span(const Parser *p, yaml_mark_t start, yaml_mark_t end)
{
    Span s = {p->src, (int)start.line + 1, (int)start.column + 1, 0};
    if (end.line == start.line && end.index > start.index)
        s.len = (int)(end.index - start.index);
    return s;
}

static int next_event(Parser *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(&p->yp, ev))
        return 0;
    yaml_mark_t m = p->yp.problem_mark;
    Span s = {p->src, (int)m.line + 1, (int)m.column + 1, 0};
    const char *what = p->yp.problem ? p->yp.problem : "malformed YAML";
    const char *ctx = p->yp.context;
    if (ctx)
        diag_error(p->diag, s, "invalid YAML: %s, %s", ctx, what);
    else
        diag_error(p->diag, s, "invalid YAML: %s", what);
    /* "while parsing a flow mapping" at another line: point at where that started, which
     * is where the mistake usually is (an unclosed bracket, a misindented key). */
    yaml_mark_t cm = p->yp.context_mark;
    if (ctx && cm.line != m.line) {
        static const char *const pre[] = {"while parsing ", "while scanning ", "a ", "an "};
        for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
            if (strncmp(ctx, pre[i], strlen(pre[i])) == 0)
                ctx += strlen(pre[i]);
        Span cs = {p->src, (int)cm.line + 1, (int)cm.column + 1, 0};
        diag_note(p->diag, cs, "the %s started here", ctx);
    }
    p->failed = 1;
    return -1;
}

/* A growable array of node pointers on the heap, copied into the arena when complete. */
typedef struct NodeVec {
    Node **v;
    int n, cap;
} NodeVec;

static int vec_push(NodeVec *v, Node *x)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        Node **nv = realloc(v->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return -1;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

static Node **vec_finish(Parser *p, NodeVec *v)
{
    Node **out = arena_alloc(p->arena, (size_t)(v->n ? v->n : 1) * sizeof *out);
    if (out && v->n)
        memcpy(out, v->v, (size_t)v->n * sizeof *out);
    free(v->v);
    v->v = NULL;
    return out;
}

static Node *oom(Parser *p)
{
    diag_error(p->diag, span_none(), "out of memory while reading %s", p->src->name);
    p->failed = 1;
    return NULL;
}

static Node *parse_node(Parser *p, yaml_event_t *ev, int depth);

/* The span of the node property (anchor '&', tag '!') that starts with `lead` among the at
 * most two properties at the start of the event, for a caret under exactly that token. */
static Span prop_span(const Parser *p, yaml_mark_t start, char lead)
{
    Span s = {p->src, (int)start.line + 1, (int)start.column + 1, 1};
    const char *t = p->src->text + start.index;
    for (int i = 0; i < 2 && *t; i++) {
        size_t n = strcspn(t, " \t\r\n");
        if (*t == lead) {
            s.len = (int)n;
            return s;
        }
        s.col += (int)n;
        t += n;
        while (*t == ' ' || *t == '\t') {
            t++;
            s.col++;
        }
    }
    s.col = (int)start.column + 1;
    return s;
}

/* Anchors and tags have no meaning in a spec: an anchor without an alias is noise that hints
 * at a copy the spec language does not make, and a tag (`!!str 12`) would change how a value
 * reads behind check's back. Both are reported where they stand, and parsing goes on so that
 * every one is reported; spec_parse then returns no document. */
static void refuse_props(Parser *p, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (anchor)
        diag_error(p->diag, prop_span(p, ev->start_mark, '&'),
                   "anchors (&%s) are not supported in a spec; write the value out",
                   (const char *)anchor);
    if (tag) {
        const char *t = (const char *)tag, *core = "tag:yaml.org,2002:";
        int is_core = strncmp(t, core, strlen(core)) == 0;
        diag_error(p->diag, prop_span(p, ev->start_mark, '!'),
                   "tags (%s%s) are not supported in a spec; write the plain value",
                   is_core ? "!!" : "", is_core ? t + strlen(core) : t);
    }
    if (anchor || tag)
        p->refused = 1;
}

/* Parses children until the matching end event. `ev` is the start event (consumed). */
static Node *parse_collection(Parser *p, yaml_event_t *ev, int depth)
{
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    Node *node = arena_alloc(p->arena, sizeof *node);
    if (!node)
        return oom(p);
    node->kind = is_map ? NODE_MAP : NODE_SEQ;
    node->span = mark_span(p, ev->start_mark, ev->start_mark);
    node->span.len = 1;
    yaml_event_delete(ev);
    if (depth >= SPEC_MAX_DEPTH) {
        diag_error(p->diag, node->span, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
        p->failed = 1;
        return NULL;
    }
    NodeVec keys = {0}, vals = {0};
    yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        yaml_event_t e;
        if (next_event(p, &e) < 0)
            break;
        if (e.type == end) {
            yaml_event_delete(&e);
            node->n = vals.n;
            node->vals = vec_finish(p, &vals);
            node->keys = is_map ? vec_finish(p, &keys) : NULL;
            free(keys.v);
            return p->failed ? NULL : node;
        }
        if (is_map && e.type != YAML_SCALAR_EVENT && e.type != YAML_ALIAS_EVENT) {
            Span s = mark_span(p, e.start_mark, e.start_mark);
            diag_error(p->diag, s, "keys must be plain names, not %s",
                       e.type == YAML_MAPPING_START_EVENT ? "mappings" : "sequences");
            yaml_event_delete(&e);
            p->failed = 1;
            break;
        }
        Node *child = parse_node(p, &e, depth + 1);
        if (!child)
            break;
        if (is_map) {
            yaml_event_t ve;
            if (next_event(p, &ve) < 0)
                break;
            Node *val = parse_node(p, &ve, depth + 1);
            if (!val)
                break;
            if (vec_push(&keys, child) < 0 || vec_push(&vals, val) < 0) {
                oom(p);
                break;
            }
        } else if (vec_push(&vals, child) < 0) {
            oom(p);
            break;
        }
    }
    free(keys.v);
    free(vals.v);
    p->failed = 1;
    return NULL;
}

/* Builds the node that starts with event `ev` (which this takes over). */
static Node *parse_node(Parser *p, yaml_event_t *ev, int depth)
{
    refuse_props(p, ev);
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        Node *node = arena_alloc(p->arena, sizeof *node);
        char *s =
            arena_strndup(p->arena, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!node || !s) {
            yaml_event_delete(ev);
            return oom(p);
        }
        node->kind = NODE_SCALAR;
        node->span = mark_span(p, ev->start_mark, ev->end_mark);
        node->str = s;
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
            /* a "\0" escape: every later stage reads C strings */
            diag_error(p->diag, node->span, "a value contains a NUL character");
            p->refused = 1;
        }
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        yaml_event_delete(ev);
        return node;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        return parse_collection(p, ev, depth);
    case YAML_ALIAS_EVENT: {
        /* reported, and read as an empty value so that parsing goes on */
        Node *node = arena_alloc(p->arena, sizeof *node);
        if (!node) {
            yaml_event_delete(ev);
            return oom(p);
        }
        node->kind = NODE_SCALAR;
        node->span = mark_span(p, ev->start_mark, ev->end_mark);
        node->str = "";
        diag_error(p->diag, node->span,
                   "aliases (*%s) are not supported in a spec; write the value out",
                   (const char *)ev->data.alias.anchor);
        p->refused = 1;
        yaml_event_delete(ev);
        return node;
    }
    default: {
        Span s = mark_span(p, ev->start_mark, ev->end_mark);
        diag_error(p->diag, s, "unexpected YAML event");
        yaml_event_delete(ev);
        p->failed = 1;
        return NULL;
    }
    }
}

SpecDoc *spec_parse(Arena *a, DiagList *d, const char *name, const char *text)
{
    SpecDoc *doc = arena_alloc(a, sizeof *doc);
    if (!doc) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    doc->src.name = name;
    doc->src.text = text;
    Parser p = {.arena = a, .diag = d, .src = &doc->src};
    if (!yaml_parser_initialize(&p.yp)) {
        diag_error(d, span_none(), "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, strlen(text));
    yaml_event_t ev;
    int docs = 0;
    while (!p.failed && next_event(&p, &ev) == 0) {
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            Span s = mark_span(&p, ev.start_mark, ev.start_mark);
            diag_error(d, s, "a spec holds one YAML document; found a second");
            p.failed = 1;
        }
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            doc->root = parse_node(&p, &ev, 0);
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p.yp);
    return p.failed || p.refused ? NULL : doc;
}

SpecDoc *spec_load_file(Arena *a, DiagList *d, const char *path)
{
    SrcFile *nosrc = arena_alloc(a, sizeof *nosrc);
    if (!nosrc || !(nosrc->name = arena_strdup(a, path))) {
        diag_error(d, span_none(), "out of memory reading %s", path);
        return NULL;
    }
    nosrc->text = "";
    Span where = {nosrc, 0, 0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, where, "cannot open spec: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int ok = buf != NULL;
    while (ok) {
        if (len + 1 == cap) {
            char *nb = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                ok = 0;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!ok || rerr) {
        diag_error(d, where, rerr ? "cannot read spec" : "spec too large (over 64 MiB)");
        free(buf);
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        diag_error(d, where, "spec contains a NUL byte; is it a text file?");
        free(buf);
        return NULL;
    }
    char *text = arena_strndup(a, buf, len);
    free(buf);
    if (!text) {
        diag_error(d, where, "out of memory");
        return NULL;
    }
    return spec_parse(a, d, nosrc->name, text);
}

const Node *spec_map_get(const Node *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) == 0)
            return map->vals[i];
    return NULL;
}
