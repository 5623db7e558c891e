#!/usr/bin/env python3
"""Generate gradient test fixtures for rnnc from PyTorch autograd.

For every configuration below this writes tests/grad_fixtures/<config>/ with
  spec.yaml            the forward spec exactly as tools/gen_fixtures.py writes it,
                       plus a final top-level line "loss: <name>"
  weights.safetensors  all block and head parameters, prefixed "<block>." / "<head>."
  x.npy                input, (B,T,I) if batch_first else (T,B,I)
  lengths.npy          int64 (B,), only for configs with lengths
  target.npy           cross_entropy: int64 class ids, (B,) for head input last,
                       (B,T) / (T,B) for head input sequence (-100 at padded steps);
                       mse / bce_with_logits: float, the output's shape (0 at padded steps)
  loss.npy             scalar loss (0-d float64; computed in the model precision)
  grads.safetensors    d loss / d parameter, same names, shapes and dtype as the weights
and tests/grad_fixtures/manifest.txt (one config name per line) and README.md.

Loss semantics (rnnc's training contract):
  cross_entropy    on the head's logits (Linear output before the activation);
                   mean over B (head last) or over all valid steps (head sequence)
  bce_with_logits  on the head's logits, or the top block's output without a head;
                   mean over all valid elements
  mse              on the final output (after the head activation, or the top block
                   output without a head); mean over all valid elements
Valid = step t < length of its sequence (all steps without lengths).

Usage: /usr/bin/python3 tools/gen_grad_fixtures.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402
from gen_fixtures import blk  # noqa: E402
from save_safetensors import save_file  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                       "grad_fixtures")
LOSSES = ("cross_entropy", "mse", "bce_with_logits")
IGNORE = -100


def gcfg(loss, name, I, B, T, blocks, head=None, bf=True, lengths=False, f64=False,
         fd_check=False, pad_check=False):
    assert loss in LOSSES, loss
    c = gf.cfg(name, I, B, T, blocks, head=head, bf=bf, lengths=lengths, f64=f64)
    assert loss != "cross_entropy" or head is not None, "cross_entropy needs a head"
    assert not fd_check or f64, "finite-difference checks need float64"
    assert not pad_check or lengths, "padding check needs lengths"
    c.update(loss=loss, fd_check=fd_check, pad_check=pad_check)
    return c


CE, MSE, BCE = LOSSES
CONFIGS = [
    # --- rnn tanh
    gcfg(MSE, "rnn_tanh_l1_mse_none", 4, 3, 5, [blk("rnn", 6)]),
    gcfg(BCE, "rnn_tanh_bi_l2_len_bce_none", 3, 4, 7, [blk("rnn", 5, 2, True)], lengths=True),
    gcfg(CE, "rnn_tanh_nobias_l2_tbf_ce_seq_sigmoid", 5, 3, 6, [blk("rnn", 7, 2, bias=False)],
         head=("sequence", "sigmoid", 4), bf=False),
    gcfg(CE, "rnn_tanh_h1_l1_ce_last_none", 3, 2, 5, [blk("rnn", 1)],
         head=("last", "none", 3, "fc")),
    gcfg(MSE, "rnn_tanh_loop_len_mse_seq_softmax", 2, 3, 4, [blk("rnn", 3, kernel="loop")],
         head=("sequence", "softmax", 3), lengths=True),
    gcfg(BCE, "rnn_tanh_unrolled_bi_bce_last_sigmoid", 4, 2, 5,
         [blk("rnn", 6, 1, True, kernel="unrolled")], head=("last", "sigmoid", 2)),
    # --- rnn relu
    gcfg(BCE, "rnn_relu_l1_tbf_bce_seq_none", 4, 3, 6, [blk("rnn", 5, nl="relu")],
         head=("sequence", "none", 3), bf=False),
    gcfg(CE, "rnn_relu_bi_l3_len_ce_last_softmax", 3, 4, 8, [blk("rnn", 6, 3, True, nl="relu")],
         head=("last", "softmax", 4), lengths=True),
    gcfg(MSE, "rnn_relu_i1_t1_b1_mse_none", 1, 1, 1, [blk("rnn", 4, nl="relu")]),
    gcfg(MSE, "rnn_relu_unrolled_l2_len_mse_last_none", 3, 3, 5,
         [blk("rnn", 4, 2, nl="relu", kernel="unrolled")], head=("last", "none", 2),
         lengths=True),
    # --- lstm
    gcfg(CE, "lstm_l1_ce_last_softmax", 4, 3, 6, [blk("lstm", 5)], head=("last", "softmax", 4)),
    gcfg(CE, "lstm_l2_len_ce_seq_none", 3, 4, 8, [blk("lstm", 6, 2)],
         head=("sequence", "none", 3), lengths=True, pad_check=True),
    gcfg(MSE, "lstm_bi_l1_tbf_len_mse_none", 5, 3, 7, [blk("lstm", 4, 1, True)], bf=False,
         lengths=True, pad_check=True),
    gcfg(BCE, "lstm_bi_l3_bce_seq_sigmoid", 3, 2, 5, [blk("lstm", 5, 3, True)],
         head=("sequence", "sigmoid", 3)),
    gcfg(MSE, "lstm_nobias_l1_mse_last_sigmoid", 4, 3, 5, [blk("lstm", 6, bias=False)],
         head=("last", "sigmoid", 3)),
    gcfg(BCE, "lstm_i1_h1_t1_b1_bce_none", 1, 1, 1, [blk("lstm", 1)]),
    gcfg(CE, "lstm_h1_bi_l2_len_ce_last_none", 2, 3, 5, [blk("lstm", 1, 2, True)],
         head=("last", "none", 2), lengths=True),
    gcfg(BCE, "lstm_unrolled_l1_len_bce_last_sigmoid", 3, 2, 4,
         [blk("lstm", 4, kernel="unrolled")], head=("last", "sigmoid", 2), lengths=True),
    gcfg(MSE, "lstm_loop_bi_l2_tbf_mse_seq_softmax", 2, 3, 5,
         [blk("lstm", 3, 2, True, kernel="loop")], head=("sequence", "softmax", 3), bf=False),
    # --- lstm with projection
    gcfg(MSE, "lstm_proj_l1_mse_none", 4, 3, 6, [blk("lstm", 8, proj=3)]),
    gcfg(CE, "lstm_proj_bi_l2_len_ce_last_softmax", 3, 4, 7, [blk("lstm", 6, 2, True, proj=4)],
         head=("last", "softmax", 3), lengths=True),
    gcfg(CE, "lstm_proj_l3_tbf_len_ce_seq_sigmoid", 5, 2, 6, [blk("lstm", 7, 3, proj=2)],
         head=("sequence", "sigmoid", 3), bf=False, lengths=True),
    gcfg(BCE, "lstm_proj_bi_l1_len_bce_none", 2, 3, 5, [blk("lstm", 5, 1, True, proj=1)],
         lengths=True, pad_check=True),
    gcfg(MSE, "lstm_proj_nobias_unrolled_l2_mse_last_none", 3, 2, 4,
         [blk("lstm", 4, 2, proj=2, bias=False, kernel="unrolled")], head=("last", "none", 2)),
    # --- gru, reset after
    gcfg(BCE, "gru_l1_bce_none", 4, 3, 6, [blk("gru", 5)]),
    gcfg(MSE, "gru_bi_l2_len_mse_seq_none", 3, 4, 8, [blk("gru", 6, 2, True)],
         head=("sequence", "none", 2), lengths=True, pad_check=True),
    gcfg(CE, "gru_l3_tbf_ce_last_none", 2, 3, 5, [blk("gru", 4, 3)], head=("last", "none", 3),
         bf=False),
    gcfg(BCE, "gru_nobias_bi_l1_len_bce_seq_softmax", 4, 2, 6,
         [blk("gru", 5, 1, True, bias=False)], head=("sequence", "softmax", 2), lengths=True,
         pad_check=True),
    gcfg(CE, "gru_unrolled_l2_len_ce_seq_softmax", 3, 3, 4, [blk("gru", 4, 2, kernel="unrolled")],
         head=("sequence", "softmax", 3), lengths=True),
    gcfg(MSE, "gru_loop_b1_len_mse_last_sigmoid", 2, 1, 5, [blk("gru", 3, kernel="loop")],
         head=("last", "sigmoid", 2), lengths=True),
    gcfg(CE, "gru_i1_t1_b1_ce_last_none", 1, 1, 1, [blk("gru", 3)], head=("last", "none", 2)),
    # --- gru, reset before (manual reference loop)
    gcfg(MSE, "gru_before_l1_mse_none", 4, 3, 6, [blk("gru", 5, reset="before")]),
    gcfg(BCE, "gru_before_bi_l2_len_bce_none", 3, 4, 8, [blk("gru", 6, 2, True, reset="before")],
         lengths=True, pad_check=True),
    gcfg(CE, "gru_before_l3_tbf_len_ce_seq_softmax", 2, 3, 6, [blk("gru", 4, 3, reset="before")],
         head=("sequence", "softmax", 3), bf=False, lengths=True, pad_check=True),
    gcfg(BCE, "gru_before_nobias_l1_bce_last_none", 4, 2, 5,
         [blk("gru", 5, reset="before", bias=False)], head=("last", "none", 2)),
    gcfg(CE, "gru_before_bi_l1_ce_last_sigmoid", 3, 3, 5, [blk("gru", 4, 1, True, reset="before")],
         head=("last", "sigmoid", 3)),
    gcfg(MSE, "gru_before_loop_l2_mse_seq_sigmoid", 2, 2, 4,
         [blk("gru", 3, 2, reset="before", kernel="loop")], head=("sequence", "sigmoid", 2)),
    gcfg(MSE, "gru_before_i1_h1_len_mse_none", 1, 3, 5, [blk("gru", 1, reset="before")],
         lengths=True),
    gcfg(BCE, "gru_before_h12_bi_l2_len_bce_seq_sigmoid", 5, 3, 8,
         [blk("gru", 12, 2, True, reset="before")], head=("sequence", "sigmoid", 4),
         lengths=True, pad_check=True),
    # --- two-block stacks
    gcfg(CE, "stack_gru_lstm_ce_last_softmax", 4, 3, 6,
         [blk("gru", 5, name="enc"), blk("lstm", 6, name="dec")], head=("last", "softmax", 3)),
    gcfg(MSE, "stack_bilstm_rnn_len_mse_seq_none", 3, 4, 7,
         [blk("lstm", 4, 1, True, name="enc"), blk("rnn", 5, 2, name="dec")],
         head=("sequence", "none", 2), lengths=True, pad_check=True),
    gcfg(BCE, "stack_gru_before_bi_lstm_proj_tbf_len_bce_none", 3, 3, 6,
         [blk("gru", 4, 1, True, reset="before", name="enc"),
          blk("lstm", 5, 2, proj=3, name="dec")], bf=False, lengths=True, pad_check=True),
    gcfg(CE, "stack_lstm_proj_bigru_len_ce_seq_none", 2, 4, 6,
         [blk("lstm", 6, 1, proj=3, name="enc"), blk("gru", 4, 1, True, name="dec")],
         head=("sequence", "none", 2, "out"), lengths=True),
    gcfg(BCE, "stack_rnn_gru_before_len_bce_last_softmax", 3, 3, 5,
         [blk("rnn", 4, name="enc", kernel="loop"), blk("gru", 3, reset="before", name="dec")],
         head=("last", "softmax", 2), lengths=True),
    # --- float64 (also finite-difference checked here; rnnc checks them in C)
    # --- batches of 7 and more through the batched loop kernels (blocks of 6, a partial
    #     block, falling live counts, column chunks of 64 and a rest, row blocks of 6 and a rest)
    gcfg(CE, "batch_lstm_h20_l2_b13_len_ce_last_softmax", 5, 13, 7,
         [blk("lstm", 20, 2, kernel="loop")], head=("last", "softmax", 3), lengths=True),
    gcfg(MSE, "batch_gru_h24_bi_b9_len_mse_seq_none", 3, 9, 6,
         [blk("gru", 24, 1, True, kernel="loop")], head=("sequence", "none", 2), lengths=True),
    gcfg(BCE, "batch_gru_before_h20_l2_b8_len_bce_none", 4, 8, 6,
         [blk("gru", 20, 2, reset="before", kernel="loop")], lengths=True),
    gcfg(CE, "batch_rnn_relu_h70_b7_tbf_len_ce_seq_softmax", 3, 7, 5,
         [blk("rnn", 70, nl="relu", kernel="loop")], head=("sequence", "softmax", 3), bf=False,
         lengths=True),
    gcfg(MSE, "batch_lstm_proj_h24_bi_b10_len_mse_last_none", 3, 10, 6,
         [blk("lstm", 24, 1, True, proj=10, kernel="loop")], head=("last", "none", 2),
         lengths=True),
    gcfg(CE, "batch_f64_lstm_h20_b8_len_ce_last_softmax", 3, 8, 5,
         [blk("lstm", 20, kernel="loop")], head=("last", "softmax", 3), lengths=True, f64=True),
    gcfg(CE, "f64_lstm_bi_l2_len_ce_last_softmax", 3, 3, 6, [blk("lstm", 5, 2, True)],
         head=("last", "softmax", 4), lengths=True, f64=True, fd_check=True),
    gcfg(MSE, "f64_gru_before_l2_len_mse_none", 2, 4, 7, [blk("gru", 4, 2, reset="before")],
         lengths=True, f64=True, fd_check=True, pad_check=True),
    gcfg(BCE, "f64_stack_rnn_relu_gru_bce_seq_sigmoid", 4, 2, 5,
         [blk("rnn", 5, nl="relu", name="enc"), blk("gru", 3, name="dec")],
         head=("sequence", "sigmoid", 2), f64=True, fd_check=True),
    gcfg(CE, "f64_lstm_proj_tbf_len_ce_seq_none", 3, 3, 5, [blk("lstm", 5, proj=2)],
         head=("sequence", "none", 3), bf=False, lengths=True, f64=True, fd_check=True),
    gcfg(MSE, "f64_rnn_tanh_bi_len_mse_last_sigmoid", 2, 3, 4, [blk("rnn", 4, 1, True)],
         head=("last", "sigmoid", 2), lengths=True, f64=True),
]


# --------------------------------------------------------------------------
# Targets and loss
# --------------------------------------------------------------------------
def out_width(c):
    return c["head"]["out"] if c["head"] else gf.block_out_size(c["blocks"][-1])


def step_mask(c, lengths):
    """bool (B,T) or (T,B): step t of sequence b is valid (t < length)."""
    B, T = c["B"], c["T"]
    lens = lengths if lengths is not None else torch.full((B,), T, dtype=torch.int64)
    valid = torch.arange(T)[None, :] < lens[:, None]  # (B, T)
    return valid if c["bf"] else valid.T


def per_sequence(c):
    return c["head"] is not None and c["head"]["input"] == "last"


def make_target(c, lengths):
    """Random target; drawn from the RNG stream right after gen_fixtures.build."""
    B, T, O = c["B"], c["T"], out_width(c)
    dtype = torch.float64 if c["f64"] else torch.float32
    lead = (B,) if per_sequence(c) else ((B, T) if c["bf"] else (T, B))
    if c["loss"] == CE:
        tgt = torch.randint(0, O, lead, dtype=torch.int64)
        if not per_sequence(c):
            tgt = torch.where(step_mask(c, lengths), tgt, torch.full_like(tgt, IGNORE))
        return tgt
    if c["loss"] == BCE:
        tgt = torch.randint(0, 2, lead + (O,)).to(dtype)
    else:
        tgt = torch.randn(lead + (O,), dtype=dtype)
    if not per_sequence(c):
        tgt = torch.where(step_mask(c, lengths).unsqueeze(-1), tgt, torch.zeros_like(tgt))
    return tgt


def compute_loss(c, mods, head, x, lengths, target):
    """Scalar loss in the model precision (differentiable w.r.t. the parameters)."""
    out, _, _, y, logits = gf.forward(c, mods, head, x, lengths)
    if c["loss"] == CE:
        O = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, O), target.reshape(-1), ignore_index=IGNORE,
                               reduction="mean")
    if c["loss"] == BCE:
        pred = logits if head is not None else out
        elem = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
    else:
        pred = y  # after the head activation, or the top block output
        elem = (pred - target) ** 2
    if per_sequence(c):
        return elem.mean()
    valid = step_mask(c, lengths).unsqueeze(-1).expand_as(elem)
    elem = torch.where(valid, elem, torch.zeros_like(elem))
    return elem.sum() / valid.sum()


def loss_and_grads(c, mods, head, x, lengths, target):
    params = gf.named_params(c, mods, head)
    with torch.enable_grad():
        loss = compute_loss(c, mods, head, x, lengths, target)
        grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
    out = {}
    for (n, p), g in zip(params, grads):
        out[n] = torch.zeros_like(p) if g is None else g.detach().clone()
    return loss.detach(), out


# --------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------
def fd_check(c, mods, head, x, lengths, target, grads, eps=1e-6, rtol=1e-6):
    """Central finite differences of compute_loss for a few entries of every
    parameter: the largest |grad| entry and up to two random ones that are
    large enough (|g| >= 1e-3) for a 1e-6 relative check to be meaningful."""
    gen = torch.Generator().manual_seed(12345)
    checked = 0
    for name, p in gf.named_params(c, mods, head):
        g = grads[name].reshape(-1)
        flat = p.data.view(-1)
        idx = [int(g.abs().argmax())]
        cand = [i for i in torch.randperm(g.numel(), generator=gen).tolist()
                if abs(float(g[i])) >= 1e-3 and i not in idx]
        idx += cand[:2]
        for i in idx:
            orig = float(flat[i])
            with torch.no_grad():
                flat[i] = orig + eps
                lp = float(compute_loss(c, mods, head, x, lengths, target))
                flat[i] = orig - eps
                lm = float(compute_loss(c, mods, head, x, lengths, target))
                flat[i] = orig
            fd, an = (lp - lm) / (2 * eps), float(g[i])
            scale = max(abs(fd), abs(an))
            assert scale > 0 and abs(fd - an) <= rtol * scale, \
                f"{c['name']}: {name}[{i}] autograd {an!r} vs finite difference {fd!r}"
            checked += 1
    return checked


def pad_check(c, mods, head, x, lengths, target, loss, grads):
    """Loss and grads must not depend on x or target past each sequence's length."""
    inval = ~step_mask(c, lengths)
    assert inval.any(), f"{c['name']}: no padded steps to check"
    gen = torch.Generator().manual_seed(54321)
    x2 = x.clone()
    noise = 10 * torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype)
    x2[inval] = noise[inval]
    t2 = target.clone()
    if c["loss"] != CE and not per_sequence(c):
        t2[inval] = torch.rand(t2[inval].shape, generator=gen, dtype=torch.float64).to(t2.dtype)
    loss2, grads2 = loss_and_grads(c, mods, head, x2, lengths, t2)
    assert torch.equal(loss, loss2), f"{c['name']}: padding changes the loss"
    for n in grads:
        assert torch.equal(grads[n], grads2[n]), f"{c['name']}: padding changes d/d {n}"


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def generate(c):
    name = c["name"]
    mods, head, x, lengths = gf.build(c)
    target = make_target(c, lengths)
    loss, grads = loss_and_grads(c, mods, head, x, lengths, target)
    weights = gf.state_tensors(c, mods, head)
    assert list(weights) == list(grads), f"{name}: parameter / state_dict mismatch"
    for n, w in weights.items():
        g = grads[n]
        assert g.shape == w.shape and g.dtype == w.dtype, n
        assert torch.isfinite(g).all(), f"{name}: non-finite gradient {n}"
    assert torch.isfinite(loss), name

    n_fd = fd_check(c, mods, head, x, lengths, target, grads) if c["fd_check"] else 0
    if c["pad_check"]:
        pad_check(c, mods, head, x, lengths, target, loss, grads)

    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "lengths.npy")):
        os.remove(os.path.join(d, "lengths.npy"))
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write(gf.spec_yaml(c) + f"loss: {c['loss']}\n")
    save_file(weights, os.path.join(d, "weights.safetensors"))
    save_file(grads, os.path.join(d, "grads.safetensors"))
    np.save(os.path.join(d, "x.npy"), x.numpy())
    if lengths is not None:
        np.save(os.path.join(d, "lengths.npy"), lengths.numpy())
    np.save(os.path.join(d, "target.npy"), target.numpy())
    np.save(os.path.join(d, "loss.npy"), np.array(loss.item(), dtype=np.float64))
    return n_fd


