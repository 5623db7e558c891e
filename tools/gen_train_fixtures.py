#!/usr/bin/env python3
"""Generate training test fixtures for rnnc from PyTorch optimizers.

Every configuration below is a small network, a loss and a `train:` block; the fixture is
PyTorch training it for 10 optimizer steps on ONE fixed batch (the whole batch every step).
For each one this writes tests/train_fixtures/<config>/ with
  spec.yaml                  the spec exactly as tools/gen_grad_fixtures.py writes it (forward
                             spec + "loss: <name>"), plus a final top-level `train:` block
  weights.safetensors        initial parameters, prefixed "<block>." / "<head>."
  x.npy, lengths.npy, target.npy
                             the batch, as in tests/grad_fixtures (lengths only when used)
  losses.npy                 float64 (10,): loss at step k, computed before its update
  step1.safetensors          parameters after the first step
  weights_after.safetensors  parameters after all 10 steps (same names, shapes, dtype)
and tests/train_fixtures/manifest.txt (one config name per line) and README.md.

One step:  zero grads; loss = gen_grad_fixtures.compute_loss(...); loss.backward();
           clip_grad_value_ (if given); clip_grad_norm_ (if given); optimizer.step().
Every PyTorch step is also replayed by an independent implementation of the formulas
documented in README.md (clipping and update), which must agree with PyTorch.

Usage: /usr/bin/python3 tools/gen_train_fixtures.py
"""
import copy
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402
import gen_grad_fixtures as gg  # noqa: E402
from gen_fixtures import blk  # noqa: E402
from save_safetensors import save_file  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                       "train_fixtures")
EPOCHS = 10  # one batch per epoch: 10 optimizer steps
SEED = 1     # the spec's train.seed; nothing here is random once weights and batch are fixed


# --------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------
def sgd(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    assert not nesterov or momentum > 0, "nesterov needs momentum"
    return dict(optimizer="sgd", lr=float(lr), momentum=float(momentum), nesterov=nesterov,
                weight_decay=float(weight_decay))


def adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, w=False):
    return dict(optimizer="adamw" if w else "adam", lr=float(lr),
                betas=(float(betas[0]), float(betas[1])), eps=float(eps),
                weight_decay=float(weight_decay))


