#!/usr/bin/env python3
"""Generate the ONNX fixtures of `rnnc import` (tests/test_onnx.c, suite 'import').

For every configuration below this exports a small PyTorch model with torch.onnx.export and
writes tests/onnx_fixtures/<config>/ with
  model.onnx   the exported model
  x.npy        an input, float32, (B,T,I) if batch_first else (T,B,I)
  y.npy        PyTorch's output for it (for reset-before GRUs, numpy's; see below)
and tests/onnx_fixtures/manifest.txt (one config name per line). Every cell and variant:
LSTM, GRU, RNN tanh and relu; one direction and both; one layer and two; no head, a head on
the final states (h_n, or y[:, -1]) and a head on every step, with softmax, sigmoid or none;
batch_first true and false; fixed sizes and dynamic axes; opset 13 and 17 (torch 1.13 exports
both). PyTorch's GRU exports linear_before_reset=1 (spec `reset: after`); the `*_before`
fixtures set it to 0 with the onnx package and compute y by ONNX's GRU equations in numpy, from
the ONNX tensors themselves.

tests/onnx_fixtures/bad/*.onnx are hostile graphs made from good ones: a cycle, a missing
initializer, an absurd dimension, unsupported operators, a reverse-only LSTM, a hidden_size
that disagrees with the weights, a bidirectional head on y[:, -1]. A truncated file is made
by the test itself.

Usage: /usr/bin/python3 tools/gen_onnx_fixtures.py   (needs python3-torch and python3-onnx)
"""
import io
import os
import shutil
import sys
import warnings
import zlib

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "onnx_fixtures")
I, H, B, T, O = 4, 5, 3, 6, 3


class TwoBlocks(nn.Module):
    """Two recurrent modules of different cells and sizes: two blocks in the spec."""

    def __init__(self):
        super().__init__()
        self.enc = nn.LSTM(I, H, bidirectional=True, batch_first=True)
        self.dec = nn.GRU(2 * H, H - 1, batch_first=True)
        self.out = nn.Linear(H - 1, O)

    def forward(self, x):
        y, _ = self.enc(x)
        _, h = self.dec(y)
        return torch.softmax(self.out(h[-1]), -1)


