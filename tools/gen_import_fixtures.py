#!/usr/bin/python3
"""Fixtures for loading PyTorch models the way PyTorch users save them, and for initial states.

Writes tests/import_fixtures/ (read by tests/test_import.c, suite cli):

  run.txt   one case a line: NAME SPEC [ARGS...]; the test runs
              rnnc run SPEC --weights NAME/model.pt --input NAME/x.npy [--lengths NAME/lengths.npy]
                  [--h0 NAME/h0.npy] [--c0 NAME/c0.npy] --output Y --h-n H [--c-n C] ARGS...
            and compares Y, H (and C) with NAME/y.npy, h_n.npy (c_n.npy): PyTorch's, within
            1e-5 relative + 1e-6 absolute (float32; 1e-10 + 1e-12 in float64).
  grad.txt  NAME SPEC [ARGS...]; rnnc grad with NAME/target.npy, --h0/--c0 as above and
            --dh0/--dc0, compared with autograd's loss.npy, grads.safetensors, dh0.npy, dc0.npy.

State_dicts are written with torch.save(module.state_dict(), path), never converted:
  f32_seq_classifier      specs/seq_classifier.yaml, an nn.Module with .rnn and .head
  f64_cho_gru             specs/cho_gru.yaml (float64 GRU, reset: before: the manual reference loop
                          of gen_fixtures.py)
  f16_tagger              specs/tagger.yaml from module.half(): rnnc widens float16 exactly, so the
                          reference is PyTorch in float32 with the rounded weights
  nested_seq_classifier   encoder.rnn.*, classifier.fc.*: this directory's spec.yaml, which is
                          seq_classifier's with weights: {strip: module, map: {...}}
  dp_nested_seq_classifier  the same module inside nn.DataParallel (module.encoder.rnn.*), same spec
  nested_projected_lstm   specs/projected_lstm.yaml; encoder.lstm.* and post.0.* (an nn.Sequential)
                          through --rename encoder.lstm=lstm --rename post.0=rnn
  dp_channel_tracker      specs/channel_tracker.yaml, nn.DataParallel: --rename module.=
Initial states (h0_*, grad_*): nn.LSTM(x, (h0, c0)), nn.GRU(x, h0), nn.RNN(x, h0), packed when there
are lengths; one and more layers, bidirectional, projection, loop kernels at batch 9, float64, and
two-block stacks, where h0 and c0 are the top block's and the lower block starts from zeros.
h0_lstm_l1_len/seq_*.npy hold one of its sequences alone (1, T, I) with its h0 and c0 (1, 1, H),
for the REPL's h0 = load and c0 = load.

Also writes examples/seq_classifier/model.pt: the README's PyTorch module (an nn.LSTM as .rnn and an
nn.Linear as .head) holding the bundled weights (weights.safetensors), so that rnnc run gives
y_pytorch.npy's numbers.

--verify W.pt W.safetensors: torch.load(W.pt) must hold exactly the tensors of W.safetensors (names,
order, dtype, bits), e.g. after rnnc train --save W.pt and the same run with --save W.safetensors.

Usage: /usr/bin/python3 tools/gen_import_fixtures.py [--verify W.pt W.safetensors]
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_examples as ge  # noqa: E402
import gen_fixtures as gf  # noqa: E402
import gen_grad_fixtures as gg  # noqa: E402
from gen_fixtures import blk  # noqa: E402
from save_safetensors import save_file  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "tests", "import_fixtures")


# --------------------------------------------------------------------------
# The modules, as a PyTorch user writes them
# --------------------------------------------------------------------------
class SeqClassifier(nn.Module):
    """The README's model: specs/seq_classifier.yaml's network."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(10, 64, num_layers=2, batch_first=True, dropout=0.1)
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        _, (h_n, _) = self.rnn(x)
        return torch.softmax(self.head(h_n[-1]), dim=-1)