def adamw(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    return adam(lr, betas, eps, weight_decay, w=True)


def tcfg(loss, name, I, B, T, blocks, opt, head=None, bf=True, lengths=False, f64=False,
         clip_norm=None, clip_value=None):
    assert I <= 5 and B <= 4 and T <= 6 and all(b["hidden"] <= 8 for b in blocks), name
    c = gg.gcfg(loss, name, I, B, T, blocks, head=head, bf=bf, lengths=lengths, f64=f64)
    c.update(train=dict(opt, clip_norm=None if clip_norm is None else float(clip_norm),
                        clip_value=None if clip_value is None else float(clip_value)))
    return c


CE, MSE, BCE = gg.LOSSES
CONFIGS = [
    # --- sgd
    tcfg(MSE, "sgd_rnn_tanh_l1_mse_none", 4, 3, 5, [blk("rnn", 6)], sgd(0.3)),
    tcfg(CE, "sgd_wd_rnn_relu_l2_tbf_len_ce_last_none", 3, 4, 6,
         [blk("rnn", 5, 2, nl="relu")], sgd(0.2, weight_decay=0.05),
         head=("last", "none", 3), bf=False, lengths=True),
    tcfg(CE, "sgd_mom_lstm_l1_len_ce_last_softmax", 4, 3, 6, [blk("lstm", 6)],
         sgd(0.1, momentum=0.9), head=("last", "softmax", 4), lengths=True),
    tcfg(BCE, "sgd_mom_stack_bigru_rnn_relu_bce_seq_sigmoid", 3, 3, 5,
         [blk("gru", 4, 1, True, name="enc"), blk("rnn", 5, nl="relu", name="dec")],
         sgd(0.2, momentum=0.9), head=("sequence", "sigmoid", 2)),
    tcfg(BCE, "sgd_nesterov_wd_gru_before_l2_tbf_len_bce_none", 3, 4, 6,
         [blk("gru", 5, 2, reset="before")], sgd(0.2, momentum=0.9, nesterov=True,
                                                 weight_decay=0.01),
         bf=False, lengths=True),
    # --- adam
    tcfg(CE, "adam_gru_bi_l1_ce_seq_none", 4, 3, 5, [blk("gru", 6, 1, True)], adam(0.02),
         head=("sequence", "none", 3)),
    tcfg(MSE, "adam_lstm_proj_l2_unrolled_len_mse_seq_none", 3, 4, 6,
         [blk("lstm", 7, 2, proj=3, kernel="unrolled")], adam(0.03, betas=(0.8, 0.99)),
         head=("sequence", "none", 2), lengths=True),
    tcfg(MSE, "adam_wd_rnn_relu_l2_len_mse_last_sigmoid", 4, 3, 6,
         [blk("rnn", 6, 2, nl="relu")], adam(0.03, weight_decay=0.01),
         head=("last", "sigmoid", 3), lengths=True),
    tcfg(BCE, "adam_wd_gru_before_bi_l1_loop_bce_last_none", 3, 2, 5,
         [blk("gru", 5, 1, True, reset="before", kernel="loop")],
         adam(0.02, eps=1e-6, weight_decay=0.1), head=("last", "none", 3)),
    # --- adamw
    tcfg(CE, "adamw_lstm_proj_bi_l2_len_ce_last_none", 4, 4, 6,
         [blk("lstm", 6, 2, True, proj=3)], adamw(0.02), head=("last", "none", 3),
         lengths=True),
    tcfg(BCE, "adamw_stack_bilstm_gru_before_len_bce_seq_sigmoid", 3, 3, 5,
         [blk("lstm", 4, 1, True, name="enc"), blk("gru", 5, reset="before", name="dec")],
         adamw(0.01), head=("sequence", "sigmoid", 2, "out"), lengths=True),
    tcfg(MSE, "adamw_nobias_lstm_tbf_mse_none", 5, 2, 4, [blk("lstm", 4, bias=False)],
         adamw(0.05, betas=(0.85, 0.98), eps=1e-7, weight_decay=0.2), bf=False),
    # --- gradient clipping
    tcfg(MSE, "clip_norm_sgd_mom_lstm_l1_mse_seq_none", 4, 3, 5, [blk("lstm", 5)],
         sgd(0.2, momentum=0.9), head=("sequence", "none", 3), clip_norm=0.25),
    tcfg(CE, "clip_norm_adamw_gru_l2_len_ce_seq_softmax", 3, 4, 6, [blk("gru", 6, 2)],
         adamw(0.03), head=("sequence", "softmax", 4), lengths=True, clip_norm=0.12),
    tcfg(BCE, "clip_value_adam_gru_l1_len_bce_last_none", 4, 3, 6, [blk("gru", 5)],
         adam(0.02), head=("last", "none", 2), lengths=True, clip_value=0.02),
    tcfg(MSE, "clip_value_sgd_rnn_tanh_bi_l2_mse_none", 3, 3, 5, [blk("rnn", 4, 2, True)],
         sgd(0.5), clip_value=0.05),
    tcfg(CE, "clip_both_sgd_nesterov_rnn_tanh_bi_len_ce_last_softmax", 4, 4, 6,
         [blk("rnn", 6, 1, True)], sgd(0.3, momentum=0.9, nesterov=True),
         head=("last", "softmax", 3), lengths=True, clip_norm=0.3, clip_value=0.05),
    # --- float64
    tcfg(CE, "f64_adam_lstm_bi_l2_len_ce_seq_none", 3, 3, 6, [blk("lstm", 5, 2, True)],
         adam(0.02), head=("sequence", "none", 4), lengths=True, f64=True),
    tcfg(MSE, "f64_clip_both_sgd_mom_wd_stack_gru_before_lstm_proj_mse", 3, 3, 5,
         [blk("gru", 4, 1, True, reset="before", name="enc"),
          blk("lstm", 6, 1, proj=2, name="dec")],
         sgd(0.3, momentum=0.9, weight_decay=0.01), bf=False, lengths=True, f64=True,
         clip_norm=0.15, clip_value=0.04),
]


# --------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------
def train_yaml(c):
    t = c["train"]
    lines = ["train:", f"  optimizer: {t['optimizer']}", f"  lr: {t['lr']!r}"]
    if t["optimizer"] == "sgd":
        lines += [f"  momentum: {t['momentum']!r}",
                  f"  nesterov: {'true' if t['nesterov'] else 'false'}"]
    lines.append(f"  weight_decay: {t['weight_decay']!r}")
    if t["optimizer"] != "sgd":
        lines += [f"  betas: [{t['betas'][0]!r}, {t['betas'][1]!r}]", f"  eps: {t['eps']!r}"]
    lines += [f"  batch_size: {c['B']}", f"  epochs: {EPOCHS}", "  shuffle: false"]
    if t["clip_norm"] is not None:
        lines.append(f"  clip_grad_norm: {t['clip_norm']!r}")
    if t["clip_value"] is not None:
        lines.append(f"  clip_grad_value: {t['clip_value']!r}")
    lines.append(f"  seed: {SEED}")
    return "\n".join(lines) + "\n"


def spec_text(c):
    return gf.spec_yaml(c) + f"loss: {c['loss']}\n" + train_yaml(c)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------
def make_optimizer(t, params):
    if t["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=t["lr"], momentum=t["momentum"], dampening=0,
                               weight_decay=t["weight_decay"], nesterov=t["nesterov"],
                               foreach=False)
    cls = torch.optim.Adam if t["optimizer"] == "adam" else torch.optim.AdamW
    kw = dict(amsgrad=False, maximize=False) if cls is torch.optim.Adam else {}
    return cls(params, lr=t["lr"], betas=t["betas"], eps=t["eps"],
               weight_decay=t["weight_decay"], foreach=False, **kw)


class Reference:
    """The README formulas, written out independently of torch.optim / clip_grad."""

    def __init__(self, t, params):
        self.t = t
        self.p = [p.detach().clone() for p in params]
        self.buf = [None] * len(params)                      # sgd momentum buffers
        self.m = [torch.zeros_like(p) for p in params]       # adam first moments
        self.v = [torch.zeros_like(p) for p in params]       # adam second moments
        self.k = 0

    def clip(self, grads):
        t = self.t
        g = [x.clone() for x in grads]
        if t["clip_value"] is not None:
            g = [x.clamp(-t["clip_value"], t["clip_value"]) for x in g]
        if t["clip_norm"] is not None:
            total = math.sqrt(sum(float((x.double() ** 2).sum()) for x in g))
            coef = min(1.0, t["clip_norm"] / (total + 1e-6))
            g = [x * coef for x in g]
        return g

    def step(self, grads):
        t, lr, wd = self.t, self.t["lr"], self.t["weight_decay"]
        self.k += 1
        for i, (p, g) in enumerate(zip(self.p, grads)):
            if t["optimizer"] == "sgd":
                d = g + wd * p
                if t["momentum"] != 0:
                    self.buf[i] = d.clone() if self.buf[i] is None else \
                        t["momentum"] * self.buf[i] + d
                    d = d + t["momentum"] * self.buf[i] if t["nesterov"] else self.buf[i]
                self.p[i] = p - lr * d
                continue
            b1, b2 = t["betas"]
            if t["optimizer"] == "adamw":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            mhat_scale = lr / (1 - b1 ** self.k)
            denom = self.v[i].sqrt() / math.sqrt(1 - b2 ** self.k) + t["eps"]
            self.p[i] = p - mhat_scale * self.m[i] / denom


def assert_close(name, what, ref, got, f64):
    tol = 1e-12 if f64 else 2e-6
    for i, (r, g) in enumerate(zip(ref, got)):
        err = (r - g).abs().max().item()
        scale = max(1.0, g.abs().max().item())
        assert err <= tol * scale, f"{name}: {what}[{i}] reference differs from torch by {err}"


def train(c, mods, head, x, lengths, target):
    """Returns (losses float64 (EPOCHS,), step-1 tensors, final tensors, stats)."""
    t, name = c["train"], c["name"]
    params = [p for _, p in gf.named_params(c, mods, head)]
    opt = make_optimizer(t, params)
    ref = Reference(t, params)
    losses, step1 = [], None
    stats = dict(norm_clipped=0, value_clipped=0, max_norm=0.0, min_norm=math.inf,
                 max_abs=0.0)
    for k in range(EPOCHS):
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = gg.compute_loss(c, mods, head, x, lengths, target)
            loss.backward()
        assert torch.isfinite(loss), f"{name}: non-finite loss at step {k + 1}"
        losses.append(loss.item())
        for p in params:  # every parameter takes part (Adam would skip grad=None ones)
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        raw = [p.grad.detach().clone() for p in params]
        stats["max_abs"] = max([stats["max_abs"]] + [g.abs().max().item() for g in raw])
        if t["clip_value"] is not None:
            if any((g.abs() > t["clip_value"]).any() for g in raw):
                stats["value_clipped"] += 1
            torch.nn.utils.clip_grad_value_(params, t["clip_value"])
        if t["clip_norm"] is not None:
            total = torch.nn.utils.clip_grad_norm_(params, t["clip_norm"], norm_type=2.0).item()
            stats["max_norm"] = max(stats["max_norm"], total)
            stats["min_norm"] = min(stats["min_norm"], total)
            if total > t["clip_norm"]:
                stats["norm_clipped"] += 1
        clipped = ref.clip(raw)
        assert_close(name, f"clipped grad step {k + 1}", clipped, [p.grad for p in params],
                     c["f64"])
        opt.step()
        ref.step([p.grad.detach() for p in params])
        assert_close(name, f"param step {k + 1}", ref.p, [p.detach() for p in params],
                     c["f64"])
        ref.p = [p.detach().clone() for p in params]  # re-sync: no drift across steps
        if k == 0:
            step1 = {n: v.detach().clone() for n, v in gf.state_tensors(c, mods, head).items()}
    final = {n: v.detach().clone() for n, v in gf.state_tensors(c, mods, head).items()}
    return np.array(losses, dtype=np.float64), step1, final, stats


def check_conditioning(c, mods, head, x, lengths, target, weights, losses, final, tol=1e-5):
    """A float32 fixture is only useful if float rounding does not decide its outcome
    (e.g. Adam turning a gradient at rounding-noise level into a full lr step): replay
    the training in float64 from the same start; it must agree to `tol` relative."""
    c64 = dict(c, f64=True)
    mods64 = [copy.deepcopy(m).double() for m in mods]
    head64 = copy.deepcopy(head).double() if head is not None else None
    with torch.no_grad():
        for n, p in gf.named_params(c64, mods64, head64):
            p.copy_(weights[n].double())
    t64 = target.double() if target.is_floating_point() else target
    losses64, _, final64, _ = train(c64, mods64, head64, x.double(), lengths, t64)
    err = max(((final64[n] - final[n].double()).abs().max() /
               max(1.0, final[n].abs().max().item())).item() for n in final)
    lerr = float(np.abs(losses64 - losses).max() / max(1.0, np.abs(losses).max()))
    assert err <= tol and lerr <= tol, \
        f"{c['name']}: ill-conditioned, float64 replay differs by {err:.2e} (weights), " \
        f"{lerr:.2e} (losses)"
    return max(err, lerr)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def generate(c):
    name, t = c["name"], c["train"]
    mods, head, x, lengths = gf.build(c)
    target = gg.make_target(c, lengths)
    weights = {n: v.detach().clone() for n, v in gf.state_tensors(c, mods, head).items()}
    assert list(weights) == [n for n, _ in gf.named_params(c, mods, head)], name

    losses, step1, final, stats = train(c, mods, head, x, lengths, target)

    stats["f64_replay"] = None if c["f64"] else \
        check_conditioning(c, mods, head, x, lengths, target, weights, losses, final)

    # The fixture must exercise what it claims to.
    if t["clip_norm"] is not None:
        assert stats["norm_clipped"] >= 1, \
            f"{name}: clip_grad_norm {t['clip_norm']} never clips (max norm {stats['max_norm']})"
    if t["clip_value"] is not None:
        assert stats["value_clipped"] >= 1, f"{name}: clip_grad_value never clips"
    moved = max((final[n] - weights[n]).abs().max().item() for n in weights)
    assert moved >= 0.02, f"{name}: weights barely move ({moved})"
    assert all(not torch.equal(step1[n], weights[n]) for n in weights), \
        f"{name}: a parameter is unchanged by step 1"
    assert losses[-1] < losses[0], f"{name}: loss does not decrease {losses}"
    for n in weights:
        assert final[n].shape == weights[n].shape and final[n].dtype == weights[n].dtype, n
        assert torch.isfinite(final[n]).all(), f"{name}: non-finite {n}"

    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "lengths.npy")):
        os.remove(os.path.join(d, "lengths.npy"))
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write(spec_text(c))
    save_file(weights, os.path.join(d, "weights.safetensors"))
    save_file(step1, os.path.join(d, "step1.safetensors"))
    save_file(final, os.path.join(d, "weights_after.safetensors"))
    np.save(os.path.join(d, "x.npy"), x.numpy())
    if lengths is not None:
        np.save(os.path.join(d, "lengths.npy"), lengths.numpy())
    np.save(os.path.join(d, "target.npy"), target.numpy())
    np.save(os.path.join(d, "losses.npy"), losses)
    return stats


