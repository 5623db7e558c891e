/* diag.c — collects diagnostics from every stage and renders them gcc style. */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

void diag_init(DiagList *d, Arena *arena)
{
    memset(d, 0, sizeof *d);
    d->arena = arena;
}

Span span_none(void)
{
    Span s = {NULL, 0, 0, 0};
    return s;
}

void diag_add(DiagList *d, DiagSeverity sev, Span span, const char *fmt, ...)
{
    if (sev == DIAG_ERROR)
        d->nerrors++;
    if (d->n == DIAG_MAX) {
        d->dropped++;
        return;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* Spec text is quoted in messages: show control bytes as \xNN, never raw. */
    char safe[sizeof buf * 4];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)buf; *p && o + 5 < sizeof safe; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(safe + o, sizeof safe - o, "\\x%02x", *p);
        else
            safe[o++] = (char)*p;
    }
    safe[o] = '\0';
    const char *msg = arena_strdup(d->arena, safe);
    Diag *g = &d->items[d->n++];
    g->sev = sev;
    g->span = span;
    g->msg = msg ? msg : "out of memory";
}

/* The text of line `line` (1-based) of `text`, and its length. */
static const char *line_of(const char *text, int line, int *len)
{
    const char *p = text;
    for (int i = 1; i < line && *p; i++) {
        p = strchr(p, '\n');
        if (!p)
            return NULL;
        p++;
    }
    const char *e = strchr(p, '\n');
    *len = e ? (int)(e - p) : (int)strlen(p);
    if (*len > 0 && p[*len - 1] == '\r')
        (*len)--;
    return p;
}

static void render_one(const Diag *g, FILE *out)
{
    static const char *const sevs[] = {"error", "warning", "note"};
    const Span *s = &g->span;
    if (s->src && s->line > 0)
        fprintf(out, "%s:%d:%d: ", s->src->name, s->line, s->col);
    else if (s->src)
        fprintf(out, "%s: ", s->src->name);
    fprintf(out, "%s: %s\n", sevs[g->sev], g->msg);
    if (!s->src || s->line <= 0 || g->sev == DIAG_NOTE)
        return;
    int len = 0;
    const char *l = line_of(s->src->text, s->line, &len);
    if (!l)
        return;
    fprintf(out, " %5d | %.*s\n       | ", s->line, len, l);
    for (int i = 1; i < s->col && i <= len; i++)
        fputc(l[i - 1] == '\t' ? '\t' : ' ', out);
    fputc('^', out);
    for (int i = 1; i < s->len && s->col + i <= len; i++)
        fputc('~', out);
    fputc('\n', out);
}

/* Orders two diagnostics' places: by file (placeless last), line, column. */
static int span_before(const Span *a, const Span *b)
{
    if (!a->src || !b->src)
        return a->src && !b->src;
    if (a->src != b->src)
        return 0;
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

void diag_render(const DiagList *d, FILE *out)
{
    /* Groups (an error or warning and the notes after it) in source order, stably. */
    int start[DIAG_MAX], ng = 0;
    for (int i = 0; i < d->n; i++)
        if (i == 0 || d->items[i].sev != DIAG_NOTE)
            start[ng++] = i;
    for (int i = 1; i < ng; i++) {
        int g = start[i], j = i;
        while (j > 0 && span_before(&d->items[g].span, &d->items[start[j - 1]].span)) {
            start[j] = start[j - 1];
            j--;
        }
        start[j] = g;
    }
    for (int k = 0; k < ng; k++) {
        int i = start[k];
        render_one(&d->items[i], out);
        for (i++; i < d->n && d->items[i].sev == DIAG_NOTE; i++)
            render_one(&d->items[i], out);
    }
    if (d->dropped)
        fprintf(out, "(%d more diagnostics not shown)\n", d->dropped);
}

void diag_clear(DiagList *d)
{
    d->n = 0;
    d->dropped = 0;
    d->nerrors = 0;
}
