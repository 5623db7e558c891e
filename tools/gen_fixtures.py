#!/usr/bin/env python3
"""Generate numeric test fixtures for rnnc from PyTorch.

For every configuration below this writes tests/fixtures/<config>/ with
  spec.yaml            the rnnc spec (language version 1)
  weights.safetensors  all block and head parameters, prefixed "<block>." / "<head>."
  x.npy                input, (B,T,I) if batch_first else (T,B,I)
  lengths.npy          int64 (B,), only for configs with lengths
  y.npy                head output if the spec has a head, else top block output
  h_n.npy              top block's final hidden state (num_layers*D, B, H or P)
  c_n.npy              top block's final cell state, only if it is an LSTM
and tests/fixtures/manifest.txt (one config name per line).

Usage: /usr/bin/python3 tools/gen_fixtures.py
"""
import os
import re
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from save_safetensors import save_file  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


# --------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------
def blk(cell, hidden, layers=1, bi=False, name="rnn", bias=True,
        nl="tanh", proj=0, reset="after", kernel="auto"):
    return dict(cell=cell, hidden=hidden, layers=layers, bi=bi, name=name, bias=bias,
                nl=nl, proj=proj, reset=reset, kernel=kernel)


def cfg(name, I, B, T, blocks, head=None, bf=True, lengths=False, f64=False):
    if head is not None:  # (input, activation, out_features[, name])
        head = dict(input=head[0], act=head[1], out=head[2],
                    name=head[3] if len(head) > 3 else "head")
    return dict(name=name, I=I, B=B, T=T, blocks=blocks, head=head, bf=bf,
                lengths=lengths, f64=f64)