def holder(parts):
    """An nn.Module holding each module of `parts` (dotted path -> module) at its path, so that
    its state_dict has the nested names a real model's has (encoder.rnn.weight_ih_l0)."""
    root = nn.Module()
    for path, mod in parts.items():
        *dirs, leaf = path.split(".")
        at = root
        for d in dirs:
            if not hasattr(at, d):
                at.add_module(d, nn.Module())
            at = getattr(at, d)
        at.add_module(leaf, mod)
    return root


# --------------------------------------------------------------------------
# PyTorch's forward with an initial state on the top block
# --------------------------------------------------------------------------
def run_top(mod, b, x, lengths, bf, h0, c0):
    """The top block from (h0, c0) (either None: zeros); as gen_fixtures.run_block."""
    if h0 is None and c0 is None:
        return gf.run_block(mod, b, x, lengths, bf)
    assert not (b["cell"] == "gru" and b["reset"] == "before")
    D, L = (2 if b["bi"] else 1), b["layers"]
    B, T = (x.shape[0], x.shape[1]) if bf else (x.shape[1], x.shape[0])
    if h0 is None:
        h0 = x.new_zeros(L * D, B, b["proj"] or b["hidden"])
    if b["cell"] == "lstm" and c0 is None:
        c0 = x.new_zeros(L * D, B, b["hidden"])
    state = (h0, c0) if b["cell"] == "lstm" else h0
    if lengths is None:
        out, st = mod(x, state)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
        out, st = mod(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)
    return (out, st[0], st[1]) if b["cell"] == "lstm" else (out, st, None)


def forward(c, mods, head, x, lengths, h0=None, c0=None):
    """gen_fixtures.forward with the top block started from (h0, c0)."""
    out = x
    for i, (b, mod) in enumerate(zip(c["blocks"], mods)):
        top = i == len(mods) - 1
        out, h_n, c_n = run_top(mod, b, out, lengths, c["bf"], h0 if top else None,
                                c0 if top else None)
    y, logits = out, None
    if head is not None:
        D = 2 if c["blocks"][-1]["bi"] else 1
        y, logits = gf.run_head(head, c["head"], out, h_n, D, lengths, c["bf"], return_logits=True)
    return out, h_n, c_n, y, logits


def make_state(c, B, dtype):
    """Random h0 (and c0 for an LSTM) of the top block, PyTorch's shapes."""
    b = c["blocks"][-1]
    LD = b["layers"] * (2 if b["bi"] else 1)
    h0 = 0.5 * torch.randn(LD, B, b["proj"] or b["hidden"], dtype=dtype)
    c0 = 0.5 * torch.randn(LD, B, b["hidden"], dtype=dtype) if b["cell"] == "lstm" else None
    return h0, c0


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def save_np(d, name, t):
    if t is not None:
        np.save(os.path.join(d, name), t.detach().numpy())


def case_dir(name):
    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    return d


def rel(path):
    return os.path.relpath(path, ROOT)


def write_run(name, c, mods, head, x, lengths, module, h0=None, c0=None, dtype=None):
    """A run case: torch.save of module's state_dict (in `dtype` when given), the input, and
    PyTorch's outputs from the weights as saved."""
    d = case_dir(name)
    sd = module.state_dict()
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    torch.save(sd, os.path.join(d, "model.pt"))
    with torch.no_grad():
        _, h_n, c_n, y, _ = forward(c, mods, head, x, lengths, h0, c0)
    for f, t in (("x.npy", x), ("lengths.npy", lengths), ("h0.npy", h0), ("c0.npy", c0),
                 ("y.npy", y), ("h_n.npy", h_n), ("c_n.npy", c_n)):
        save_np(d, f, t)
    return d


def parts_of(c, mods, head):
    """name -> module, the spec's names (the block's and the head's)."""
    parts = {b["name"]: m for b, m in zip(c["blocks"], mods)}
    if head is not None:
        parts[c["head"]["name"]] = head
    return parts


def build_example(name, seed):
    """A network of specs/NAME.yaml (gen_examples' configuration) with its own weights."""
    c = next(e for e in ge.EXAMPLES if e["name"] == name)
    c = dict(c, name=seed)
    mods, head, x, lengths = gf.build(c)
    return c, mods, head, x, lengths