class NoBias(nn.Module):
    """A GRU and a head without biases (spec `bias: false` for both)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(I, H, num_layers=2, bias=False)
        self.head = nn.Linear(H, O, bias=False)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


class Net(nn.Module):
    """cell: LSTM | GRU | RNN_tanh | RNN_relu; head: None | 'hn' | 'laststep' | 'seq'."""

    def __init__(self, cell, bi, layers, head, act, batch_first):
        super().__init__()
        kw = dict(num_layers=layers, bidirectional=bi, batch_first=batch_first)
        if cell.startswith("RNN"):
            self.rnn = nn.RNN(I, H, nonlinearity=cell[4:], **kw)
        else:
            self.rnn = getattr(nn, cell)(I, H, **kw)
        self.head_kind, self.act, self.bi, self.bf = head, act, bi, batch_first
        self.head = nn.Linear(H * (2 if bi else 1), O) if head else None

    def forward(self, x):
        y, h = self.rnn(x)
        if isinstance(h, tuple):
            h = h[0]
        if self.head_kind is None:
            return y
        if self.head_kind == "hn":
            z = self.head(torch.cat((h[-2], h[-1]), 1) if self.bi else h[-1])
        elif self.head_kind == "laststep":
            z = self.head(y[:, -1] if self.bf else y[-1])
        elif self.head_kind == "slice_last":  # Slice keeping the step, then Squeeze
            z = self.head(y[:, -1:, :].squeeze(1) if self.bf else y[-1:].squeeze(0))
        elif self.head_kind == "flatten_hn":  # top layer's h_n, (B, 2, H) flattened
            z = self.head(torch.flatten(h[-2:].transpose(0, 1), 1))
        elif self.head_kind == "split_dirs":  # forward half at T-1, backward half at 0
            t = y if not self.bf else y.transpose(0, 1)
            z = self.head(torch.cat((t[-1, :, :H], t[0, :, H:]), 1))
        else:
            z = self.head(y)
        if self.act == "softmax":
            return torch.softmax(z, -1)
        if self.act == "sigmoid":
            return torch.sigmoid(z)
        return z


# name: (cell, bidirectional, layers, head, activation, batch_first, opset, dynamic axes)
VARIANTS = {
    "seq": (False, 1, None, None, False, 13, False),
    "bi_hn": (True, 1, "hn", "softmax", True, 17, True),
    "stack_seq": (False, 2, "seq", "sigmoid", True, 13, True),
    "bi_stack_seq": (True, 2, "seq", None, False, 17, False),
    "stack_laststep": (False, 2, "laststep", "softmax", True, 17, False),
    "bi_stack": (True, 2, None, None, True, 13, True),
    "bi_stack_hn": (True, 2, "hn", "sigmoid", False, 17, True),
    "hn_tm": (False, 1, "hn", "sigmoid", False, 13, False),
}
CELLS = ["LSTM", "GRU", "RNN_tanh", "RNN_relu"]
# other ways of reading the final states, each for one cell: (cell, name, variant)
EXTRA = [
    ("GRU", "slice_last", (False, 1, "slice_last", "sigmoid", True, 13, True)),
    ("LSTM", "bi_flatten_hn", (True, 2, "flatten_hn", "softmax", False, 17, False)),
    ("RNN_tanh", "bi_split_dirs", (True, 1, "split_dirs", None, True, 13, True)),
]


def export(model, x, opset, dynamic, bf):
    f = io.BytesIO()
    kw = {}
    if dynamic:
        axes = {0: "batch", 1: "time"} if bf else {0: "time", 1: "batch"}
        kw["dynamic_axes"] = {"x": axes, "y": axes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), f, opset_version=opset, input_names=["x"],
                          output_names=["y"], **kw)
    return onnx.load_from_string(f.getvalue())


def save(name, m, x, y):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "x.npy"), np.ascontiguousarray(x, dtype=np.float32))
    np.save(os.path.join(d, "y.npy"), np.ascontiguousarray(y, dtype=np.float32))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def onnx_gru_before(m, x, bf, head, act, bi):
    """ONNX's GRU with linear_before_reset=0, zrh gates, from the model's own W, R, B (float64),
    then the head. Independent of rnnc's reading of PyTorch's gate order."""
    inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    consts = {}
    for n in m.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t).astype(np.float64)
    inits.update(consts)
    seq = x.astype(np.float64)
    if bf:
        seq = seq.transpose(1, 0, 2)
    for n in [n for n in m.graph.node if n.op_type == "GRU"]:
        W, R, Bb = (inits[n.input[i]] for i in (1, 2, 3))
        D = W.shape[0]
        outs = []
        for d in range(D):
            Wz, Wr, Wh = np.split(W[d], 3)
            Rz, Rr, Rh = np.split(R[d], 3)
            Wbz, Wbr, Wbh, Rbz, Rbr, Rbh = np.split(Bb[d], 6)
            h = np.zeros((seq.shape[1], H))
            ys = [None] * seq.shape[0]
            steps = range(seq.shape[0]) if d == 0 else reversed(range(seq.shape[0]))
            for t in steps:
                xt = seq[t]
                z = sigmoid(xt @ Wz.T + h @ Rz.T + Wbz + Rbz)
                r = sigmoid(xt @ Wr.T + h @ Rr.T + Wbr + Rbr)
                hh = np.tanh(xt @ Wh.T + (r * h) @ Rh.T + Rbh + Wbh)
                h = (1 - z) * hh + z * h
                ys[t] = h
            outs.append(np.stack(ys))
        seq = np.concatenate(outs, axis=2)
    y = seq
    if head is not None:
        w = head.weight.detach().double().numpy()
        b = head.bias.detach().double().numpy()
        y = seq @ w.T + b
        if act == "softmax":
            e = np.exp(y - y.max(-1, keepdims=True))
            y = e / e.sum(-1, keepdims=True)
        elif act == "sigmoid":
            y = sigmoid(y)
    if bf:
        y = y.transpose(1, 0, 2)
    return y


def seeded(name):
    """Each fixture's weights and input from its own name, so adding one changes no other."""
    torch.manual_seed(zlib.crc32(name.encode()))


