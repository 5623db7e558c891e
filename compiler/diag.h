/* diag.h — diagnostics: a list of errors, warnings and notes, each tied to a span of a
 * source file, rendered as `file:line:col: error: message` with the source line and a caret.
 * Every stage reports here; nothing in the library prints on its own.
 */
#ifndef RNNC_DIAG_H
#define RNNC_DIAG_H

#include <stdio.h>

#include "arena.h"

/* A source file held in memory for the whole compile. */
typedef struct SrcFile {
    const char *name; /* as the user gave it */
    const char *text; /* NUL-terminated */
} SrcFile;

/* A place in a source file: 1-based line and column, length of the token (0: unknown). */
typedef struct Span {
    const SrcFile *src; /* NULL: no place (command line, weights file, ...) */
    int line, col, len;
} Span;

typedef enum DiagSeverity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagSeverity;

typedef struct Diag {
    DiagSeverity sev;
    Span span;
    const char *msg;
} Diag;

enum { DIAG_MAX = 100 };

typedef struct DiagList {
    Arena *arena;
    Diag items[DIAG_MAX];
    int n;
    int nerrors; /* counts errors, also those past DIAG_MAX */
    int dropped;
} DiagList;

/* Starts an empty list whose messages live in `arena`. */
void diag_init(DiagList *d, Arena *arena);
/* Adds a diagnostic. Messages past DIAG_MAX are counted, not kept. */
void diag_add(DiagList *d, DiagSeverity sev, Span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define diag_error(d, span, ...) diag_add((d), DIAG_ERROR, (span), __VA_ARGS__)
#define diag_warning(d, span, ...) diag_add((d), DIAG_WARNING, (span), __VA_ARGS__)
#define diag_note(d, span, ...) diag_add((d), DIAG_NOTE, (span), __VA_ARGS__)
/* Writes every diagnostic to `out` in order, gcc style, with source line and caret. */
void diag_render(const DiagList *d, FILE *out);
/* Forgets every diagnostic (after they were rendered). */
void diag_clear(DiagList *d);

/* A span with no place. */
Span span_none(void);

#endif