def describe(c):
    t = c["train"]
    if t["optimizer"] == "sgd":
        o = f"sgd lr {t['lr']!r}"
        if t["momentum"]:
            o += f" momentum {t['momentum']!r}" + (" nesterov" if t["nesterov"] else "")
    else:
        o = f"{t['optimizer']} lr {t['lr']!r} betas ({t['betas'][0]!r}, {t['betas'][1]!r}) " \
            f"eps {t['eps']!r}"
    if t["weight_decay"]:
        o += f" weight_decay {t['weight_decay']!r}"
    nets = []
    for b in c["blocks"]:
        s = b["cell"]
        if b["cell"] == "rnn":
            s += f" {b['nl']}"
        if b["cell"] == "gru":
            s += f" reset {b['reset']}"
        if b["proj"]:
            s += f" proj {b['proj']}"
        s += f" H{b['hidden']} x{b['layers']}" + (" bi" if b["bi"] else "")
        if not b["bias"]:
            s += " nobias"
        if b["kernel"] != "auto":
            s += f" kernel {b['kernel']}"
        nets.append(s)
    net = " -> ".join(nets)
    if c["head"]:
        net += f" -> head {c['head']['input']} {c['head']['act']} {c['head']['out']}"
    shape = f"I{c['I']} B{c['B']} T{c['T']}" + ("" if c["bf"] else " time-major") + \
        (" lengths" if c["lengths"] else "") + (" float64" if c["f64"] else "")
    clip = []
    if t["clip_value"] is not None:
        clip.append(f"clip_grad_value {t['clip_value']!r}")
    if t["clip_norm"] is not None:
        clip.append(f"clip_grad_norm {t['clip_norm']!r}")
    return f"- `{c['name']}`: {o}; {net} ({shape}); {c['loss']}; " + \
        (" then ".join(clip) if clip else "no clipping")


