#!/usr/bin/env python3
"""Makes the bundled inputs of the README's first command: PyTorch weights for
specs/seq_classifier.yaml, a small variable-length batch, and PyTorch's own output for it.

Usage: /usr/bin/python3 tools/gen_examples.py   (writes examples/seq_classifier/)
"""
import os
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from save_safetensors import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                   "seq_classifier")


def main():
    torch.manual_seed(20261124)
    torch.set_num_threads(1)
    rnn = torch.nn.LSTM(10, 64, num_layers=2, batch_first=True, dropout=0.1).eval()
    head = torch.nn.Linear(64, 5).eval()
    x = torch.randn(3, 12, 10)
    lengths = torch.tensor([12, 7, 4], dtype=torch.int64)
    with torch.no_grad():
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = rnn(packed)
        y = torch.softmax(head(h_n[-1]), dim=-1)
    os.makedirs(OUT, exist_ok=True)
    state = {"rnn." + k: v for k, v in rnn.state_dict().items()}
    state.update({"head." + k: v for k, v in head.state_dict().items()})
    save_file(state, os.path.join(OUT, "weights.safetensors"))
    np.save(os.path.join(OUT, "x.npy"), x.numpy())
    np.save(os.path.join(OUT, "lengths.npy"), lengths.numpy())
    np.save(os.path.join(OUT, "y_pytorch.npy"), y.numpy())
    print("PyTorch's output:")
    print(y.numpy())


if __name__ == "__main__":
    main()
