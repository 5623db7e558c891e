#!/usr/bin/env python3
"""PyTorch's side of the benchmark (bench/run.py runs it beside rnnc): the same
configurations, at its best (inference_mode; one thread unless asked; OpenBLAS told the CPU).
Prints CSV lines: contender,config,mode,median_us,flops (flops left to run.py)."""
import os
import sys
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

CONFIGS = {  # id: (cell, I, H, L, bidirectional, B, T, stream, train, packed)
    "S1": ("lstm", 10, 64, 2, False, 1, 100, True, False, False),
    "S2": ("gru", 10, 64, 1, False, 1, 100, True, False, False),
    "S3": ("rnn", 10, 64, 1, False, 1, 100, True, False, False),
    "S4": ("lstm", 10, 64, 1, True, 1, 100, False, False, False),
    "M1": ("lstm", 128, 256, 2, False, 32, 100, False, False, False),
    "L1": ("lstm", 512, 512, 1, False, 64, 100, False, False, False),
    "T1": ("lstm", 10, 64, 2, False, 32, 100, False, True, False),
    "T1p": ("lstm", 10, 64, 2, False, 32, 100, False, True, True),
}


def median(fn, warm=3, reps=200, budget=3.0):
    for _ in range(warm):
        fn()
    ts, start = [], time.perf_counter()
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and len(ts) >= 5:
            break
    ts.sort()
    return ts[len(ts) // 2] * 1e6


def module(cell, I, H, L, bi):
    kw = dict(num_layers=L, bidirectional=bi, batch_first=True)
    return {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, **kw)


def bench(cid, threads):
    cell, I, H, L, bi, B, T, stream, train, packed = CONFIGS[cid]
    torch.manual_seed(0)
    m = module(cell, I, H, L, bi)
    tag = "pytorch" if threads == 1 else "pytorch-%dt" % threads
    x = torch.randn(B, T, I)
    if train:
        head = nn.Linear(H, 5)
        opt = torch.optim.SGD(list(m.parameters()) + list(head.parameters()), lr=0.01)
        y = torch.randint(0, 5, (B,))
        lengths = torch.tensor([20 + (i * 37) % 81 for i in range(B)]) if packed else None

        def step():
            opt.zero_grad()
            inp = x if lengths is None else pack_padded_sequence(x, lengths, batch_first=True,
                                                                 enforce_sorted=False)
            _, state = m(inp)
            h = state[0] if isinstance(state, tuple) else state
            loss = nn.functional.cross_entropy(head(h[-1]), y)
            loss.backward()
            opt.step()
        print("%s,%s,train_step,%.2f," % (tag, cid, median(step, reps=50)))
        return
    m.eval()
    with torch.inference_mode():
        print("%s,%s,sequence,%.2f," % (tag, cid, median(lambda: m(x))))
        if stream:
            xs = torch.randn(1, 1, I)
            box = [None]

            def one():
                _, box[0] = m(xs, box[0])
            print("%s,%s,step,%.3f," % (tag, cid, median(one, warm=100, reps=5000)))
    sys.stdout.flush()


def main():
    threads = int(os.environ.get("RNNC_BENCH_THREADS", "1"))
    torch.set_num_threads(threads)
    ids = sys.argv[1:] or list(CONFIGS)
    for cid in ids:
        bench(cid, threads)


if __name__ == "__main__":
    main()
