/* sb.h — growable string builder with printf-checked append and indentation.
 * The emitter renders generated C through it; a failed allocation is sticky (sb->failed).
 */
#ifndef RNNC_SB_H
#define RNNC_SB_H

#include <stddef.h>

typedef struct Sb {
    char *buf; /* NUL-terminated, owned */
    size_t len, cap;
    int indent; /* spaces prepended by sb_line */
    int failed;
} Sb;

void sb_init(Sb *sb);
void sb_free(Sb *sb);
/* Appends formatted text as is. */
void sb_printf(Sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `indent` spaces, the formatted text and a newline. */
void sb_line(Sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(Sb *sb, const char *s);
/* Closes n blocks of generated code: one level of indentation less and a "}" line each. */
void sb_close(Sb *sb, int n);
/* Takes the buffer (caller frees); the builder is reset. NULL if any append failed. */
char *sb_take(Sb *sb);

#endif
