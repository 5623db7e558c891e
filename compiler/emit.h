/* emit.h — fourth stage: Plan to C. Renders the header (the documented API) and the body
 * (every layer's cell and sequence functions, the weight packer, the forward driver).
 * The emitter only asserts: every check has been done by `check`.
 */
#ifndef RNNC_EMIT_H
#define RNNC_EMIT_H

#include "plan.h"

/* The generated translation unit. Strings are malloc'd; free with cunit_free. */
typedef struct CUnit {
    char *header;  /* contents of <base>.h */
    char *banner;  /* the opening comment of <base>.c */
    char *include; /* then its #include line: "#include \"<base>.h\"\n\n" */
    char *body;    /* then the code */
} CUnit;

/* Renders `plan`. `header_name` is the file name the body includes (e.g. "model.h").
 * Deterministic: the same plan gives byte-identical text. Returns 0, or -1 when out of
 * memory (diagnostic added). */
int emit_unit(const Plan *plan, const char *header_name, CUnit *out, DiagList *d);
void cunit_free(CUnit *u);

/* The math functions generated code calls, for the JIT to hand over. */
extern const char *const emit_math_symbols[];

#endif
