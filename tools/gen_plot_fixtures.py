#!/usr/bin/env python3
"""Generate the fixtures of rnnc plot's numbers from PyTorch.

For every configuration below this writes tests/plot_fixtures/<config>/ with
  spec.yaml            the rnnc spec (tools/gen_fixtures.py's spec_yaml), batch_first
  weights.safetensors  the block and head parameters, as tools/gen_fixtures.py names them
  x.npy                one sequence, (1, T, I)
  gates_<i>.npy        layer-direction i's gate activations, (T, G*H) in PyTorch's order
                       (rnn: its activation h, what rnnc's cache keeps), from the cell
                       equations written out below and checked against nn.RNN/LSTM/GRU
  h_<i>.npy            its output h_t at every step, (T, Hr)
  c_<i>.npy            an LSTM's cell state c_t, (T, H)
  grad_h.npy           unidirectional specs: |dL/dh_t| for t = 0..T-1, (T,) float64, from
                       autograd: L = the sum of the model's outputs (the head's logits) at the
                       last step, h_t the first layer's hidden state after t steps (h_0 the
                       zero initial state)
  grad_c.npy           the same for an LSTM's first layer's cell state
and tests/plot_fixtures/manifest.txt. Layer-directions are numbered as rnnc numbers them:
block by block, layer by layer, forward then reverse.

Usage: /usr/bin/python3 tools/gen_plot_fixtures.py
"""
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402
from gen_fixtures import blk  # noqa: E402
from save_safetensors import save_file  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                       "plot_fixtures")

CONFIGS = [
    # small layers (unrolled kernels) and larger ones (the batched loop kernels)
    gf.cfg("plot_rnn_tanh", 3, 1, 12, [blk("rnn", 6)]),
    gf.cfg("plot_rnn_relu_loop", 2, 1, 20, [blk("rnn", 24, nl="relu")],
           head=("last", "none", 3)),
    gf.cfg("plot_lstm_adding", 2, 1, 30, [blk("lstm", 32)], head=("last", "none", 1)),
    gf.cfg("plot_lstm_l2", 4, 1, 10, [blk("lstm", 5, 2)]),
    gf.cfg("plot_gru_l2_seq", 3, 1, 15, [blk("gru", 20, 2)], head=("sequence", "softmax", 2)),
    gf.cfg("plot_gru_bi", 3, 1, 7, [blk("gru", 4, 1, True)]),
    gf.cfg("plot_lstm_proj_bi", 2, 1, 8, [blk("lstm", 6, 1, True, proj=3)],
           head=("last", "none", 2)),
]


def layer_manual(cell, p, sfx, inp, nl, H, P, reverse):
    """One layer-direction over inp (T, I): returns gates (T, G*H), h (T, Hr), c or None."""
    T = inp.shape[0]
    w_ih, w_hh = p["weight_ih" + sfx], p["weight_hh" + sfx]
    b_ih = p.get("bias_ih" + sfx, torch.zeros(w_ih.shape[0], dtype=inp.dtype))
    b_hh = p.get("bias_hh" + sfx, torch.zeros(w_hh.shape[0], dtype=inp.dtype))
    Hr = P or H
    h = inp.new_zeros(Hr)
    c = inp.new_zeros(H)
    gates, hs, cs = [None] * T, [None] * T, [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        gx, gh = w_ih @ inp[t] + b_ih, w_hh @ h + b_hh
        if cell == "rnn":
            h = torch.tanh(gx + gh) if nl == "tanh" else torch.relu(gx + gh)
            gates[t] = h
        elif cell == "lstm":
            z = gx + gh
            i, f, g, o = (torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]),
                          torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:]))
            c = f * c + i * g
            m = o * torch.tanh(c)
            h = p["weight_hr" + sfx] @ m if P else m
            gates[t], cs[t] = torch.cat([i, f, g, o]), c
        else:
            r = torch.sigmoid(gx[:H] + gh[:H])
            z = torch.sigmoid(gx[H:2 * H] + gh[H:2 * H])
            n = torch.tanh(gx[2 * H:] + r * gh[2 * H:])
            h = (1 - z) * n + z * h
            gates[t] = torch.cat([r, z, n])
        hs[t] = h
    return (torch.stack(gates), torch.stack(hs),
            torch.stack(cs) if cell == "lstm" else None)