def import_cases():
    """The state_dicts a PyTorch user saves; returns run.txt's lines."""
    lines = []
    # float32, the names as the spec says
    c, mods, head, x, lengths = build_example("seq_classifier", "import_f32")
    m = SeqClassifier().eval()
    m.rnn.load_state_dict(mods[0].state_dict())
    m.head.load_state_dict(head.state_dict())
    write_run("f32_seq_classifier", c, mods, head, x, lengths, m)
    lines.append("f32_seq_classifier specs/seq_classifier.yaml")
    # float64, reset: before
    c, mods, head, x, lengths = build_example("cho_gru", "import_f64")
    write_run("f64_cho_gru", c, mods, head, x, lengths, holder(parts_of(c, mods, head)))
    lines.append("f64_cho_gru specs/cho_gru.yaml")
    # float16: the reference runs in float32 on the weights float16 rounds them to
    c, mods, head, x, lengths = build_example("tagger", "import_f16")
    with torch.no_grad():
        for p in list(mods[0].parameters()) + list(head.parameters()):
            p.copy_(p.half().float())
    write_run("f16_tagger", c, mods, head, x, lengths, holder(parts_of(c, mods, head)),
              dtype=torch.float16)
    lines.append("f16_tagger specs/tagger.yaml")
    # a nested module through the spec's weights: section, bare and in nn.DataParallel
    c, mods, head, x, lengths = build_example("seq_classifier", "import_nested")
    nested = holder({"encoder.rnn": mods[0], "classifier.fc": head})
    d = write_run("nested_seq_classifier", c, mods, head, x, lengths, nested)
    with open(os.path.join(ROOT, "specs", "seq_classifier.yaml")) as f:
        spec = f.read()
    spec += ("weights:                      # the state_dict of a nested module\n"
             "  strip: module               # nn.DataParallel's prefix, where the names have it\n"
             "  map:\n"
             "    rnn: encoder.rnn\n"
             "    head: classifier.fc\n")
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write("# written by tools/gen_import_fixtures.py\n" + spec)
    lines.append(f"nested_seq_classifier {rel(d)}/spec.yaml")
    write_run("dp_nested_seq_classifier", c, mods, head, x, lengths, nn.DataParallel(nested))
    lines.append(f"dp_nested_seq_classifier {rel(d)}/spec.yaml")
    # a nested module and an nn.Sequential through --rename
    c, mods, head, x, lengths = build_example("projected_lstm", "import_rename")
    m = holder({"encoder.lstm": mods[0]})
    m.post = nn.Sequential(mods[1], nn.Identity())
    write_run("nested_projected_lstm", c, mods, head, x, lengths, m)
    lines.append("nested_projected_lstm specs/projected_lstm.yaml "
                 "--rename encoder.lstm=lstm --rename post.0=rnn")
    # nn.DataParallel through --rename module.=
    c, mods, head, x, lengths = build_example("channel_tracker", "import_dp")
    write_run("dp_channel_tracker", c, mods, head, x, lengths,
              nn.DataParallel(holder(parts_of(c, mods, head))))
    lines.append("dp_channel_tracker specs/channel_tracker.yaml --rename module.=")
    return lines


