#!/usr/bin/env python3
"""Data-parallel training speed: sequences per second of `rnnc train` (--jit cc) on one
process, on --threads 2 and on `mpirun -np 2`, the same data and model (bench/scale.yaml:
LSTM(16, 128) + Linear(128, 8), 2048 sequences of lengths 20..100, batches of 64); the time
of the exchange per megabyte (build/rnnc-allreduce); the communication share of a step; and
a projection to 8 and 64 machines (the model is in the README, "Training across machines").

Usage: /usr/bin/python3 bench/scale.py [REPEATS]   (after tools/setup.sh; default 3)
Throughput counts epochs 2.. only (from the CSV log's wall_time): no compile, no start-up.
"""
import csv
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench", "scale")
RNNC = os.path.join(BUILD, "rnnc")
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
N, I, T, CLASSES, EPOCHS = 2048, 16, 100, 8, 4
NPARAMS = 4 * 128 * (16 + 128 + 2) + 8 * 128 + 8


def make_data():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1)
    lengths = rng.integers(20, T + 1, N).astype(np.int64)
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    y = rng.integers(0, CLASSES, N).astype(np.int64)
    for k in range(N):
        x[k, lengths[k]:] = 0
        x[k, :lengths[k], y[k] % I] += 1.0  # something to learn
    np.save(os.path.join(OUT, "x.npy"), x)
    np.save(os.path.join(OUT, "y.npy"), y)
    np.save(os.path.join(OUT, "lengths.npy"), lengths)


def train(prefix, extra, tag):
    """(sequences/s over epochs 2.., seconds a step, share of the time in exchanges)"""
    log = os.path.join(OUT, f"{tag}.csv")
    cmd = prefix + [RNNC, "train", os.path.join(ROOT, "bench", "scale.yaml"),
                    "--input", "x.npy", "--target", "y.npy", "--lengths", "lengths.npy",
                    "--save", f"{tag}.st", "--jit", "cc", "--epochs", str(EPOCHS),
                    "--log", log] + extra
    r = subprocess.run(cmd, cwd=OUT, check=True, capture_output=True, text=True)
    m = re.search(r"\(([0-9.]+) %\) in exchanges", r.stdout)
    with open(log) as f:
        rows = list(csv.DictReader(f))
    t = [float(r["wall_time"]) for r in rows]
    span = t[-1] - t[0]
    return N * (EPOCHS - 1) / span, span / ((EPOCHS - 1) * (N // 64)), \
        float(m.group(1)) / 100 if m else 0.0


def allreduce():
    r = subprocess.run(MPIRUN + ["-np", "2", os.path.join(BUILD, "rnnc-allreduce")],
                       capture_output=True, text=True, check=True)
    return [tuple(map(float, line.split(","))) for line in r.stdout.split()[1:]]


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    make_data()
    best = {}
    for _ in range(reps):  # interleaved, best of each: the machine is shared and noisy
        for tag, prefix, extra in [("one", [], []), ("threads2", [], ["--threads", "2"]),
                                   ("mpi2", MPIRUN + ["-np", "2"], [])]:
            got = train(prefix, extra, tag)
            if tag not in best or got[0] > best[tag][0]:
                best[tag] = got
    ar = min((allreduce() for _ in range(reps)), key=lambda rows: sum(us for _, us in rows))
    per_mb = min(us / (b / 2**20) for b, us in ar if b >= 1 << 18)
    lat = min(us for _, us in ar)
    grad_mb = (NPARAMS + 6) * 8 / 2**20
    one, thr, two = best["one"][0], best["threads2"][0], best["mpi2"][0]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"sequences/s: one process {one:.0f}; --threads 2 {thr:.0f} ({thr / one:.2f}x); "
          f"mpirun -np 2 {two:.0f} ({two / one:.2f}x)")
    print("exchange on 2 ranks (us): " +
          ", ".join(f"{int(b) // 1024} KB {us:.0f}" for b, us in ar))
    print(f"exchange: {per_mb:.0f} us per MB (best of the sizes >= 256 KB), "
          f"{lat:.1f} us the smallest")
    t1 = best["one"][1] * 1e6
    step2 = best["mpi2"][1] * 1e6
    t_grad = grad_mb * per_mb + 3 * lat  # the gradient, the counts and the flags of a step
    print(f"step of 64: one process {t1:.0f} us; 2 ranks {step2:.0f} us, "
          f"{100 * best['mpi2'][2]:.1f} % in exchanges (waits included)")
    print(f"gradient: {NPARAMS} parameters, {grad_mb:.2f} MB as doubles: {t_grad:.0f} us "
          f"at the measured rate = {100 * t_grad / step2:.1f} % of the 2-rank step")
    print("projection (README, Training across machines):")
    for P in (2, 8, 64):
        comm = 2 * (P - 1) / P * grad_mb * per_mb + (2 * (P - 1) + 2) * lat
        strong = t1 / (t1 / P + comm)
        print(f"  P={P:2d}: exchange {comm:4.0f} us; batch 64 split: {strong:5.2f}x, "
              f"{100 * comm / (t1 / P + comm):4.1f} % exchange; 64 a rank: "
              f"{100 * t1 / (t1 + comm):5.1f} % efficient")


if __name__ == "__main__":
    main()