README = """\
# Gradient test fixtures

Generated from PyTorch 1.13 autograd (CPU, eval mode, dropout 0, `torch.manual_seed(zlib.crc32(name))`
per config, one thread) by `tools/gen_grad_fixtures.py`, which reuses the model construction and
forward reference of `tools/gen_fixtures.py` (same weights/input for the same config).
Regenerate with `/usr/bin/python3 tools/gen_grad_fixtures.py` (deterministic: byte-identical output).

Each `<config>/` (listed in `manifest.txt`) holds:

- `spec.yaml`: the forward spec as `gen_fixtures.py` writes it, plus a last top-level line `loss: <name>`
  (`cross_entropy`, `mse` or `bce_with_logits`).
- `weights.safetensors`, `x.npy`, optional `lengths.npy` (int64): as in `tests/fixtures`.
- `target.npy`: `cross_entropy`: int64 class ids in [0, O), shape (B,) for head input `last`, (B,T) / (T,B)
  for head input `sequence` with -100 (ignored) at padded steps. `mse` / `bce_with_logits`: float, the output's
  shape ((B,O) for head `last`, (B,T,O) / (T,B,O) otherwise, O = top block width without a head), 0 at padded
  steps; bce targets are 0/1, mse targets standard normal.
- `loss.npy`: 0-d float64 (computed in the model precision, then widened).
- `grads.safetensors`: d loss / d parameter for every parameter, same names, shapes and dtype as the weights.

Loss semantics: `cross_entropy` on the head's logits (before its activation), mean over B (head `last`) or over
all valid steps (head `sequence`); `bce_with_logits` on the head's logits, or the top block output without a head,
mean over all valid elements; `mse` on the final output (after the head activation, or the top block output),
mean over all valid elements. Valid = step t < length (padded steps neither contribute nor count).

Self-checks at generation time: gradient entries of the `fd_check` float64 configs are compared with central
finite differences (eps 1e-6, relative tolerance 1e-6); for the `pad_check` configs, changing x and the targets at
padded steps must leave the loss and every gradient bit-identical; `gru` `reset: before` (manual loop) is checked
against `nn.GRU` as in `gen_fixtures.py`.
"""


def main():
    torch.set_num_threads(1)  # bit-for-bit reproducible reductions
    gf.check_manual_gru()
    names = [c["name"] for c in CONFIGS]
    assert len(set(names)) == len(names), "duplicate config names"
    n_fd = 0
    for c in CONFIGS:
        n_fd += generate(c)
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write(README)
    print(f"wrote {len(names)} gradient fixtures to {os.path.normpath(OUT_DIR)} "
          f"({n_fd} entries finite-difference checked)")


if __name__ == "__main__":
    main()