H0 = [
    gf.cfg("h0_lstm_l1_len", 4, 3, 6, [blk("lstm", 5)], lengths=True),
    gf.cfg("h0_lstm_bi_l2_len_head_last_softmax", 3, 4, 7, [blk("lstm", 6, 2, True)],
           head=("last", "softmax", 3), lengths=True),
    gf.cfg("h0_lstm_proj_bi_l2_tbf", 3, 3, 5, [blk("lstm", 6, 2, True, proj=4)], bf=False),
    gf.cfg("h0_gru_l2_tbf_len", 3, 4, 6, [blk("gru", 5, 2)], bf=False, lengths=True),
    gf.cfg("h0_gru_bi_l1_head_seq_none", 2, 3, 5, [blk("gru", 4, 1, True)],
           head=("sequence", "none", 2)),
    gf.cfg("h0_rnn_tanh_bi_l2_len", 3, 3, 6, [blk("rnn", 5, 2, True)], lengths=True),
    gf.cfg("h0_rnn_relu_l1_head_last_none", 2, 2, 4, [blk("rnn", 4, nl="relu")],
           head=("last", "none", 2)),
    gf.cfg("h0_stack_gru_lstm_len_head_last_softmax", 4, 3, 6,
           [blk("gru", 5, 1, True, name="enc"), blk("lstm", 6, 2, name="dec")],
           head=("last", "softmax", 3), lengths=True),
    gf.cfg("h0_batch_lstm_loop_bi_b9_len", 3, 9, 6, [blk("lstm", 20, 1, True, kernel="loop")],
           lengths=True),
    gf.cfg("h0_f64_gru_bi_l2_len", 2, 3, 5, [blk("gru", 4, 2, True)], lengths=True, f64=True),
]
# h0 alone for an LSTM: c0 is zero
H0_ONLY = {"h0_lstm_proj_bi_l2_tbf"}
# also seq_x.npy (1, T, I), seq_h0.npy and seq_c0.npy (1, 1, H): one sequence, for the REPL
REPL_CASE = "h0_lstm_l1_len"


def h0_cases():
    lines = []
    for c in H0:
        mods, head, x, lengths = gf.build(c)
        B = x.shape[0] if c["bf"] else x.shape[1]
        h0, c0 = make_state(c, B, x.dtype)
        if c["name"] in H0_ONLY:
            c0 = None
        d = write_run(c["name"], c, mods, head, x, lengths, holder(parts_of(c, mods, head)),
                      h0, c0)
        with open(os.path.join(d, "spec.yaml"), "w") as f:
            f.write(gf.spec_yaml(c))
        if c["name"] == REPL_CASE:  # its sequence of full length alone, for the REPL
            b = int(lengths.argmax())
            for f, t in (("seq_x.npy", x[b:b + 1]), ("seq_h0.npy", h0[:, b:b + 1]),
                         ("seq_c0.npy", c0[:, b:b + 1])):
                save_np(d, f, t)
        lines.append(f"{c['name']} {rel(d)}/spec.yaml")
    return lines


G = [
    gg.gcfg(gg.MSE, "grad_lstm_l2_len_mse", 3, 4, 6, [blk("lstm", 5, 2)], lengths=True),
    gg.gcfg(gg.CE, "grad_lstm_proj_bi_ce_last_softmax", 3, 3, 5, [blk("lstm", 6, 1, True, proj=3)],
            head=("last", "softmax", 4)),
    gg.gcfg(gg.MSE, "grad_gru_bi_l2_len_mse_seq_none", 2, 3, 6, [blk("gru", 4, 2, True)],
            head=("sequence", "none", 2), lengths=True),
    gg.gcfg(gg.BCE, "grad_rnn_tanh_bi_len_bce", 3, 3, 5, [blk("rnn", 4, 1, True)], lengths=True),
    gg.gcfg(gg.MSE, "grad_stack_gru_lstm_tbf_mse_last_none", 3, 3, 5,
            [blk("gru", 4, name="enc"), blk("lstm", 5, 2, name="dec")], head=("last", "none", 2),
            bf=False),
    gg.gcfg(gg.CE, "grad_batch_gru_loop_b8_len_ce_last_none", 3, 8, 6,
            [blk("gru", 20, 1, True, kernel="loop")], head=("last", "none", 3), lengths=True),
    gg.gcfg(gg.MSE, "grad_batch_lstm_loop_b7_mse", 2, 7, 5, [blk("lstm", 18, 2, kernel="loop")]),
    gg.gcfg(gg.MSE, "grad_f64_lstm_bi_len_mse", 2, 3, 5, [blk("lstm", 4, 1, True)], lengths=True,
            f64=True),
]


