/* fuzz_spec.c — fuzz target: spec text through the whole compiler front to back: parse,
 * check, plan (rnnc_load_text), the `rnnc check` report, and every unit the emitter makes
 * (the written file, the JIT units with and without training, for tcc and for cc, and the
 * deployed unit with weights and self-test). A spec is either refused with an error or
 * compiles; the diagnostics render. Nothing is compiled or run. The compiler calls are kept
 * to these few so that a restructure of compiler/ has little to adapt here.
 */
#include "fuzz.h"

#include "emit.h"
#include "host.h"

/* Deployed code prints every packed weight: keep the fuzzer's inputs quick. */
enum { DEPLOY_MAX_PACKED = 1 << 16 };

static void emit_every_unit(Rnnc *r)
{
    const Plan *p = r->plan;
    CUnit u;
    FUZZ_CHECK(emit_unit(p, "fuzz.h", &u, &r->diag) == 0, "emit_unit failed");
    cunit_free(&u);
    for (int train = 0; train < 2; train++)
        for (int tcc = 0; tcc < 2; tcc++) {
            FUZZ_CHECK(emit_unit_jit(p, train, tcc, &u, &r->diag) == 0, "emit_unit_jit failed");
            cunit_free(&u);
        }
    if (p->npacked_w > DEPLOY_MAX_PACKED)
        return;
    /* zero weights and a zero golden sequence: the text, not the numbers, is under test */
    const Net *net = r->net;
    int T = net->max_seq_len < 4 ? net->max_seq_len : 4;
    size_t rs = (size_t)p->real_size;
    void *packed = calloc((size_t)p->npacked + 1, rs);
    void *x = calloc((size_t)T * (size_t)net->input_size + 1, rs);
    void *y = calloc((size_t)T * (size_t)net->out_size + 1, rs);
    FUZZ_CHECK(packed && x && y, "out of memory");
    EmitDeploy dep = {"fuzz.safetensors", packed, 1, T, x, y};
    FUZZ_CHECK(emit_unit_deploy(p, "fuzz.h", &dep, &u, &r->diag) == 0, "emit_unit_deploy failed");
    cunit_free(&u);
    free(packed);
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    FUZZ_CHECK(sink != NULL, "cannot open /dev/null");
    if (memchr(data, '\0', size))
        return 0; /* spec_load_file refuses these before parsing */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';

    Rnnc r;
    rnnc_init(&r);
    int rc = rnnc_load_text(&r, "fuzz.yaml", text);
    FUZZ_CHECK((rc == 0) == (r.diag.nerrors == 0), "the result and the errors disagree");
    if (rc == 0) {
        rnnc_report(&r, sink);
        emit_every_unit(&r);
    }
    diag_render(&r.diag, getenv("FUZZ_VERBOSE") ? stderr : sink);
    rnnc_fini(&r);
    free(text);
    return 0;
}
