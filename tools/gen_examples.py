#!/usr/bin/env python3
"""Makes the bundled data of every spec in specs/: PyTorch weights (named as the spec
says), a small input batch and PyTorch's output for it, into examples/<spec>/.

  weights.safetensors   the state_dict of every block and the head
  x.npy                 (B, T, I) or (T, B, I) as the spec's batch_first says
  lengths.npy           seq_classifier only: the README's first command uses lengths
  y_pytorch.npy         what PyTorch computes (for input: last, the head on h_n)

The networks are built with the helpers of tools/gen_fixtures.py, so reset: before GRUs
use its checked reference loop. Usage: /usr/bin/python3 tools/gen_examples.py
"""
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402
from save_safetensors import save_file  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The networks of specs/*.yaml, in gen_fixtures' terms (keep in step with the specs).
EXAMPLES = [
    gf.cfg("seq_classifier", 10, 3, 12, [gf.blk("lstm", 64, 2)],
           head=("last", "softmax", 5), lengths=True),
    gf.cfg("tagger", 8, 2, 16, [gf.blk("gru", 24, 2, True, name="encoder")],
           head=("sequence", "softmax", 4, "tag")),
    gf.cfg("channel_tracker", 2, 2, 32, [gf.blk("gru", 8, name="tracker")],
           head=("sequence", "none", 2, "out"), bf=False),
    gf.cfg("cho_gru", 6, 2, 10, [gf.blk("gru", 12, 2, name="gru", reset="before")],
           bf=False, f64=True),
    gf.cfg("projected_lstm", 16, 2, 9,
           [gf.blk("lstm", 48, 1, True, name="lstm", proj=16),
            gf.blk("rnn", 20, name="rnn", nl="relu", bias=False)]),
]


def generate(c):
    dtype = torch.float64 if c["f64"] else torch.float32
    torch.manual_seed(zlib.crc32(("example " + c["name"]).encode()))
    mods, in_size = [], c["I"]
    for b in c["blocks"]:
        mods.append(gf.make_block(b, in_size, dtype, c["bf"]))
        in_size = gf.block_out_size(b)
    head = None
    if c["head"]:
        head = nn.Linear(in_size, c["head"]["out"])
        gf.reinit_(head, 0.5)
        head = head.to(dtype).eval()
    B, T, I = c["B"], c["T"], c["I"]
    x = torch.randn((B, T, I) if c["bf"] else (T, B, I), dtype=dtype)
    lengths = torch.tensor([T, 7, 4][:B], dtype=torch.int64) if c["lengths"] else None
    with torch.no_grad():
        out = x
        for b, mod in zip(c["blocks"], mods):
            out, h_n, _ = gf.run_block(mod, b, out, lengths, c["bf"])
        y = out
        if head is not None:
            D = 2 if c["blocks"][-1]["bi"] else 1
            y = gf.run_head(head, c["head"], out, h_n, D, lengths, c["bf"])
    tensors = {}
    for b, mod in zip(c["blocks"], mods):
        for k, v in mod.state_dict().items():
            tensors[f"{b['name']}.{k}"] = v
    if head is not None:
        for k, v in head.state_dict().items():
            tensors[f"{c['head']['name']}.{k}"] = v
    d = os.path.join(ROOT, "examples", c["name"])
    os.makedirs(d, exist_ok=True)
    save_file(tensors, os.path.join(d, "weights.safetensors"))
    np.save(os.path.join(d, "x.npy"), x.numpy())
    if lengths is not None:
        np.save(os.path.join(d, "lengths.npy"), lengths.numpy())
    np.save(os.path.join(d, "y_pytorch.npy"), y.numpy())


def main():
    torch.set_num_threads(1)
    gf.check_manual_gru()
    for c in EXAMPLES:
        generate(c)
        print("wrote examples/" + c["name"])


if __name__ == "__main__":
    main()
