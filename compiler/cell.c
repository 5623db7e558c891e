/* cell.c — the cell descriptors: every name and shape fact of a cell variant, in one table,
 * read by check (names), plan (gates, extra buffers), the emitters and the host's reports.
 */
#include "cell.h"

static const CellDesc descs[] = {
    {CELL_RNN, 1, "rnn", "rnn (tanh)", "RNN (tanh)", "h", {"h"}, 1, 0, 0, 0, 0},
    {CELL_RNN, 1, "rnn", "rnn (relu)", "RNN (relu)", "h", {"h"}, 1, 0, 0, 0, 0},
    {CELL_LSTM,
     4,
     "lstm",
     "lstm",
     "LSTM",
     "i, f, g, o",
     {"i", "f", "g", "o"},
     1u << 2,
     1,
     0,
     0,
     0},
    {CELL_LSTM,
     4,
     "lstm",
     "lstm (projected)",
     "LSTM with projection",
     "i, f, g, o",
     {"i", "f", "g", "o"},
     1u << 2,
     1,
     1,
     0,
     0},
    {CELL_GRU,
     3,
     "gru",
     "gru (reset after)",
     "GRU (reset after the recurrent product, as PyTorch)",
     "r, z, n",
     {"r", "z", "n"},
     1u << 2,
     0,
     0,
     1,
     0},
    {CELL_GRU,
     3,
     "gru",
     "gru (reset before)",
     "GRU (reset before the recurrent product, Cho 2014)",
     "r, z, n",
     {"r", "z", "n"},
     1u << 2,
     0,
     0,
     0,
     1},
};

const CellDesc *cell_desc(const Block *b)
{
    switch (b->cell) {
    case CELL_RNN:
        return &descs[b->nonlin == NONLIN_RELU ? 1 : 0];
    case CELL_LSTM:
        return &descs[b->proj_size ? 3 : 2];
    case CELL_GRU:
        return &descs[b->reset == RESET_AFTER ? 4 : 5];
    }
    return &descs[0];
}

const char *cell_kind_name(CellKind k)
{
    return k == CELL_LSTM ? "lstm" : k == CELL_GRU ? "gru" : "rnn";
}

const char *cell_act_name(HeadAct a)
{
    static const char *const names[] = {
        [ACT_NONE] = "none", [ACT_SOFTMAX] = "softmax", [ACT_SIGMOID] = "sigmoid"};
    return names[a];
}