CONFIGS = [
    # --- rnn (tanh / relu)
    cfg("rnn_tanh_l1", 4, 3, 5, [blk("rnn", 6)]),
    cfg("rnn_tanh_bi_l2_len", 3, 4, 7, [blk("rnn", 5, 2, True)], lengths=True),
    cfg("rnn_tanh_nobias_l2_tbf_head_seq_sigmoid", 5, 3, 6, [blk("rnn", 7, 2, bias=False)],
        head=("sequence", "sigmoid", 4), bf=False),
    cfg("rnn_tanh_h1_l1", 3, 2, 5, [blk("rnn", 1)]),
    cfg("rnn_tanh_loop_l1_len", 2, 3, 4, [blk("rnn", 3, kernel="loop")], lengths=True),
    cfg("rnn_tanh_h24_bi_l1_head_last_softmax", 6, 3, 8, [blk("rnn", 24, 1, True)],
        head=("last", "softmax", 5)),
    cfg("rnn_tanh_head_fc_last_none", 4, 2, 5, [blk("rnn", 6)], head=("last", "none", 3, "fc")),
    cfg("rnn_relu_l1_tbf", 4, 3, 6, [blk("rnn", 5, nl="relu")], bf=False),
    cfg("rnn_relu_bi_l3_len_head_last_none", 3, 5, 9, [blk("rnn", 6, 3, True, nl="relu")],
        head=("last", "none", 2), lengths=True),
    cfg("rnn_relu_i1_t1_b1", 1, 1, 1, [blk("rnn", 4, nl="relu")]),
    cfg("rnn_relu_unrolled_l2_head_seq_none", 3, 2, 5,
        [blk("rnn", 4, 2, nl="relu", kernel="unrolled")], head=("sequence", "none", 3)),
    # --- lstm
    cfg("lstm_l1", 4, 3, 6, [blk("lstm", 5)]),
    cfg("lstm_l2_len_head_last_softmax", 3, 4, 8, [blk("lstm", 6, 2)],
        head=("last", "softmax", 4), lengths=True),
    cfg("lstm_bi_l1_tbf_len", 5, 3, 7, [blk("lstm", 4, 1, True)], bf=False, lengths=True),
    cfg("lstm_bi_l3_head_seq_softmax", 3, 2, 5, [blk("lstm", 5, 3, True)],
        head=("sequence", "softmax", 4)),
    cfg("lstm_nobias_l1_head_last_sigmoid", 4, 3, 5, [blk("lstm", 6, bias=False)],
        head=("last", "sigmoid", 3)),
    cfg("lstm_i1_h1_t1_b1", 1, 1, 1, [blk("lstm", 1)]),
    cfg("lstm_h1_bi_l2_len", 2, 3, 5, [blk("lstm", 1, 2, True)], lengths=True),
    cfg("lstm_h32_l2_len", 8, 4, 10, [blk("lstm", 32, 2)], lengths=True),
    cfg("lstm_unrolled_l1_head_last_sigmoid", 3, 2, 4, [blk("lstm", 4, kernel="unrolled")],
        head=("last", "sigmoid", 2)),
    cfg("lstm_loop_bi_l2_tbf", 2, 3, 5, [blk("lstm", 3, 2, True, kernel="loop")], bf=False),
    # --- lstm with projection (P < H)
    cfg("lstm_proj_l1", 4, 3, 6, [blk("lstm", 8, proj=3)]),
    cfg("lstm_proj_bi_l2_len_head_last_softmax", 3, 4, 7, [blk("lstm", 6, 2, True, proj=4)],
        head=("last", "softmax", 3), lengths=True),
    cfg("lstm_proj_l3_tbf_head_seq_none", 5, 2, 6, [blk("lstm", 7, 3, proj=2)],
        head=("sequence", "none", 3), bf=False),
    cfg("lstm_proj_bi_l1_len_head_seq_sigmoid", 2, 3, 5, [blk("lstm", 5, 1, True, proj=1)],
        head=("sequence", "sigmoid", 2), lengths=True),
    cfg("lstm_proj_nobias_unrolled_l2", 3, 2, 4,
        [blk("lstm", 4, 2, proj=2, bias=False, kernel="unrolled")]),
    # --- gru, reset after (= nn.GRU)
    cfg("gru_l1", 4, 3, 6, [blk("gru", 5)]),
    cfg("gru_bi_l2_len", 3, 4, 8, [blk("gru", 6, 2, True)], lengths=True),
    cfg("gru_l3_tbf_head_last_none", 2, 3, 5, [blk("gru", 4, 3)], head=("last", "none", 3),
        bf=False),
    cfg("gru_nobias_bi_l1_head_seq_none", 4, 2, 6, [blk("gru", 5, 1, True, bias=False)],
        head=("sequence", "none", 2)),
    cfg("gru_h48_bi_l1_len_head_last_softmax", 8, 3, 12, [blk("gru", 48, 1, True)],
        head=("last", "softmax", 5), lengths=True),
    cfg("gru_unrolled_l2_len_head_seq_softmax", 3, 3, 4, [blk("gru", 4, 2, kernel="unrolled")],
        head=("sequence", "softmax", 3), lengths=True),
    cfg("gru_loop_l1_b1_len", 2, 1, 5, [blk("gru", 3, kernel="loop")], lengths=True),
    cfg("gru_i1_t1_b1", 1, 1, 1, [blk("gru", 3)]),
    # --- gru, reset before (not in PyTorch; manual reference below)
    cfg("gru_before_l1", 4, 3, 6, [blk("gru", 5, reset="before")]),
    cfg("gru_before_bi_l2_len", 3, 4, 8, [blk("gru", 6, 2, True, reset="before")], lengths=True),
    cfg("gru_before_l3_tbf_len_head_seq_softmax", 2, 3, 6, [blk("gru", 4, 3, reset="before")],
        head=("sequence", "softmax", 3), bf=False, lengths=True),
    cfg("gru_before_nobias_l1_head_last_none", 4, 2, 5,
        [blk("gru", 5, reset="before", bias=False)], head=("last", "none", 2)),
    cfg("gru_before_bi_l1_head_last_sigmoid", 3, 3, 5, [blk("gru", 4, 1, True, reset="before")],
        head=("last", "sigmoid", 3)),
    cfg("gru_before_loop_l2", 2, 2, 4, [blk("gru", 3, 2, reset="before", kernel="loop")]),
    cfg("gru_before_i1_h1_len", 1, 3, 5, [blk("gru", 1, reset="before")], lengths=True),
    cfg("gru_before_h24_bi_l2_len_head_seq_sigmoid", 5, 3, 9,
        [blk("gru", 24, 2, True, reset="before")], head=("sequence", "sigmoid", 4), lengths=True),
    # --- two-block stacks
    cfg("stack_gru_lstm_head_last_softmax", 4, 3, 6,
        [blk("gru", 5, name="enc"), blk("lstm", 6, name="dec")], head=("last", "softmax", 3)),
    cfg("stack_bilstm_rnn_len_head_seq_none", 3, 4, 7,
        [blk("lstm", 4, 1, True, name="enc"), blk("rnn", 5, 2, name="dec")],
        head=("sequence", "none", 2), lengths=True),
    cfg("stack_gru_before_bi_lstm_proj_tbf_len", 3, 3, 6,
        [blk("gru", 4, 1, True, reset="before", name="enc"),
         blk("lstm", 5, 2, proj=3, name="dec")], bf=False, lengths=True),
    cfg("stack_lstm_proj_bigru_len_head_last_sigmoid", 2, 4, 6,
        [blk("lstm", 6, 1, proj=3, name="enc"), blk("gru", 4, 1, True, name="dec")],
        head=("last", "sigmoid", 2), lengths=True),
    # --- batches of 7 and more through the batched loop kernels: blocks of 6 sequences, a
    #     partial block, live counts falling between steps, column chunks of 64 and a rest
    cfg("batch_lstm_h20_l2_b13_len", 5, 13, 7, [blk("lstm", 20, 2, kernel="loop")],
        lengths=True),
    cfg("batch_lstm_h32_b12_tbf_head_last_softmax", 4, 12, 6, [blk("lstm", 32, kernel="loop")],
        head=("last", "softmax", 3), bf=False),
    cfg("batch_gru_h24_bi_b9_len_head_last_softmax", 3, 9, 8,
        [blk("gru", 24, 1, True, kernel="loop")], head=("last", "softmax", 4), lengths=True),
    cfg("batch_gru_before_h20_l2_b8_len", 4, 8, 6,
        [blk("gru", 20, 2, reset="before", kernel="loop")], lengths=True),
    cfg("batch_rnn_relu_h70_b7_tbf_len", 3, 7, 5, [blk("rnn", 70, nl="relu", kernel="loop")],
        bf=False, lengths=True),
    cfg("batch_lstm_proj_h24_bi_b10_len_head_seq_none", 3, 10, 6,
        [blk("lstm", 24, 1, True, proj=10, kernel="loop")], head=("sequence", "none", 2),
        lengths=True),
    cfg("batch_f64_lstm_h20_b8_len", 3, 8, 5, [blk("lstm", 20, kernel="loop")], lengths=True,
        f64=True),
    # --- float64
    cfg("f64_lstm_bi_l2_len_head_last_softmax", 3, 3, 6, [blk("lstm", 5, 2, True)],
        head=("last", "softmax", 4), lengths=True, f64=True),
    cfg("f64_gru_before_l2_len", 2, 4, 7, [blk("gru", 4, 2, reset="before")], lengths=True,
        f64=True),
    cfg("f64_stack_rnn_relu_gru_head_seq_sigmoid", 4, 2, 5,
        [blk("rnn", 5, nl="relu", name="enc"), blk("gru", 3, name="dec")],
        head=("sequence", "sigmoid", 2), f64=True),
]