def grad_case(c):
    mods, head, x, lengths = gf.build(c)
    target = gg.make_target(c, lengths)
    B = x.shape[0] if c["bf"] else x.shape[1]
    h0, c0 = make_state(c, B, x.dtype)
    h0.requires_grad_(True)
    if c0 is not None:
        c0.requires_grad_(True)
    saved = gf.forward  # gen_grad_fixtures' loss, on the forward from (h0, c0)
    gf.forward = lambda c_, m_, h_, x_, l_: forward(c_, m_, h_, x_, l_, h0, c0)
    try:
        params = gf.named_params(c, mods, head)
        loss = gg.compute_loss(c, mods, head, x, lengths, target)
        wrt = [p for _, p in params] + [h0] + ([c0] if c0 is not None else [])
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    finally:
        gf.forward = saved
    pg = {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(params, grads)}
    d = case_dir(c["name"])
    torch.save(holder(parts_of(c, mods, head)).state_dict(), os.path.join(d, "model.pt"))
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write(gf.spec_yaml(c) + f"loss: {c['loss']}\n")
    save_file(pg, os.path.join(d, "grads.safetensors"))
    for f, t in (("x.npy", x), ("lengths.npy", lengths), ("target.npy", target), ("h0.npy", h0),
                 ("c0.npy", c0), ("dh0.npy", grads[len(params)]),
                 ("dc0.npy", grads[len(params) + 1] if c0 is not None else None)):
        save_np(d, f, t)
    np.save(os.path.join(d, "loss.npy"), np.array(loss.item(), dtype=np.float64))
    return f"{c['name']} {rel(d)}/spec.yaml"


def example_model():
    """examples/seq_classifier/model.pt: the README's module with the bundled weights."""
    d = os.path.join(ROOT, "examples", "seq_classifier")
    w = read_safetensors(os.path.join(d, "weights.safetensors"))
    m = SeqClassifier().eval()
    m.load_state_dict(w)
    x = torch.from_numpy(np.load(os.path.join(d, "x.npy")))
    lengths = torch.from_numpy(np.load(os.path.join(d, "lengths.npy")))
    with torch.no_grad():
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = m.rnn(packed)
        y = F.softmax(m.head(h_n[-1]), dim=-1)
    want = torch.from_numpy(np.load(os.path.join(d, "y_pytorch.npy")))
    assert torch.allclose(y, want, rtol=0, atol=1e-6), "model.pt does not give y_pytorch.npy"
    torch.save(m.state_dict(), os.path.join(d, "model.pt"))


# --------------------------------------------------------------------------
# safetensors reading (for --verify and the example) and --verify
# --------------------------------------------------------------------------
DT = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():  # in file order (json keeps it)
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        raw = bytearray(data[8 + n + b:8 + n + e])
        t = torch.frombuffer(raw, dtype=DT[v["dtype"]]) if raw else torch.zeros(0, dtype=DT[v["dtype"]])
        out[k] = t.reshape(v["shape"]).clone()
    return out


def verify(pt, st):
    got, want = torch.load(pt, map_location="cpu"), read_safetensors(st)
    if list(got) != list(want):
        sys.exit(f"{pt}: keys {list(got)} != {st}'s {list(want)}")
    for k, w in want.items():
        g = got[k]
        if g.dtype != w.dtype or g.shape != w.shape:
            sys.exit(f"{pt}: {k}: {g.dtype} {tuple(g.shape)} != {w.dtype} {tuple(w.shape)}")
        if not torch.equal(g.contiguous().view(-1).view(torch.uint8), w.view(-1).view(torch.uint8)):
            sys.exit(f"{pt}: {k}: values differ")
    print(f"{pt}: torch.load gives {len(got)} tensors, bit for bit those of {st}")


def main(argv):
    if len(argv) == 4 and argv[1] == "--verify":
        verify(argv[2], argv[3])
        return 0
    if len(argv) != 1:
        sys.stderr.write(__doc__.split("\n\n")[-1])
        return 2
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    run = import_cases() + h0_cases()
    grad = [grad_case(c) for c in G]
    with open(os.path.join(OUT_DIR, "run.txt"), "w") as f:
        f.write("\n".join(run) + "\n")
    with open(os.path.join(OUT_DIR, "grad.txt"), "w") as f:
        f.write("\n".join(grad) + "\n")
    example_model()
    print(f"wrote {len(run)} run and {len(grad)} grad fixtures to {rel(OUT_DIR)}, "
          "and examples/seq_classifier/model.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
