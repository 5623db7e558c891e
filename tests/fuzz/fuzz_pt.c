/* fuzz_pt.c — libFuzzer target for librnnrt's .pt reader (runtime/pt.c, pickle_read.c,
 * pickle_obj.c).
 * An input starting with "PK" is read as a whole archive; any other input is taken as the
 * data.pkl of an otherwise valid archive with a few storages, so that mutations reach the
 * pickle machine and the gathering past libzip's CRC checks. Built and run like every target
 * of targets.txt (tools/fuzz.sh; seeds in corpus/pt: the .pt fixtures, pickles).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pt.h"
#include "rnnrt.h"

/* Storages data/0..data/3 of 96, 48, 8 and 0 bytes (24/12/2/0 floats, 12/6/1/0 doubles,
 * 48/24/4/0 halves), with a byte pattern that gives distinct elements. */
static unsigned char storage[96];

/* libFuzzer's entry: reads `data` (see the top of this file); never keeps it; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    RnnrtTensorFile f;
    RnnrtError err;

    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        if (rnnrt_pt_read_mem(data, size, "fuzz.pt", &f, &err) == 0) {
            rnnrt_st_free(&f);
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof storage; i++) {
        storage[i] = (unsigned char)(i * 37 + 11);
    }
    PtEntry e[6] = {{"archive/data.pkl", data, size}, {"archive/data/0", storage, 96},
                    {"archive/data/1", storage, 48},  {"archive/data/2", storage, 8},
                    {"archive/data/3", NULL, 0},      {"archive/version", "3\n", 2}};
    unsigned char *zip;
    size_t len;
    if (rnnrt_pt_zip_mem(e, 6, "fuzz.pt", &zip, &len, &err) != 0) {
        return 0;
    }
    if (rnnrt_pt_read_mem(zip, len, "fuzz.pt", &f, &err) == 0) {
        rnnrt_st_free(&f);
    }
    free(zip);
    return 0;
}
