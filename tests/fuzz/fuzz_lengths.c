/* fuzz_lengths.c — fuzz target: what `rnnc run` checks of its data files before it runs a
 * model. Input: one byte choosing one of the specs below, then x.npy, lengths.npy and
 * weights.safetensors, separated by FUZZ_SEP (an empty lengths part: no --lengths).
 * The input and lengths go through the host's reader (io_load_inputs: shapes, dtypes,
 * every length in 1..T); the weights through rnnrt_params_load against the plan's tensor
 * table, with an oracle of its own (every tensor there, float, of its shape, nothing else),
 * and through rnnc_load_weights (the host's: also finite values).
 */
#include "fuzz.h"

#include "host.h"
#include "rnnrt.h"

#define FUZZ_SEP "=|RNNC|="

static const char *const specs[] = {
    "name: a\ninput_size: 3\nbatch_first: true\nlayers:\n"
    "  - {name: rnn, cell: lstm, hidden_size: 4, num_layers: 2}\n"
    "head: {out_features: 2, activation: softmax}\n",
    "name: b\ninput_size: 2\nprecision: float64\nlayers:\n"
    "  - {name: enc, cell: gru, hidden_size: 3, bidirectional: true, reset: before}\n",
    "name: c\ninput_size: 1\nbatch_first: true\nlayers:\n"
    "  - {name: r, cell: rnn, hidden_size: 2, num_layers: 2, nonlinearity: relu, bias: false}\n"
    "head: {name: out, out_features: 1, input: sequence, activation: sigmoid}\n",
    "name: d\ninput_size: 2\nlayers:\n"
    "  - {name: p, cell: lstm, hidden_size: 4, proj_size: 2, bidirectional: true}\n"
    "  - {name: q, cell: gru, hidden_size: 2, kernel: loop}\n",
};
enum { NSPECS = sizeof specs / sizeof specs[0] };

/* The next part of [*p, end) up to FUZZ_SEP (or the end); *p moves past it. */
static const uint8_t *next_part(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *start = *p;
    size_t k = strlen(FUZZ_SEP);
    for (const uint8_t *q = start; q + k <= end; q++)
        if (memcmp(q, FUZZ_SEP, k) == 0) {
            *len = (size_t)(q - start);
            *p = q + k;
            return start;
        }
    *len = (size_t)(end - start);
    *p = end;
    return start;
}

/* The oracle of rnnrt_params_load: 1 when the file has exactly the plan's tensors, each of
 * a float dtype and the plan's shape. */
static int weights_match(const Plan *p, const RnnrtTensorFile *f)
{
    if (f->n != p->ntensors)
        return 0;
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        const RnnrtTensor *t = rnnrt_st_find(f, pt->name);
        if (!t || (t->dtype != RNNRT_F32 && t->dtype != RNNRT_F64) || t->ndim != pt->ndim)
            return 0;
        for (int d = 0; d < pt->ndim; d++)
            if (t->shape[d] != pt->shape[d])
                return 0;
    }
    return 1;
}

/* rnnrt_params_load on the weights part, against the oracle, values checked. */
static void check_params_load(const Plan *p, int dbl, const uint8_t *w, size_t wlen)
{
    RnnrtTensorFile f;
    RnnrtError err;
    if (rnnrt_st_read_mem(w, wlen, "w.safetensors", &f, &err) != 0)
        return;
    RnnrtParamSpec *ps = calloc((size_t)p->ntensors, sizeof *ps);
    double *params = calloc((size_t)p->nparams + 1, sizeof *params);
    FUZZ_CHECK(ps && params, "out of memory");
    for (int i = 0; i < p->ntensors; i++) {
        const PlanTensor *t = &p->tensors[i];
        ps[i] = (RnnrtParamSpec){t->name, t->ndim, {t->shape[0], t->shape[1]}, t->offset};
    }
    int rc = rnnrt_params_load(&f, ps, p->ntensors, dbl, params, &err);
    FUZZ_CHECK((rc == 0) == weights_match(p, &f), "rnnrt_params_load and its oracle disagree");
    FUZZ_CHECK(rc == 0 || err.msg[0], "a refusal without a message");
    for (int i = 0; rc == 0 && i < p->ntensors; i++) {
        const PlanTensor *pt = &p->tensors[i];
        const RnnrtTensor *t = rnnrt_st_find(&f, pt->name);
        long n = pt->shape[0] * (pt->ndim == 2 ? pt->shape[1] : 1);
        for (long k = 0; k < n; k++) {
            double v =
                t->dtype == RNNRT_F64 ? ((const double *)t->data)[k] : ((const float *)t->data)[k];
            double got = dbl ? params[pt->offset + k] : ((const float *)params)[pt->offset + k];
            double want = dbl ? v : (double)(float)v;
            FUZZ_CHECK(memcmp(&got, &want, sizeof got) == 0 || (got != got && want != want),
                       "a weight was not copied as it is");
        }
    }
    free(params);
    free(ps);
    rnnrt_st_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1, *end = data + size;
    size_t xlen, llen, wlen;
    const uint8_t *x = next_part(&p, end, &xlen);
    const uint8_t *l = next_part(&p, end, &llen);
    const uint8_t *w = next_part(&p, end, &wlen);

    Rnnc r;
    rnnc_init(&r);
    FUZZ_CHECK(rnnc_load_text(&r, "fuzz.yaml", specs[data[0] % NSPECS]) == 0, "a spec failed");
    const Net *net = r.net;

    char xpath[64], lpath[64], wpath[64];
    int xfd = fuzz_memfile(x, xlen, xpath, sizeof xpath);
    int lfd = fuzz_memfile(l, llen, lpath, sizeof lpath);
    RnncRunArgs args = {.input = xpath, .lengths = llen ? lpath : NULL};
    RunData d;
    memset(&d, 0, sizeof d);
    int B = 0, T = 0;
    int e0 = r.diag.nerrors;
    if (io_load_inputs(&r, &args, &d, &B, &T) == 0) {
        FUZZ_CHECK(r.diag.nerrors == e0, "inputs accepted with an error");
        FUZZ_CHECK(d.x.ndim == 3 && d.x.shape[2] == net->input_size, "a bad input accepted");
        FUZZ_CHECK(B >= 1 && T >= 1 && (long)B * T * net->input_size == rnnrt_array_numel(&d.x),
                   "B and T do not match the input");
        for (int b = 0; llen && b < B; b++)
            FUZZ_CHECK(d.len[b] >= 1 && d.len[b] <= T, "a length outside 1..T accepted");
    } else {
        FUZZ_CHECK(r.diag.nerrors > e0, "inputs refused without an error");
    }
    io_data_free(&d);
    close(xfd);
    close(lfd);

    check_params_load(r.plan, net->dbl, w, wlen);
    int wfd = fuzz_memfile(w, wlen, wpath, sizeof wpath);
    e0 = r.diag.nerrors;
    void *params = rnnc_load_weights(&r, wpath);
    FUZZ_CHECK((params != NULL) == (r.diag.nerrors == e0), "weights: result and errors disagree");
    free(params);
    close(wfd);
    if (getenv("FUZZ_VERBOSE")) /* what a replayed input was refused for */
        diag_render(&r.diag, stderr);
    rnnc_fini(&r);
    return 0;
}
