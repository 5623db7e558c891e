/* fuzz_safetensors.c — fuzz target: a safetensors file read from memory and from a path (the
 * same result or the same refusal), then written and read back equal: whatever the reader
 * accepts, the writer writes and the reader reads again (names, dtypes, shapes, bytes), and
 * what it accepts fills the data buffer exactly.
 */
#include "fuzz.h"

#include "rnnrt.h"

static int files_equal(const RnnrtTensorFile *a, const RnnrtTensorFile *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        const RnnrtTensor *s = &a->t[i], *t = &b->t[i];
        if (strcmp(s->name, t->name) != 0 || s->dtype != t->dtype || s->ndim != t->ndim)
            return 0;
        size_t bytes = (size_t)rnnrt_dtype_size(s->dtype);
        for (int d = 0; d < s->ndim; d++) {
            if (s->shape[d] != t->shape[d])
                return 0;
            bytes *= (size_t)s->shape[d];
        }
        if (bytes && memcmp(s->data, t->data, bytes) != 0)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    RnnrtTensorFile a, b;
    RnnrtError err;
    char path[256];

    int rc = rnnrt_st_read_mem(data, size, "in.safetensors", &a, &err);
    FUZZ_CHECK(rc == 0 || (err.msg[0] && a.n == 0 && !a.t), "a refusal without a message");
    int fd = fuzz_memfile(data, size, path, sizeof path);
    int rc2 = rnnrt_st_read(path, &b, &err);
    close(fd);
    FUZZ_CHECK(rc == rc2, "the file and memory readers disagree");
    if (rc != 0)
        return 0;
    FUZZ_CHECK(files_equal(&a, &b), "the file and memory readers read different tensors");
    rnnrt_st_free(&b);
    /* accepted tensors tile the data buffer: their sizes add up to it */
    uint64_t hlen = 0, sum = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | data[i];
    for (int i = 0; i < a.n; i++) {
        FUZZ_CHECK(rnnrt_st_find(&a, a.t[i].name) == &a.t[i], "rnnrt_st_find missed a name");
        uint64_t bytes = (uint64_t)rnnrt_dtype_size(a.t[i].dtype);
        for (int d = 0; d < a.t[i].ndim; d++)
            bytes *= (uint64_t)a.t[i].shape[d];
        sum += bytes;
    }
    FUZZ_CHECK(sum == size - 8 - hlen, "accepted tensors do not fill the data buffer");

    fuzz_path(path, sizeof path, "rt.safetensors");
    FUZZ_CHECK(rnnrt_st_write(path, a.t, a.n, &err) == 0, err.msg);
    FUZZ_CHECK(rnnrt_st_read(path, &b, &err) == 0, err.msg);
    FUZZ_CHECK(files_equal(&a, &b), "tensors written and read back differ");
    rnnrt_st_free(&a);
    rnnrt_st_free(&b);
    return 0;
}