def layout1_gemm():
    """An LSTM graph made by hand, as no PyTorch export is: layout=1 (batch-first, opset 14),
    weights converted here from PyTorch's (ifgo -> iofc), the last step by Gather, a Gemm with
    transB=0 and alpha=0.5 on a doubled weight, Sigmoid; y from the PyTorch modules."""
    name = "lstm_layout1_gemm_op14"
    seeded(name)
    lstm, lin = nn.LSTM(I, H, batch_first=True).eval(), nn.Linear(H, O).eval()
    x = torch.randn(B, T, I)
    with torch.no_grad():
        y = torch.sigmoid(lin(lstm(x)[0][:, -1])).numpy()

    def iofc(w):  # PyTorch's i, f, g, o blocks to ONNX's i, o, f, c
        i, f, g, o = np.split(w.detach().numpy(), 4)
        return np.concatenate((i, o, f, g))

    W = iofc(lstm.weight_ih_l0)[None]
    R = iofc(lstm.weight_hh_l0)[None]
    Bb = np.concatenate((iofc(lstm.bias_ih_l0), iofc(lstm.bias_hh_l0)))[None]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in (
        (W, "W"), (R, "R"), (Bb, "B"), (2 * lin.weight.detach().numpy().T, "Wt"),
        (lin.bias.detach().numpy(), "bias"))]
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Y_h"], name="/enc/LSTM",
                         hidden_size=H, layout=1),
        helper.make_node("Constant", [], ["ax"], value_ints=[2]),
        helper.make_node("Squeeze", ["Y", "ax"], ["Ys"], name="sq"),
        helper.make_node("Constant", [], ["last"], value_int=-1),
        helper.make_node("Gather", ["Ys", "last"], ["Yl"], name="pick", axis=1),
        helper.make_node("Identity", ["Yl"], ["Yi"], name="id"),
        helper.make_node("Gemm", ["Yi", "Wt", "bias"], ["z"], name="/cls/Gemm", alpha=0.5),
        helper.make_node("Sigmoid", ["z"], ["y"], name="sig"),
    ]
    g = helper.make_graph(nodes, "layout1", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, ["batch", "time", I])], [helper.make_tensor_value_info(
            "y", onnx.TensorProto.FLOAT, ["batch", O])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    save(name, m, x.numpy(), y)
    return name


def good():
    names = []
    runs = [(c, v, VARIANTS[v]) for c in CELLS for v in VARIANTS] + EXTRA
    for cell, vname, (bi, layers, head, act, bf, opset, dyn) in runs:
        if True:
            name = f"{cell.lower()}_{vname}_op{opset}"
            seeded(name)
            model = Net(cell, bi, layers, head, act, bf).eval()
            x = torch.randn((B, T, I) if bf else (T, B, I))
            with torch.no_grad():
                y = model(x).numpy()
            save(name, export(model, x, opset, dyn, bf), x.numpy(), y)
            names.append(name)
    # two blocks: a bidirectional LSTM module feeding a GRU module
    seeded("two_blocks_op17")
    model = TwoBlocks().eval()
    x = torch.randn(B, T, I)
    with torch.no_grad():
        y = model(x).numpy()
    save("two_blocks_op17", export(model, x, 17, True, True), x.numpy(), y)
    names.append("two_blocks_op17")
    seeded("gru_nobias_op13")
    model = NoBias().eval()
    x = torch.randn(T, B, I)
    with torch.no_grad():
        y = model(x).numpy()
    save("gru_nobias_op13", export(model, x, 13, False, False), x.numpy(), y)
    names.append("gru_nobias_op13")
    names.append(layout1_gemm())
    # reset-before GRUs: the attribute edited, y by ONNX's equations
    for vname, (bi, layers, act, bf, opset) in {
        "gru_before_seq": (False, 1, "sigmoid", False, 13),
        "gru_before_bi_stack_seq": (True, 2, "softmax", True, 17),
    }.items():
        seeded(vname + f"_op{opset}")
        model = Net("GRU", bi, layers, "seq", act, bf).eval()
        x = torch.randn((B, T, I) if bf else (T, B, I))
        m = export(model, x, opset, False, bf)
        for n in m.graph.node:
            if n.op_type == "GRU":
                for a in n.attribute:
                    if a.name == "linear_before_reset":
                        a.i = 0
        y = onnx_gru_before(m, x.numpy(), bf, model.head, act, bi)
        save(vname + f"_op{opset}", m, x.numpy(), y)
        names.append(vname + f"_op{opset}")
    return names


def bad():
    """Hostile graphs, each from a good model; tests/test_onnx.c knows their messages."""
    d = os.path.join(OUT, "bad")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(100)

    def base(cell="LSTM", bi=False, head="seq", act="softmax", layers=1):
        model = Net(cell, bi, layers, head, act, True).eval()
        return export(model, torch.randn(B, T, I), 13, False, True)

    def node(m, op):
        return next(n for n in m.graph.node if n.op_type == op)

    # a cycle: the input transpose reads the LSTM's output
    m = base()
    node(m, "Transpose").input[0] = node(m, "LSTM").output[0]
    onnx.save(m, os.path.join(d, "cycle.onnx"))
    # a missing initializer: the LSTM's R
    m = base()
    r = node(m, "LSTM").input[2]
    keep = [t for t in m.graph.initializer if t.name != r]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    onnx.save(m, os.path.join(d, "missing_init.onnx"))
    # an absurd dimension: W claims 10^12 rows
    m = base()
    w = node(m, "LSTM").input[1]
    t = next(t for t in m.graph.initializer if t.name == w)
    t.dims[1] = 10 ** 12
    onnx.save(m, os.path.join(d, "absurd_dims.onnx"))
    # unsupported operators: LogSoftmax instead of Softmax, and a Relu before the head
    m = base()
    node(m, "Softmax").op_type = "LogSoftmax"
    mm = node(m, "MatMul")
    m.graph.node.append(helper.make_node("Relu", [mm.input[0]], ["relu_out"], name="my_relu"))
    mm.input[0] = "relu_out"
    onnx.save(m, os.path.join(d, "unsupported.onnx"))
    # a reverse-only LSTM
    m = base()
    node(m, "LSTM").attribute.append(helper.make_attribute("direction", "reverse"))
    onnx.save(m, os.path.join(d, "reverse.onnx"))
    # hidden_size that disagrees with R
    m = base()
    for a in node(m, "LSTM").attribute:
        if a.name == "hidden_size":
            a.i = H + 1
    onnx.save(m, os.path.join(d, "hidden_mismatch.onnx"))
    # a bidirectional head on y[:, -1]: the backward half is not its final state
    model = Net("GRU", True, 1, "laststep", None, True).eval()
    onnx.save(export(model, torch.randn(B, T, I), 17, False, True),
              os.path.join(d, "bi_laststep.onnx"))


def main():
    torch.set_num_threads(1)  # the same sums in the same order: byte-identical reruns
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    names = good()
    bad()
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{len(names)} fixtures in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
