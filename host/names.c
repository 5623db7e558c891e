/* names.c — which tensor of a weights file is which of the plan's. The spec's weights:
 * (strip, map) and the command line's --rename give every plan tensor its name in the file
 * before rnnrt_params_load matches them, so that its messages name the file's tensors; when
 * all of a block's (or the head's) tensors are missing but the file holds tensors of the same
 * names under another prefix, one error per such part and a note with the fix instead.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Copies s without its trailing '.' into the arena; NULL when out of memory. */
static const char *no_dot(Rnnc *r, const char *s, size_t n)
{
    return arena_strndup(&r->arena, s, n && s[n - 1] == '.' ? n - 1 : n);
}

int rnnc_rename(Rnnc *r, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char old[256];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof old) {
        diag_error(&r->diag, span_none(),
                   "--rename takes OLD=NEW: a prefix of the file's tensor names, '=', and "
                   "what the spec calls it (a block's or the head's name; nothing to strip "
                   "OLD), found '%s'",
                   arg);
        return -1;
    }
    snprintf(old, sizeof old, "%.*s", (int)(eq - arg), arg);
    const char *nw = eq + 1;
    if (!check_is_prefix(old) || (*nw && !check_is_prefix(nw))) {
        diag_error(&r->diag, span_none(),
                   "--rename '%s': OLD and NEW must be state_dict prefixes (names joined by "
                   "'.', e.g. encoder.rnn=rnn or module.=)",
                   arg);
        return -1;
    }
    if (r->nren == RNNC_MAX_RENAMES) {
        diag_error(&r->diag, span_none(), "more than %d --rename options", RNNC_MAX_RENAMES);
        return -1;
    }
    HostRename *h = &r->ren[r->nren];
    h->old = no_dot(r, old, strlen(old));
    h->nw = no_dot(r, nw, strlen(nw));
    if (!h->old || !h->nw) {
        diag_error(&r->diag, span_none(), "out of memory");
        return -1;
    }
    r->nren++;
    return 0;
}

void rnnc_rename_clear(Rnnc *r)
{
    r->nren = 0;
}

/* The rest of `name` after `pre` (empty, or from its '.') when `pre` is a whole-component
 * prefix of it; else NULL. */
static const char *covered(const char *name, const char *pre)
{
    size_t n = strlen(pre);
    if (strncmp(name, pre, n) != 0 || (name[n] != '\0' && name[n] != '.'))
        return NULL;
    return name + n;
}

static int in_file(const RnnrtTensorFile *f, const char *name)
{
    return rnnrt_st_find(f, name) != NULL;
}

/* Plan tensor `name` as the file calls it: the mapping whose spec-side prefix is the longest
 * that covers it (a --rename before the spec's map), then with a strip prefix in front if
 * the file has that name. Into the arena; NULL when out of memory. */
static const char *resolve_one(Rnnc *r, const RnnrtTensorFile *f, const char *name)
{
    const Net *net = r->net;
    const char *old = NULL, *rest = NULL, *q;
    size_t best = 0;
    for (int k = 0; k < r->nren; k++)
        if (r->ren[k].nw[0] && (q = covered(name, r->ren[k].nw)) &&
            (!old || strlen(r->ren[k].nw) > best)) {
            old = r->ren[k].old;
            rest = q;
            best = strlen(r->ren[k].nw);
        }
    for (int k = 0; k < net->nweights_map; k++)
        if ((q = covered(name, net->weights_map[k].name)) &&
            (!old || strlen(net->weights_map[k].name) > best)) {
            old = net->weights_map[k].prefix;
            rest = q;
            best = strlen(net->weights_map[k].name);
        }
    const char *base = old ? arena_printf(&r->arena, "%s%s", old, rest) : name;
    if (!base)
        return NULL;
    for (int k = -1; k < r->nren; k++) {
        const char *strip = k < 0 ? net->weights_strip : r->ren[k].nw[0] ? NULL : r->ren[k].old;
        if (!strip)
            continue;
        const char *s = arena_printf(&r->arena, "%s.%s", strip, base);
        if (!s || in_file(f, s))
            return s;
    }
    return base;
}

