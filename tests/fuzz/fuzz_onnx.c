/* fuzz_onnx.c — libFuzzer target over rnnc import (host/onnx*.c) from memory: any bytes given
 * to onnx_import_mem must come back as a model or as a message, never a crash, a leak or
 * undefined behaviour. Not wired into meson (it needs clang's libFuzzer); build and run it by
 * hand from the source root, seeds in tests/fuzz/corpus/onnx (fixtures of tests/onnx_fixtures):
 *   mkdir -p /tmp/fz && protoc-c --proto_path=/usr/include/onnx --c_out=/tmp/fz onnx.proto
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ihost -Iruntime -I/tmp/fz \
 *     tests/fuzz/fuzz_onnx.c host/onnx.c host/onnx_shape.c host/onnx_ops.c /tmp/fz/onnx.pb-c.c \
 *     runtime/safetensors.c runtime/rt_util.c runtime/npy.c -lprotobuf-c -lyaml -lm \
 *     -o /tmp/fz/fuzz_onnx
 *   cp -r tests/fuzz/corpus/onnx /tmp/fz/corpus && nice /tmp/fz/fuzz_onnx \
 *     -dict=tests/fuzz/onnx.dict -max_total_time=120 /tmp/fz/corpus
 */
#include <stddef.h>
#include <stdint.h>

#include "onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    OnnxModel m;
    RnnrtError err;
    onnx_import_mem(data, size, "fuzz.onnx", "fuzz", &m, &err);
    onnx_model_free(&m);
    return 0;
}
