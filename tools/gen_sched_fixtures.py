#!/usr/bin/env python3
"""Generate the learning-rate schedule fixtures of rnnc from PyTorch's schedulers.

Writes tests/sched_fixtures/:
  lrs.txt   one line per configuration: NAME;KEY=VALUE,...;METRICS;LRS where LRS are the
            learning rates of epochs 1..E as the optimizer sees them (param_groups[0]["lr"]
            during the epoch), METRICS the values given to ReduceLROnPlateau.step (plateau)
            or '-'; floats as repr() (round-trip exact)
  <fixture>__<sched>.safetensors
            the weights after 10 epochs of tests/train_fixtures/<fixture> (one step per
            epoch on its one batch) with the scheduler stepped after every epoch (plateau:
            on that epoch's training loss)
Schedulers: StepLR; CosineAnnealingLR, after LinearLR in a SequentialLR when there is a
warm-up (milestone = warmup_epochs); ReduceLROnPlateau(mode="min", threshold_mode="rel").

Usage: /usr/bin/python3 tools/gen_sched_fixtures.py   (deterministic output)
"""
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402
import gen_grad_fixtures as gg  # noqa: E402
import gen_train_fixtures as gt  # noqa: E402
from save_safetensors import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "sched_fixtures")
warnings.filterwarnings("ignore")  # SequentialLR's step(0) deprecation notice


def make_sched(opt, s, epochs):
    k = s["kind"]
    if k == "step":
        return torch.optim.lr_scheduler.StepLR(opt, s["step_size"], s.get("gamma", 0.1))
    if k == "cosine":
        w = s.get("warmup_epochs", 0)
        tmax = s.get("t_max", 0) or max(1, epochs - w)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, tmax, s.get("eta_min", 0.0))
        if not w:
            return cos
        lin = torch.optim.lr_scheduler.LinearLR(opt, s.get("warmup_factor", 1.0 / 3), 1.0, w)
        return torch.optim.lr_scheduler.SequentialLR(opt, [lin, cos], [w])
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=s.get("factor", 0.1), patience=s.get("patience", 10),
        threshold=s.get("threshold", 1e-4), threshold_mode="rel",
        cooldown=s.get("cooldown", 0), min_lr=s.get("min_lr", 0.0))


def lr_sequence(lr, s, epochs, metrics):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sch = make_sched(opt, s, epochs)
    out = []
    for e in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if s["kind"] == "plateau":
            sch.step(metrics[e])
        else:
            sch.step()
    return out


LR_CONFIGS = [
    ("step_3_half", 0.1, dict(kind="step", step_size=3, gamma=0.5), 12),
    ("step_1_default", 0.01, dict(kind="step", step_size=1), 6),
    ("step_4_third", 0.3, dict(kind="step", step_size=4, gamma=1 / 3), 20),
    ("cosine_10", 0.1, dict(kind="cosine"), 10),
    ("cosine_tmax4_cycles", 0.05, dict(kind="cosine", t_max=4, eta_min=0.001), 19),
    ("cosine_warmup3", 0.1, dict(kind="cosine", warmup_epochs=3), 15),
    ("cosine_warmup2_f01_eta", 0.2, dict(kind="cosine", warmup_epochs=2, warmup_factor=0.1,
                                         eta_min=0.01, t_max=5), 16),
    ("plateau_default", 0.1, dict(kind="plateau", patience=1), 14),
    ("plateau_cooldown", 0.1, dict(kind="plateau", patience=1, factor=0.5, cooldown=2,
                                   threshold=0.01, min_lr=0.004), 20),
]
# a loss that falls, stalls, rises and falls again: every branch of ReduceLROnPlateau
METRICS = [1.0, 0.9, 0.85, 0.86, 0.849, 0.86, 0.87, 0.8, 0.7999, 0.8, 0.81, 0.6, 0.6, 0.6,
           0.59, 0.7, 0.71, 0.72, 0.5, 0.5]


def fmt_cfg(lr, s, epochs):
    kv = [f"lr={lr!r}", f"epochs={epochs}"] + [f"{k}={v!r}" if not isinstance(v, str) else
                                               f"{k}={v}" for k, v in s.items()]
    return ",".join(kv)


# end to end: (train fixture, label, scheduler)
TRAIN_CONFIGS = [
    ("adam_gru_bi_l1_ce_seq_none", "step", dict(kind="step", step_size=3, gamma=0.5)),
    ("sgd_mom_lstm_l1_len_ce_last_softmax", "cosine",
     dict(kind="cosine", warmup_epochs=3, warmup_factor=0.25, eta_min=0.001)),
    ("sgd_rnn_tanh_l1_mse_none", "plateau",
     dict(kind="plateau", patience=0, factor=0.5, threshold=0.2)),
]


def train_with(name, s):
    c = next(c for c in gt.CONFIGS if c["name"] == name)
    t = c["train"]
    mods, head, x, lengths = gf.build(c)
    target = gg.make_target(c, lengths)
    params = [p for _, p in gf.named_params(c, mods, head)]
    opt = gt.make_optimizer(t, params)
    sch = make_sched(opt, s, gt.EPOCHS)
    lrs = []
    for _ in range(gt.EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = gg.compute_loss(c, mods, head, x, lengths, target)
            loss.backward()
        if t["clip_value"] is not None:
            torch.nn.utils.clip_grad_value_(params, t["clip_value"])
        if t["clip_norm"] is not None:
            torch.nn.utils.clip_grad_norm_(params, t["clip_norm"], norm_type=2.0)
        opt.step()
        if s["kind"] == "plateau":
            sch.step(loss.item())
        else:
            sch.step()
    assert len(set(lrs)) > 2, f"{name}: the schedule hardly changes the rate {lrs}"
    return {n: v.detach().clone() for n, v in gf.state_tensors(c, mods, head).items()}, lrs


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for name, lr, s, epochs in LR_CONFIGS:
        m = METRICS[:epochs]
        lrs = lr_sequence(lr, s, epochs, m)
        ms = " ".join(repr(v) for v in m) if s["kind"] == "plateau" else "-"
        lines.append(f"{name};{fmt_cfg(lr, s, epochs)};{ms};" +
                     " ".join(repr(v) for v in lrs))
        print(name, ["%.4g" % v for v in lrs])
    with open(os.path.join(OUT, "lrs.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(OUT, "train.txt"), "w") as f:
        for name, label, s in TRAIN_CONFIGS:
            final, lrs = train_with(name, s)
            save_file(final, os.path.join(OUT, f"{name}__{label}.safetensors"))
            f.write(f"{name};{label};{fmt_cfg(0, s, gt.EPOCHS).split(',', 2)[2]}\n")
            print(name, label, ["%.4g" % v for v in lrs])


if __name__ == "__main__":
    main()
