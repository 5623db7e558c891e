#!/usr/bin/env python3
"""PyTorch's side of the benchmark (bench/run.py runs it beside rnnc): the same
configurations, at its best (inference_mode; the threads asked for; OpenBLAS told the CPU).
First it checks what BLAS serves it: a BLAS that is not OpenBLAS (Debian's libblas3 is the
reference BLAS), or an OpenBLAS core that is a fallback for this CPU, is reported on a
`skip` line and nothing is measured, so that run.py leaves the column out.
Prints CSV lines: contender,config,mode,median_us,flops (flops left to run.py), and
info,pytorch,<what BLAS and core>.
Usage: torch_bench.py [--clock cpu] [--rounds R] CONFIG...
       torch_bench.py e2e DIR EPOCHS     (the end-to-end training recipe; prints seconds)"""
import ctypes
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
CLOCK = time.perf_counter
ROUNDS = 5


def blas_check():
    """(problem or None, description): OpenBLAS with the core this CPU deserves, or why not."""
    maps = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "blas" in ln.lower()})
    ob = [m for m in maps if "openblas" in m]
    if not ob:
        names = ", ".join(os.path.basename(m) for m in maps) or "none loaded"
        return "BLAS is not OpenBLAS (%s): install libopenblas0-pthread" % names, names
    lib = ctypes.CDLL(ob[0])
    lib.openblas_get_corename.restype = ctypes.c_char_p
    core = lib.openblas_get_corename().decode()
    flags = open("/proc/cpuinfo").read()
    best = ({"SkylakeX", "Cooperlake", "SapphireRapids"} if "avx512f" in flags
            else {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})
    desc = "OpenBLAS %s, core %s" % (os.path.basename(ob[0]), core)
    if core not in best:
        return "OpenBLAS core %s is a fallback for this CPU (set OPENBLAS_CORETYPE)" % core, desc
    return None, desc


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def measure(fn, reps=200, budget=0.3, per=1):
    """Median over rounds of each round's median of fn()'s time / per, in microseconds."""
    fn()
    rounds = []
    for _ in range(ROUNDS):
        ts, start = [], CLOCK()
        while len(ts) < 3 or (len(ts) < reps and CLOCK() - start < budget):
            t = CLOCK()
            fn()
            ts.append((CLOCK() - t) / per)
        rounds.append(median(ts))
    return median(rounds) * 1e6


def module(cell, I, H, L, bi):
    kw = dict(num_layers=L, bidirectional=bi, batch_first=True)
    return {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, **kw)


def train_step_fn(m, head, x, y, lengths):
    opt = torch.optim.SGD(list(m.parameters()) + list(head.parameters()), lr=0.01)

    def step():
        opt.zero_grad()
        inp = x if lengths is None else pack_padded_sequence(x, lengths, batch_first=True,
                                                             enforce_sorted=False)
        _, state = m(inp)
        h = state[0] if isinstance(state, tuple) else state
        loss = nn.functional.cross_entropy(head(h[-1]), y)
        loss.backward()
        opt.step()
    return step


def bench(cid, tag):
    cell, I, H, L, bi, B, T, stream, train, packed = CONFIGS[cid]
    torch.manual_seed(0)
    m = module(cell, I, H, L, bi)
    x = torch.randn(B, T, I)
    if train:
        head = nn.Linear(H, 5)
        y = torch.randint(0, 5, (B,))
        lengths = torch.tensor([20 + (i * 37) % 81 for i in range(B)]) if packed else None
        print("%s,%s,train_step,%.2f," % (tag, cid, measure(train_step_fn(m, head, x, y, lengths),
                                                           reps=50, budget=1.0)))
        return
    m.eval()
    with torch.inference_mode():
        print("%s,%s,sequence,%.2f," % (tag, cid, measure(lambda: m(x))))
        if stream:
            xs = torch.randn(1, 1, I)
            box = [None]

            def hundred():
                for _ in range(100):
                    _, box[0] = m(xs, box[0])
            print("%s,%s,step,%.3f," % (tag, cid, measure(hundred, reps=100, per=100)))
    sys.stdout.flush()


def e2e(d, epochs):
    """The end-to-end recipe of run.py: T1's network on DIR/x.npy, y.npy, batch 32, SGD."""
    import numpy as np
    x = torch.from_numpy(np.load(os.path.join(d, "x.npy")))
    y = torch.from_numpy(np.load(os.path.join(d, "y.npy")))
    torch.manual_seed(0)
    m, head = module("lstm", 10, 64, 2, False), nn.Linear(64, 5)
    opt = torch.optim.SGD(list(m.parameters()) + list(head.parameters()), lr=0.01)
    for _ in range(epochs):
        for i in range(0, x.shape[0], 32):
            opt.zero_grad()
            _, (h, _) = m(x[i:i + 32])
            loss = nn.functional.cross_entropy(head(h[-1]), y[i:i + 32])
            loss.backward()
            opt.step()
    print("loss %.4f" % loss.item())


def main():
    global CLOCK, ROUNDS
    args = sys.argv[1:]
    threads = int(os.environ.get("RNNC_BENCH_THREADS", "1"))
    torch.set_num_threads(threads)
    problem, desc = blas_check()
    if args[:1] == ["e2e"]:
        if problem:
            sys.exit("torch_bench: " + problem)
        e2e(args[1], int(args[2]))
        return
    while args[:1] and args[0].startswith("--"):
        if args[0] == "--clock" and args[1] == "cpu" and threads == 1:
            CLOCK = time.thread_time
        elif args[0] == "--rounds":
            ROUNDS = max(1, int(args[1]))
        args = args[2:]
    tag = "pytorch" if threads == 1 else "pytorch-%dt" % threads
    print("info,%s,%s" % (tag, desc))
    if problem:
        print("skip,%s,%s" % (tag, problem))
        return
    for cid in args or list(CONFIGS):
        bench(cid, tag)


if __name__ == "__main__":
    main()