# --------------------------------------------------------------------------
# Reference computation
# --------------------------------------------------------------------------
def gru_manual(gru, x, lengths, reset):
    """Reference GRU with explicit time loop.  x: (T, B, I) time-major,
    lengths: int64 (B,).  reset="after" is nn.GRU; reset="before" applies r to
    h before W_hn.  Returns output (T, B, D*H) (zero past each length) and
    h_n (num_layers*D, B, H)."""
    T, B, _ = x.shape
    H = gru.hidden_size
    D = 2 if gru.bidirectional else 1
    p = dict(gru.named_parameters())
    inp, h_n = x, []
    for layer in range(gru.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ir, w_iz, w_in = p["weight_ih" + sfx].chunk(3, 0)
            w_hr, w_hz, w_hn = p["weight_hh" + sfx].chunk(3, 0)
            if gru.bias:
                b_ir, b_iz, b_in = p["bias_ih" + sfx].chunk(3)
                b_hr, b_hz, b_hn = p["bias_hh" + sfx].chunk(3)
            else:
                b_ir = b_iz = b_in = b_hr = b_hz = b_hn = x.new_zeros(H)
            h = x.new_zeros(B, H)
            out = x.new_zeros(T, B, H)
            # The reverse direction walks T-1..0; steps past a sequence's length
            # are masked, so it effectively starts at its own last step with h=0.
            for t in (reversed(range(T)) if d else range(T)):
                xt = inp[t]
                r = torch.sigmoid(xt @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
                z = torch.sigmoid(xt @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
                if reset == "after":
                    n = torch.tanh(xt @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
                else:
                    n = torch.tanh(xt @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
                h_new = (1 - z) * n + z * h
                valid = (t < lengths).unsqueeze(1)
                h = torch.where(valid, h_new, h)
                out[t] = torch.where(valid, h_new, torch.zeros_like(h_new))
            outs.append(out)
            h_n.append(h)
        inp = torch.cat(outs, 2)
    return inp, torch.stack(h_n)


def run_block(mod, b, x, lengths, bf):
    """Run one block; returns (output sequence, h_n, c_n or None)."""
    T = x.shape[1] if bf else x.shape[0]
    if b["cell"] == "gru" and b["reset"] == "before":
        B = x.shape[0] if bf else x.shape[1]
        lens = lengths if lengths is not None else torch.full((B,), T, dtype=torch.int64)
        out, h_n = gru_manual(mod, x.transpose(0, 1) if bf else x, lens, "before")
        return (out.transpose(0, 1) if bf else out), h_n, None
    if lengths is None:
        out, state = mod(x)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
        out, state = mod(packed)
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)
    if b["cell"] == "lstm":
        return out, state[0], state[1]
    return out, state, None


def run_head(head, hc, out, h_n, D, lengths, bf, return_logits=False):
    """Head output (zero at padded steps).  With return_logits also returns the
    Linear output before the activation (not masked): (y, logits)."""
    if hc["input"] == "last":
        feat = h_n[-1] if D == 1 else torch.cat([h_n[-2], h_n[-1]], dim=-1)
    else:
        feat = out
    logits = y = head(feat)
    if hc["act"] == "softmax":
        y = torch.softmax(y, dim=-1)
    elif hc["act"] == "sigmoid":
        y = torch.sigmoid(y)
    if hc["input"] == "sequence" and lengths is not None:
        T = y.shape[1] if bf else y.shape[0]
        valid = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
        if not bf:
            valid = valid.T
        y = torch.where(valid.unsqueeze(-1), y, torch.zeros_like(y))
    return (y, logits) if return_logits else y


def reinit_(mod, scale):
    with torch.no_grad():
        for prm in mod.parameters():
            prm.uniform_(-scale, scale)


def make_block(b, in_size, dtype, bf):
    kw = dict(input_size=in_size, hidden_size=b["hidden"], num_layers=b["layers"],
              bias=b["bias"], bidirectional=b["bi"], dropout=0.0, batch_first=bf)
    if b["cell"] == "rnn":
        mod = nn.RNN(nonlinearity=b["nl"], **kw)
    elif b["cell"] == "lstm":
        mod = nn.LSTM(proj_size=b["proj"], **kw)
    else:
        mod = nn.GRU(**kw)
    # uniform(-0.5, 0.5) (narrower for wide layers, to avoid saturation) so
    # that b_ih != b_hh and every parameter matters.
    reinit_(mod, min(0.5, 2.0 / b["hidden"] ** 0.5))
    return mod.to(dtype).eval()


def block_out_size(b):
    return (2 if b["bi"] else 1) * (b["proj"] or b["hidden"])


def make_lengths(B, T):
    """int64 (B,), values in 1..T, one equal to T, not sorted descending."""
    if B == 1 or T == 1:
        return torch.full((B,), T, dtype=torch.int64)
    lengths = torch.randint(1, T, (B,), dtype=torch.int64)
    lengths[B // 2] = T
    return lengths


def check_manual_gru():
    """Validate gru_manual(reset="after") against nn.GRU so that the
    reset="before" fixtures (same code, one line different) are trustworthy."""
    for dtype in (torch.float32, torch.float64):
        for bi in (False, True):
            for bias in (True, False):
                for bf in (False, True):
                    for use_len in (False, True):
                        torch.manual_seed(1234)
                        b = blk("gru", 5, 2, bi, bias=bias)
                        gru = make_block(b, 3, dtype, bf)
                        x = torch.randn(4, 6, 3, dtype=dtype) if bf else \
                            torch.randn(6, 4, 3, dtype=dtype)
                        lengths = torch.tensor([3, 6, 1, 4]) if use_len else None
                        with torch.no_grad():
                            ref_out, ref_h, _ = run_block(gru, b, x, lengths, bf)
                            lens = lengths if use_len else torch.full((4,), 6)
                            out, h = gru_manual(gru, x.transpose(0, 1) if bf else x,
                                                lens, "after")
                            if bf:
                                out = out.transpose(0, 1)
                        err = max((out - ref_out).abs().max().item(),
                                  (h - ref_h).abs().max().item())
                        assert err <= 1e-6, f"manual GRU mismatch {err} {dtype} bi={bi} " \
                                            f"bias={bias} bf={bf} len={use_len}"


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def spec_yaml(c):
    yb = lambda v: "true" if v else "false"  # noqa: E731
    lines = [
        "# generated by tools/gen_fixtures.py",
        f"name: {c['name']}",
        f"input_size: {c['I']}",
        f"batch_first: {yb(c['bf'])}",
        f"precision: {'float64' if c['f64'] else 'float32'}",
        "layers:",
    ]
    for b in c["blocks"]:
        lines += [
            f"  - name: {b['name']}",
            f"    cell: {b['cell']}",
            f"    hidden_size: {b['hidden']}",
            f"    num_layers: {b['layers']}",
            f"    bidirectional: {yb(b['bi'])}",
            "    dropout: 0.0",
        ]
        if b["cell"] == "rnn":
            lines.append(f"    nonlinearity: {b['nl']}")
        elif b["cell"] == "lstm":
            lines.append(f"    proj_size: {b['proj']}")
        else:
            lines.append(f"    reset: {b['reset']}")
        lines += [f"    bias: {yb(b['bias'])}", f"    kernel: {b['kernel']}"]
    h = c["head"]
    if h:
        lines += [
            "head:",
            f"  name: {h['name']}",
            f"  out_features: {h['out']}",
            f"  input: {h['input']}",
            f"  activation: {h['act']}",
        ]
    return "\n".join(lines) + "\n"


def build(c):
    """Seed from the config name and create (mods, head, x, lengths) exactly as
    the fixtures use them; the RNG stream continues for callers (grad targets)."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", c["name"]), c["name"]
    dtype = torch.float64 if c["f64"] else torch.float32
    torch.manual_seed(zlib.crc32(c["name"].encode()))

    mods, in_size = [], c["I"]
    for b in c["blocks"]:
        mods.append(make_block(b, in_size, dtype, c["bf"]))
        in_size = block_out_size(b)
    head = None
    if c["head"]:
        head = nn.Linear(in_size, c["head"]["out"])
        reinit_(head, 0.5)
        head = head.to(dtype).eval()

    B, T, I = c["B"], c["T"], c["I"]
    x = torch.randn((B, T, I) if c["bf"] else (T, B, I), dtype=dtype)
    lengths = make_lengths(B, T) if c["lengths"] else None
    return mods, head, x, lengths


def forward(c, mods, head, x, lengths):
    """Returns (top block output, h_n, c_n, y, logits); y is the head output if
    there is a head (else the top block output), logits the head's Linear
    output before its activation (None without a head).  Differentiable."""
    out = x
    for b, mod in zip(c["blocks"], mods):
        out, h_n, c_n = run_block(mod, b, out, lengths, c["bf"])
    y, logits = out, None
    if head is not None:
        D = 2 if c["blocks"][-1]["bi"] else 1
        y, logits = run_head(head, c["head"], out, h_n, D, lengths, c["bf"],
                             return_logits=True)
    return out, h_n, c_n, y, logits


def named_params(c, mods, head):
    """(name, parameter) in state_dict order, prefixed "<block>." / "<head>."."""
    items = []
    for b, mod in zip(c["blocks"], mods):
        items += [(f"{b['name']}.{k}", v) for k, v in mod.named_parameters()]
    if head is not None:
        items += [(f"{c['head']['name']}.{k}", v) for k, v in head.named_parameters()]
    return items


def state_tensors(c, mods, head):
    tensors = {}
    for b, mod in zip(c["blocks"], mods):
        for k, v in mod.state_dict().items():
            tensors[f"{b['name']}.{k}"] = v
    if head is not None:
        for k, v in head.state_dict().items():
            tensors[f"{c['head']['name']}.{k}"] = v
    return tensors


def generate(c):
    name = c["name"]
    mods, head, x, lengths = build(c)
    with torch.no_grad():
        _, h_n, c_n, y, _ = forward(c, mods, head, x, lengths)
    tensors = state_tensors(c, mods, head)

    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    for stale in ("lengths.npy", "c_n.npy"):
        if os.path.exists(os.path.join(d, stale)):
            os.remove(os.path.join(d, stale))
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write(spec_yaml(c))
    save_file(tensors, os.path.join(d, "weights.safetensors"))
    np.save(os.path.join(d, "x.npy"), x.numpy())
    if lengths is not None:
        np.save(os.path.join(d, "lengths.npy"), lengths.numpy())
    np.save(os.path.join(d, "y.npy"), y.numpy())
    np.save(os.path.join(d, "h_n.npy"), h_n.numpy())
    if c_n is not None:
        np.save(os.path.join(d, "c_n.npy"), c_n.numpy())


def main():
    torch.set_num_threads(1)  # bit-for-bit reproducible reductions
    check_manual_gru()
    names = [c["name"] for c in CONFIGS]
    assert len(set(names)) == len(names), "duplicate config names"
    for c in CONFIGS:
        generate(c)
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"wrote {len(names)} fixtures to {os.path.normpath(OUT_DIR)}")


if __name__ == "__main__":
    main()
