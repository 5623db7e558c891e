/* fuzz_onnx.c — libFuzzer target over rnnc import (host/onnx*.c) from memory: any bytes given
 * to onnx_import_mem must come back as a model or as a message, never a crash, a leak or
 * undefined behaviour. Built and run like every target of targets.txt (tools/fuzz.sh; seeds in
 * corpus/onnx: the fixtures of tests/onnx_fixtures; dictionary onnx.dict).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "onnx.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* Byte flips rarely get past the protobuf into the graph, so half the mutations are made on the
 * parsed model: an operator swapped for another, an input rewired to another value, an
 * integer attribute, a dimension or a shape constant set to an edge value, a node dropped, the
 * output moved. Pointers borrowed from elsewhere in the model are put back before it is freed. */
static const char *const ops[] = {"LSTM",      "GRU",     "RNN",     "Gemm",      "MatMul",
                                  "Add",       "Softmax", "Sigmoid", "Transpose", "Squeeze",
                                  "Unsqueeze", "Reshape", "Flatten", "Gather",    "Slice",
                                  "Concat",    "Shape",   "Expand",  "Cast",      "Identity",
                                  "If",        "Equal",   "Mul",     "Div",       "Relu"};
static const int64_t edges[] = {-1, 0, 1, 2, 3, -2, 5, 1L << 31, -(1L << 40), INT64_MAX};

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    srand(seed);
    Onnx__ModelProto *m = rand() % 2 ? onnx__model_proto__unpack(NULL, size, data) : NULL;
    if (!m || !m->graph || m->graph->n_node == 0) {
        if (m)
            onnx__model_proto__free_unpacked(m, NULL);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    Onnx__GraphProto *g = m->graph;
    Onnx__NodeProto *n = g->node[rand() % g->n_node], *o = g->node[rand() % g->n_node];
    char **slot = NULL, *saved = NULL;
    size_t saved_n = g->n_node;
    Onnx__NodeProto *saved_node = NULL;
    switch (rand() % 6) {
    case 0:
        slot = &n->op_type, saved = *slot, *slot = (char *)ops[rand() % 25];
        break;
    case 1:
        if (n->n_input && o->n_output)
            slot = &n->input[rand() % n->n_input], saved = *slot,
            *slot = o->output[rand() % o->n_output];
        break;
    case 2:
        for (size_t i = 0; i < n->n_attribute; i++) {
            Onnx__AttributeProto *a = n->attribute[rand() % n->n_attribute];
            if (a->has_i)
                a->i = edges[rand() % 10];
            else if (a->n_ints)
                a->ints[rand() % a->n_ints] = edges[rand() % 10];
            else if (a->t && a->t->n_dims)
                a->t->dims[rand() % a->t->n_dims] = edges[rand() % 10];
        }
        break;
    case 3:
        if (g->n_initializer) {
            Onnx__TensorProto *t = g->initializer[rand() % g->n_initializer];
            if (t->n_dims)
                t->dims[rand() % t->n_dims] = edges[rand() % 10];
            else if (t->n_int64_data)
                t->int64_data[rand() % t->n_int64_data] = edges[rand() % 10];
        }
        break;
    case 4: { /* drop a node: swap it to the end, shorten the list */
        size_t k = (size_t)rand() % g->n_node;
        saved_node = g->node[k];
        g->node[k] = g->node[g->n_node - 1];
        g->node[g->n_node - 1] = saved_node;
        g->n_node--;
        break;
    }
    default:
        if (g->n_output && o->n_output)
            slot = &g->output[0]->name, saved = *slot, *slot = o->output[rand() % o->n_output];
    }
    size_t len = onnx__model_proto__get_packed_size(m);
    if (len <= max_size)
        onnx__model_proto__pack(m, data);
    if (slot)
        *slot = saved;
    g->n_node = saved_n;
    onnx__model_proto__free_unpacked(m, NULL);
    return len <= max_size ? len : LLVMFuzzerMutate(data, size, max_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    OnnxModel m;
    RnnrtError err;
    onnx_import_mem(data, size, "fuzz.onnx", "fuzz", &m, &err);
    onnx_model_free(&m);
    return 0;
}
