/* onnx.h — `rnnc import`: an ONNX model (LSTM, GRU and RNN nodes in PyTorch's export patterns,
 * an optional linear head with softmax or sigmoid) turned into an rnnc spec and PyTorch-named
 * safetensors weights. Host side of the pipeline: it only writes a spec and weights that the
 * compiler then reads like any other; nothing in compiler/ knows about ONNX.
 */
#ifndef RNNC_ONNX_H
#define RNNC_ONNX_H

#include <stddef.h>

#include "rnnrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an import produces, in memory. */
typedef struct OnnxModel {
    char *spec;     /* the spec as YAML text, NUL-terminated (malloc'd) */
    RnnrtTensor *t; /* (n) float32 weights named as PyTorch's state_dict (each malloc'd) */
    int n;
} OnnxModel;

/* Reads the ONNX model at `onnx_path` and writes the spec (YAML) to `spec_out` and its weights
 * (safetensors) to `weights_out`, both atomically. The spec's name is spec_out's base name
 * without extension, made a C identifier. Returns 0, or -1 with err->msg holding every problem
 * found (each line a sentence naming the file and, where there is one, the node and its op);
 * then neither output is created or changed (should writing the spec fail after the weights
 * were written, the weights file is removed). The CLI prints err->msg and exits 1. */
int onnx_import(const char *onnx_path, const char *spec_out, const char *weights_out,
                RnnrtError *err);

/* The same conversion from `len` bytes at `buf`, into *out (zeroed first; the caller frees it
 * with onnx_model_free, also after an error). `what` names the model in messages (a path);
 * `name` is the spec's name (a C identifier; NULL: "imported"). Writes no file. Returns 0, or
 * -1 with err->msg as for onnx_import. The fuzz target's entry point. */
int onnx_import_mem(const void *buf, size_t len, const char *what, const char *name,
                    OnnxModel *out, RnnrtError *err);

/* Frees what onnx_import_mem allocated and zeroes *m. Safe on a zeroed model. */
void onnx_model_free(OnnxModel *m);

#ifdef __cplusplus
}
#endif
#endif