const char **names_resolve(Rnnc *r, const RnnrtTensorFile *f)
{
    const Plan *p = r->plan;
    const char **names = arena_alloc(&r->arena, (size_t)(p->ntensors + 1) * sizeof *names);
    for (int i = 0; names && i < p->ntensors; i++)
        if (!(names[i] = resolve_one(r, f, p->tensors[i].name)))
            names = NULL;
    if (!names)
        diag_error(&r->diag, span_none(), "out of memory");
    return names;
}

/* Where the file may hold one part's tensors under another prefix. */
typedef struct Cand {
    char q[256]; /* the prefix, without its '.' */
    int hits;    /* the part's tensors found under it */
    int shapes;  /* ... with the plan's shape */
} Cand;

enum { MAX_CANDS = 8 };

/* Tensors [i0, i1) of the plan, one part whose names (names[]) the file lacks: the prefix
 * under which f has all of them, each of the plan's shape, into *best; 0 when none. */
static int find_prefix(const Plan *p, int i0, int i1, const RnnrtTensorFile *f, Cand *best)
{
    Cand c[MAX_CANDS];
    int nc = 0;
    for (int j = 0; j < f->n; j++) {
        const RnnrtTensor *t = &f->t[j];
        size_t fl = strlen(t->name);
        for (int i = i0; i < i1; i++) {
            const PlanTensor *pt = &p->tensors[i];
            const char *suffix = strchr(pt->name, '.') + 1;
            size_t sl = strlen(suffix);
            if (fl <= sl + 1 || fl - sl - 1 >= sizeof c[0].q || t->name[fl - sl - 1] != '.' ||
                strcmp(t->name + fl - sl, suffix) != 0)
                continue;
            int k = 0, qn = (int)(fl - sl - 1);
            while (k < nc && (strncmp(c[k].q, t->name, (size_t)qn) || c[k].q[qn]))
                k++;
            if (k == nc && nc == MAX_CANDS)
                break;
            if (k == nc) {
                snprintf(c[nc].q, sizeof c[nc].q, "%.*s", qn, t->name);
                c[nc].hits = c[nc].shapes = 0;
                nc++;
            }
            c[k].hits++;
            c[k].shapes += t->ndim == pt->ndim && t->shape[0] == pt->shape[0] &&
                           (pt->ndim == 1 || t->shape[1] == pt->shape[1]);
            break;
        }
    }
    for (int k = 0; k < nc; k++)
        if (c[k].hits == i1 - i0 && c[k].shapes == i1 - i0) {
            *best = c[k];
            return 1;
        }
    return 0;
}

/* The first component shared by every name of f ("module"), into c; 0 when none is. */
static int common_first(const RnnrtTensorFile *f, char *c, size_t n)
{
    const char *dot = f->n ? strchr(f->t[0].name, '.') : NULL;
    if (!dot || (size_t)(dot - f->t[0].name) >= n)
        return 0;
    snprintf(c, n, "%.*s", (int)(dot - f->t[0].name), f->t[0].name);
    for (int j = 1; j < f->n; j++)
        if (!covered(f->t[j].name, c) || !strchr(f->t[j].name, '.'))
            return 0;
    return 1;
}

/* Marks the plan's tensors [i0, i1) and the file's tensors q.<their suffix> as explained. */
static void mark(const Plan *p, int i0, int i1, const RnnrtTensorFile *f, const char *q,
                 unsigned char *plan_done, unsigned char *file_done)
{
    char name[600];
    for (int i = i0; i < i1; i++) {
        plan_done[i] = 1;
        snprintf(name, sizeof name, "%s.%s", q, strchr(p->tensors[i].name, '.') + 1);
        const RnnrtTensor *t = rnnrt_st_find(f, name);
        if (t)
            file_done[t - f->t] = 1;
    }
}

