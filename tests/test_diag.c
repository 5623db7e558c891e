/* test_diag.c — the diagnostics suite: every tests/bad_specs/X.yaml must make `rnnc check`
 * exit 1 with nothing on stdout and exactly tests/bad_specs/X.expected on stderr (run from
 * the source root; tools/regen_diag.sh rewrites the .expected files), and every valid spec
 * (tests/fixtures/ in manifest.txt, then any specs/NAME.yaml) must pass. One cmocka test per file.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_BAD_SPECS = 15 };

typedef struct StrList {
    char **v;
    size_t n, cap;
} StrList;

static const char *g_root, *g_bin;
static StrList g_bad;     /* stems of tests/bad_specs/NAME.yaml, sorted */
static StrList g_orphans; /* stems of .expected files with no .yaml */
static StrList g_valid;   /* valid specs, relative to the source root */
static int g_manifest_ok;

static void list_push(StrList *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) {
            perror("test_diag");
            exit(1);
        }
    }
    l->v[l->n++] = s;
}

static void list_free(StrList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Appends `prefix` + stem for every file of `dir` ending in `suffix`, sorted; (the stem is
 * the name without the suffix when `keep_suffix` is 0). No directory: nothing added. */
static void list_dir(StrList *l, const char *dir, const char *suffix, const char *prefix,
                     int keep_suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t first = l->n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, suffix))
            continue;
        int len = (int)(strlen(e->d_name) - (keep_suffix ? 0 : strlen(suffix)));
        list_push(l, tu_strf("%s%.*s", prefix, len, e->d_name));
    }
    closedir(d);
    qsort(l->v + first, l->n - first, sizeof *l->v, cmp_str);
}

static int list_has(const StrList *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

/* The valid specs: tests/fixtures/<name>/spec.yaml per manifest line, then specs/NAME.yaml. */
static void list_valid(void)
{
    char *path = tu_strf("%s/tests/fixtures/manifest.txt", g_root);
    char *text = tu_read_file(path, NULL);
    free(path);
    g_manifest_ok = text != NULL;
    for (char *line = text ? strtok(text, "\r\n") : NULL; line; line = strtok(NULL, "\r\n")) {
        line += strspn(line, " \t");
        if (*line && *line != '#')
            list_push(&g_valid, tu_strf("tests/fixtures/%s/spec.yaml", line));
    }
    free(text);
    char *specs = tu_strf("%s/specs", g_root);
    list_dir(&g_valid, specs, ".yaml", "specs/", 1);
    free(specs);
}

/* Runs `rnnc check REL` from the source root. */
static int run_check(const char *rel, char **out, char **err)
{
    char *cmd = tu_strf("cd '%s' && '%s' check '%s'", g_root, g_bin, rel);
    int rc = tu_run(cmd, out, err);
    free(cmd);
    return rc;
}

/* Like cmocka's print_error, without its 1 KiB limit: a diff must show in full. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* 1-based number of the first line where `a` and `b` differ. */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n')
            line++;
    return line;
}

static void test_bad_spec(void **state)
{
    const char *stem = *state;
    char *rel = tu_strf("tests/bad_specs/%s.yaml", stem);
    char *exp_path = tu_strf("%s/tests/bad_specs/%s.expected", g_root, stem);
    char *want = tu_read_file(exp_path, NULL);
    char *out = NULL, *err = NULL;
    int rc = run_check(rel, &out, &err);
    int ok = 1;
    if (rc != 1) {
        report("%s: exit status %d, want 1\n", rel, rc);
        ok = 0;
    }
    if (!out || out[0]) {
        report("%s: stdout should be empty, got:\n%s\n", rel, out ? out : "(unread)");
        ok = 0;
    }
    if (!want) {
        report("%s: missing; run tools/regen_diag.sh and read the result\n", exp_path);
        ok = 0;
    } else if (!err || strcmp(err, want) != 0) {
        report("%s: stderr differs from %s.expected from line %d\n"
               "---- expected ----\n%s---- got ----\n%s---- end ----\n",
               rel, stem, err ? first_diff_line(err, want) : 1, want, err ? err : "(unread)\n");
        ok = 0;
    }
    free(rel);
    free(exp_path);
    free(want);
    free(out);
    free(err);
    if (!ok)
        fail_msg("bad spec %s.yaml: see above", stem);
}

