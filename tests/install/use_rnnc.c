/* use_rnnc.c — a user's program built against an installed rnnc through pkg-config (the
 * install test, tests/install/install.sh): loads a spec with the public API and writes a
 * .npy with the runtime library, then says what it found. */
#include <rnnc.h>
#include <rnnrt.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    Rnnc *r = rnnc_new();
    if (!r || rnnc_load(r, argv[1]) < 0) {
        if (r)
            rnnc_diag_print(r, stderr);
        rnnc_free(r);
        return 1;
    }
    RnncInfo info;
    rnnc_info(r, &info);
    float y[2] = {1.5f, -2.0f};
    RnnrtArray a = {RNNRT_F32, 1, {2}, y};
    RnnrtError err;
    int rc = rnnrt_npy_write(argv[2], &a, &err);
    printf("%s: input %d, output %d, %ld parameters\n", info.name, info.input_size,
           info.output_size, info.nparams);
    rnnc_free(r);
    return rc < 0 ? 1 : 0;
}
