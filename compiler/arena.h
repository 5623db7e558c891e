/* arena.h — bump allocator: one per compile, freed once at the end.
 * Every stage of the pipeline allocates its output here, so nothing is freed piecemeal.
 */
#ifndef RNNC_ARENA_H
#define RNNC_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;
    int failed; /* set once an allocation failed; callers report it once */
} Arena;

/* Zero-initialises an empty arena. */
void arena_init(Arena *a);
/* Frees every block; the arena is empty and reusable afterwards. */
void arena_free(Arena *a);
/* Zeroed memory of `n` bytes aligned for any type, or NULL (and a->failed set). */
void *arena_alloc(Arena *a, size_t n);
/* Copies `n` bytes of `s` and a terminating NUL; NULL on failure. */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
/* printf into the arena; NULL on failure. */
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