static void test_valid_spec(void **state)
{
    const char *rel = *state;
    char *out = NULL, *err = NULL;
    int rc = run_check(rel, &out, &err);
    int ok = rc == 0 && err && !strstr(err, "error");
    if (!ok)
        report("%s: exit status %d (want 0), stderr:\n%s\n", rel, rc, err ? err : "(unread)");
    free(out);
    free(err);
    if (!ok)
        fail_msg("valid spec %s does not pass rnnc check", rel);
}

static void test_enough_bad_specs(void **state)
{
    (void)state;
    if (g_bad.n < MIN_BAD_SPECS)
        fail_msg("only %zu specs in tests/bad_specs/, want at least %d", g_bad.n, MIN_BAD_SPECS);
}

static void test_no_orphan_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < g_orphans.n; i++)
        report("tests/bad_specs/%s.expected has no %s.yaml\n", g_orphans.v[i], g_orphans.v[i]);
    if (g_orphans.n)
        fail_msg("%zu .expected file(s) without a spec", g_orphans.n);
}

static void test_valid_specs_found(void **state)
{
    (void)state;
    if (!g_manifest_ok)
        fail_msg("cannot read %s/tests/fixtures/manifest.txt", g_root);
    if (g_valid.n == 0)
        fail_msg("no valid specs found");
}

int main(void)
{
    g_root = getenv("RNNC_SOURCE_ROOT");
    g_bin = getenv("RNNC_BIN");
    if (!g_root || !*g_root || !g_bin || !*g_bin) {
        fprintf(stderr, "test_diag: RNNC_SOURCE_ROOT and RNNC_BIN must be set "
                        "(run through meson test)\n");
        return 1;
    }
    if (strchr(g_root, '\'') || strchr(g_bin, '\'')) {
        fprintf(stderr, "test_diag: paths with a single quote are not supported\n");
        return 1;
    }
    char *dir = tu_strf("%s/tests/bad_specs", g_root);
    StrList expected = {0};
    list_dir(&g_bad, dir, ".yaml", "", 0);
    list_dir(&expected, dir, ".expected", "", 0);
    free(dir);
    for (size_t i = 0; i < expected.n; i++)
        if (!list_has(&g_bad, expected.v[i]))
            list_push(&g_orphans, tu_strf("%s", expected.v[i]));
    list_free(&expected);
    list_valid();

    size_t n = 3 + g_bad.n + g_valid.n, k = 0;
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    StrList names = {0};
    if (!tests) {
        perror("test_diag");
        return 1;
    }
    tests[k++] = (struct CMUnitTest)cmocka_unit_test(test_enough_bad_specs);
    tests[k++] = (struct CMUnitTest)cmocka_unit_test(test_no_orphan_expected);
    tests[k++] = (struct CMUnitTest)cmocka_unit_test(test_valid_specs_found);
    for (size_t i = 0; i < g_bad.n; i++) {
        list_push(&names, tu_strf("bad_specs/%s.yaml", g_bad.v[i]));
        tests[k++] =
            (struct CMUnitTest){names.v[names.n - 1], test_bad_spec, NULL, NULL, g_bad.v[i]};
    }
    for (size_t i = 0; i < g_valid.n; i++) {
        list_push(&names, tu_strf("valid %s", g_valid.v[i]));
        tests[k++] =
            (struct CMUnitTest){names.v[names.n - 1], test_valid_spec, NULL, NULL, g_valid.v[i]};
    }
    int failed = _cmocka_run_group_tests("diag", tests, k, NULL, NULL);
    free(tests);
    list_free(&names);
    list_free(&g_bad);
    list_free(&g_orphans);
    list_free(&g_valid);
    return failed;
}
