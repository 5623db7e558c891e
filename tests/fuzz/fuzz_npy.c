/* fuzz_npy.c — fuzz target: a .npy file read from memory and from a path (the same result
 * or the same refusal), then written and read back equal: whatever the reader accepts, the
 * writer writes and the reader reads again.
 */
#include "fuzz.h"

#include "rnnrt.h"

static int arrays_equal(const RnnrtArray *a, const RnnrtArray *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    size_t bytes = (size_t)rnnrt_array_numel(a) * (size_t)rnnrt_dtype_size(a->dtype);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    RnnrtArray a, b;
    RnnrtError err;
    char path[256];

    int rc = rnnrt_npy_read_mem(data, size, "in.npy", &a, &err);
    FUZZ_CHECK(rc == 0 || (err.msg[0] && !a.data), "a refusal without a message");
    int fd = fuzz_memfile(data, size, path, sizeof path);
    int rc2 = rnnrt_npy_read(path, &b, &err);
    close(fd);
    FUZZ_CHECK(rc == rc2, "the file and memory readers disagree");
    if (rc != 0)
        return 0;
    FUZZ_CHECK(arrays_equal(&a, &b), "the file and memory readers read different arrays");
    rnnrt_array_free(&b);

    fuzz_path(path, sizeof path, "rt.npy");
    FUZZ_CHECK(rnnrt_npy_write(path, &a, &err) == 0, err.msg);
    FUZZ_CHECK(rnnrt_npy_read(path, &b, &err) == 0, err.msg);
    FUZZ_CHECK(arrays_equal(&a, &b), "an array written and read back differs");
    rnnrt_array_free(&a);
    rnnrt_array_free(&b);
    return 0;
}