def trace(c, mods, x):
    """Every layer-direction's gates, h and c on x (1, T, I), in rnnc's numbering."""
    out, inp = [], x[0]
    for b, mod in zip(c["blocks"], mods):
        p = dict(mod.named_parameters())
        for layer in range(b["layers"]):
            outs = []
            for d in range(2 if b["bi"] else 1):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                g, h, cc = layer_manual(b["cell"], p, sfx, inp, b["nl"], b["hidden"], b["proj"],
                                        d == 1)
                out.append((g, h, cc))
                outs.append(h)
            inp = torch.cat(outs, 1)
    return out, inp


def grad_norms(c, mods, head, x):
    """|dL/dh_t| (and |dL/dc_t|) of the first layer, t = 0..T-1, stepping the modules."""
    T = x.shape[1]
    states, prev_out = [], None
    st = []
    for b in c["blocks"]:
        L, H = b["layers"], b["proj"] or b["hidden"]
        h0 = torch.zeros(L, 1, H, dtype=x.dtype, requires_grad=True)
        if b["cell"] == "lstm":
            st.append((h0, torch.zeros(L, 1, b["hidden"], dtype=x.dtype, requires_grad=True)))
        else:
            st.append(h0)
    for t in range(T):
        states.append(st[0])
        inp, nst = x[:, t:t + 1], []
        for b, mod, s in zip(c["blocks"], mods, st):
            inp, s2 = mod(inp, s)
            if b["cell"] == "lstm":
                s2[0].retain_grad()
                s2[1].retain_grad()
            else:
                s2.retain_grad()
            nst.append(s2)
        st, prev_out = nst, inp
    top = st[-1][0] if c["blocks"][-1]["cell"] == "lstm" else st[-1]
    if head is None:
        loss = prev_out[0, -1].sum()
    elif c["head"]["input"] == "last":
        loss = head(top[-1, 0]).sum()
    else:
        loss = head(prev_out[0, -1]).sum()
    loss.backward()
    gh, gc = [], []
    for s in states:
        if c["blocks"][0]["cell"] == "lstm":
            gh.append(s[0].grad[0, 0].norm().item())
            gc.append(s[1].grad[0, 0].norm().item())
        else:
            gh.append(s.grad[0, 0].norm().item())
    return np.array(gh), (np.array(gc) if gc else None)


def generate(c):
    mods, head, x, _ = gf.build(c)
    d = os.path.join(OUT_DIR, c["name"])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with torch.no_grad():
        layers, top = trace(c, mods, x)
        ref, _, _, _, _ = gf.forward(c, mods, head, x, None)
    err = (top - ref[0]).abs().max().item()
    assert err < 1e-5, f"{c['name']}: written-out cells differ from PyTorch's by {err}"
    with open(os.path.join(d, "spec.yaml"), "w") as f:
        f.write(gf.spec_yaml(c).replace("tools/gen_fixtures.py", "tools/gen_plot_fixtures.py"))
    save_file(gf.state_tensors(c, mods, head), os.path.join(d, "weights.safetensors"))
    np.save(os.path.join(d, "x.npy"), x.numpy())
    for i, (g, h, cc) in enumerate(layers):
        np.save(os.path.join(d, f"gates_{i}.npy"), g.numpy())
        np.save(os.path.join(d, f"h_{i}.npy"), h.numpy())
        if cc is not None:
            np.save(os.path.join(d, f"c_{i}.npy"), cc.numpy())
    if not any(b["bi"] for b in c["blocks"]):
        gh, gc = grad_norms(c, mods, head, x)
        np.save(os.path.join(d, "grad_h.npy"), gh)
        if gc is not None:
            np.save(os.path.join(d, "grad_c.npy"), gc)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    for c in CONFIGS:
        generate(c)
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("".join(c["name"] + "\n" for c in CONFIGS))
    print(f"wrote {len(CONFIGS)} configurations to {os.path.normpath(OUT_DIR)}")


if __name__ == "__main__":
    main()