README = """\
# Training test fixtures

Generated from PyTorch 1.13 (CPU, one thread, dropout 0, `torch.manual_seed(zlib.crc32(name))` per config) by
`tools/gen_train_fixtures.py`, which reuses the model construction and forward reference of
`tools/gen_fixtures.py` and the targets and loss of `tools/gen_grad_fixtures.py` (same weights, batch and
target for the same config name and network).
Regenerate with `/usr/bin/python3 tools/gen_train_fixtures.py` (deterministic: byte-identical output).

Each config trains a small network for 10 optimizer steps on ONE fixed batch: `batch_size` = B, `shuffle:
false`, `epochs: 10`, so every epoch is exactly one step on the whole batch, in the stored order.

Each `<config>/` (listed in `manifest.txt`) holds:

- `spec.yaml`: the spec as `gen_grad_fixtures.py` writes it (forward spec + `loss: <name>`), plus a last
  top-level `train:` block. Keys: `optimizer` (`sgd` | `adam` | `adamw`), `lr`, then for `sgd` `momentum`,
  `nesterov`, `weight_decay`, for `adam`/`adamw` `weight_decay`, `betas: [b1, b2]`, `eps`; always `batch_size`,
  `epochs`, `shuffle`; `clip_grad_norm` / `clip_grad_value` only when used; `seed` (always 1; nothing is
  random here since the weights and the batch are given). Floats are Python `repr()` (round-trip exact).
- `weights.safetensors`: the initial parameters (as in `tests/grad_fixtures`).
- `x.npy`, optional `lengths.npy` (int64), `target.npy`: the batch, as in `tests/grad_fixtures`.
- `losses.npy`: float64 (10,): the loss at step k with the weights before update k (computed in the model
  precision, then widened), so `losses[0]` is the loss of `weights.safetensors`.
- `step1.safetensors`: the parameters after the first update (for locating a mismatch).
- `weights_after.safetensors`: the parameters after all 10 updates. Same names, shapes and dtype as the weights.

Loss semantics: as in `tests/grad_fixtures/README.md` (cross_entropy on the head's logits, ignore -100, mean
over valid targets; mse on the final output and bce_with_logits on the logits, mean over valid elements).

One step (parameter set = every parameter of every block and of the head, all updated with the same
hyper-parameters; weight decay applies to biases too):

1. g = d loss / d p for every parameter (all parameters get a gradient).
2. If `clip_grad_value` = c: g = clamp(g, -c, c) elementwise (`torch.nn.utils.clip_grad_value_`).
3. If `clip_grad_norm` = m: total = sqrt(sum of g^2 over ALL parameters of all blocks and the head together,
   taken after step 2), g = g * min(1, m / (total + 1e-6)) (`torch.nn.utils.clip_grad_norm_`, norm_type 2;
   note the 1e-6 in the denominator). ORDER: when both are given, value clipping comes first, then norm
   clipping on the value-clipped gradients.
4. Update, with k = 1, 2, ... the step number and wd = `weight_decay`:
   - `sgd` (`torch.optim.SGD`, dampening 0): d = g + wd*p; with momentum mu != 0: buf = d at k = 1
     (no (1-dampening) factor), else buf = mu*buf + d; d = d + mu*buf if nesterov else buf; p = p - lr*d.
   - `adam` (`torch.optim.Adam`, amsgrad off, L2 decay folded into the gradient): g = g + wd*p;
     m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g (m = v = 0 initially);
     p = p - (lr / (1 - b1^k)) * m / (sqrt(v) / sqrt(1 - b2^k) + eps).
   - `adamw` (`torch.optim.AdamW`, decoupled decay): p = p*(1 - lr*wd) first, then the `adam` update with
     the undecayed g.

Self-checks at generation time: every step is replayed by an independent implementation of the formulas above
(clipped gradients and updated parameters must agree with PyTorch to 2e-6 relative in float32, 1e-12 in
float64); configs with `clip_grad_norm` must clip (pre-clip norm > max_norm) at least once and configs with
`clip_grad_value` must have a gradient entry beyond the value at least once; the weights must move (some entry
by >= 0.02), every parameter must change in step 1 and the last loss must be below the first; float32 configs
must be well-conditioned: the same 10 steps replayed in float64 from the same start agree with the float32
`losses.npy` and `weights_after.safetensors` to 1e-5 relative (max |diff| / max(1, max |w|) per tensor), so a
correct float32 implementation with different rounding should land within a few 1e-6 of these files.

Configs (optimizer; network (sizes); loss; clipping):

"""


def main():
    torch.set_num_threads(1)  # bit-for-bit reproducible reductions
    gf.check_manual_gru()
    names = [c["name"] for c in CONFIGS]
    assert len(set(names)) == len(names), "duplicate config names"
    os.makedirs(OUT_DIR, exist_ok=True)
    for c in CONFIGS:
        s, t = generate(c), c["train"]
        info = []
        if t["clip_value"] is not None:
            info.append(f"value-clipped at {s['value_clipped']}/{EPOCHS} steps "
                        f"(max |g| {s['max_abs']:.3g})")
        if t["clip_norm"] is not None:
            info.append(f"norm-clipped at {s['norm_clipped']}/{EPOCHS} steps "
                        f"(norms {s['min_norm']:.3g}..{s['max_norm']:.3g})")
        if s["f64_replay"] is not None:
            info.append(f"float64 replay within {s['f64_replay']:.1e}")
        print(f"{c['name']}" + (": " + ", ".join(info) if info else ""))
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write(README + "\n".join(describe(c) for c in CONFIGS) + "\n")
    print(f"wrote {len(names)} training fixtures to {os.path.normpath(OUT_DIR)}")


if __name__ == "__main__":
    main()