int names_suggest(Rnnc *r, const RnnrtTensorFile *f, const char *path, const char **names,
                  unsigned char *plan_done, unsigned char *file_done)
{
    const Plan *p = r->plan;
    char strip[256], opts[1024] = "", map[1024] = "";
    int have_strip = common_first(f, strip, sizeof strip), nfound = 0, nmap = 0;
    const char *plain = NULL; /* the one prefix to map, when it is a plain name */
    Cand *found = calloc((size_t)p->ntensors + 1, sizeof *found);
    int *start = calloc((size_t)p->ntensors + 2, sizeof *start), nparts = 0;
    if (!found || !start) {
        free(found);
        free(start);
        return 0;
    }
    /* the parts, in the plan's order: the tensors of one block (or the head) are together */
    for (int i = 0; i < p->ntensors; i++)
        if (i == 0 || strcspn(p->tensors[i].name, ".") != strcspn(p->tensors[i - 1].name, ".") ||
            strncmp(p->tensors[i].name, p->tensors[i - 1].name, strcspn(p->tensors[i].name, ".")))
            start[nparts++] = i;
    start[nparts] = p->ntensors;
    for (int u = 0; u < nparts; u++) {
        int i0 = start[u], i1 = start[u + 1], any = 0;
        for (int i = i0; i < i1 && !any; i++)
            any = in_file(f, names[i]);
        if (any || !find_prefix(p, i0, i1, f, &found[u]))
            continue;
        nfound++;
        mark(p, i0, i1, f, found[u].q, plan_done, file_done);
        have_strip &= covered(found[u].q, strip) && found[u].q[strlen(strip)] == '.';
    }
    for (int u = 0; u < nparts && nfound; u++) {
        if (!found[u].hits)
            continue;
        int ul = (int)strcspn(p->tensors[start[u]].name, ".");
        const char *kind = p->net->head.present && start[u] == p->head_t_w ? "head" : "block";
        diag_error(&r->diag, span_none(),
                   "%s: %s '%.*s': none of its %d tensors (e.g. '%s') is in the file, which "
                   "has them as '%s.*'",
                   path, kind, ul, p->tensors[start[u]].name, start[u + 1] - start[u],
                   names[start[u]], found[u].q);
        const char *q = have_strip ? found[u].q + strlen(strip) + 1 : found[u].q;
        if ((int)strlen(q) == ul && strncmp(q, p->tensors[start[u]].name, (size_t)ul) == 0)
            continue;
        size_t o = strlen(opts), m = strlen(map);
        nmap++;
        plain = strchr(q, '.') ? NULL : q;
        snprintf(opts + o, sizeof opts - o, " --rename %s=%.*s", q, ul, p->tensors[start[u]].name);
        snprintf(map + m, sizeof map - m, "%s%.*s: %s", m ? ", " : "", ul,
                 p->tensors[start[u]].name, q);
    }
    if (nfound && !have_strip && !map[0]) {
        diag_note(&r->diag, span_none(),
                  "did you mean: the file's own names; drop the spec's weights: map or the "
                  "--rename that renames them");
    } else if (nfound) {
        char spec[1200];
        if (have_strip && map[0])
            snprintf(spec, sizeof spec, "{strip: %s, map: {%s}}", strip, map);
        else if (have_strip)
            snprintf(spec, sizeof spec, "{strip: %s}", strip);
        else
            snprintf(spec, sizeof spec, "{map: {%s}}", map);
        char named[300] = "";
        if (nmap == 1 && plain && !have_strip)
            snprintf(named, sizeof named, ", or name it '%s' in the spec", plain);
        diag_note(&r->diag, span_none(), "did you mean:%s%s%s%s, or in the spec: weights: %s%s",
                  have_strip ? " --rename " : "", have_strip ? strip : "", have_strip ? ".=" : "",
                  opts, spec, named);
    }
    free(found);
    free(start);
    return nfound;
}
