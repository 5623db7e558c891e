#!/usr/bin/env python3
"""The benchmark: rnnc (emitted files built with -O3 -march=native, the libtcc JIT, the
system-compiler JIT) beside PyTorch (when installed, at its best) and this machine's FMA peak,
in one run. Prints a table; writes build/bench/results.csv and build/bench/results.svg.

Usage: /usr/bin/python3 bench/run.py [CONFIG ...]   (after tools/setup.sh; default: all)
"""
import csv
import io
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
ORDER = ["S1", "S2", "S3", "S4", "M1", "L1", "T1", "T1p"]
TWO_THREADS = {"S4", "M1", "L1"}


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    return list(csv.reader(io.StringIO(r.stdout)))


def torch_env(threads):
    env = dict(os.environ)
    env.update(OPENBLAS_CORETYPE="SkylakeX", OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE",
               RNNC_BENCH_THREADS=str(threads))
    return env


def main():
    ids = sys.argv[1:] or ORDER
    os.makedirs(OUT, exist_ok=True)
    peak = float(run([os.path.join(BUILD, "rnnc-peak")])[0][1])
    rows = [r for r in run([os.path.join(BUILD, "rnnc-bench")] + ids)[1:] if r]
    have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                                capture_output=True).returncode == 0
    if have_torch:
        tb = os.path.join(ROOT, "bench", "torch_bench.py")
        rows += [r for r in run(["/usr/bin/python3", tb] + ids, torch_env(1)) if r]
        two = [i for i in ids if i in TWO_THREADS]
        if two:
            rows += [r for r in run(["/usr/bin/python3", tb] + two, torch_env(2)) if r]
    # (config, mode) -> {contender: us}; flops from rnnc's lines. Two threads are rows of
    # their own ("sequence-2t"): PyTorch on two threads against rnnc on two.
    table, flops = {}, {}
    for who, cid, mode, us, fl in rows:
        if who.endswith("-2t"):
            who, mode = who[:-3], mode + "-2t"
        table.setdefault((cid, mode), {})[who] = float(us)
        if fl:
            flops[(cid, mode)] = float(fl)
    who_cols = ["pytorch", "rnnc-gcc", "rnnc-cc", "rnnc-tcc"]
    lines = []
    hdr = ("%-4s %-11s" + " %12s" * 4 + " %9s %9s %7s") % (
        ("id", "mode") + tuple(w for w in who_cols) + ("speed-up", "GFLOP/s", "peak"))
    print("single-core FMA peak measured: %.1f GFLOP/s" % peak)
    print(hdr)
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config", "mode"] + [c + "_us" for c in who_cols] +
                   ["speedup_vs_pytorch", "gflops", "share_of_peak"])
        for cid in ids:
            for mode in ("sequence", "sequence-2t", "step", "train_step"):
                t = table.get((cid, mode))
                if not t or not any(k.startswith("rnnc") for k in t):
                    continue
                best = min(v for k, v in t.items() if k.startswith("rnnc"))
                ref = t.get("pytorch")
                sp = ref / best if ref else float("nan")
                gf = flops.get((cid, mode), 0) / best / 1e3 if best else 0
                pk = peak * (2 if mode.endswith("-2t") else 1)  # two cores: twice the peak
                cells = ["%12.1f" % t[c] if c in t else "%12s" % "-" for c in who_cols]
                print("%-4s %-11s %s %8.1fx %9.1f %6.0f%%" % (cid, mode, " ".join(cells), sp, gf,
                                                             100 * gf / pk))
                w.writerow([cid, mode] + [t.get(c, "") for c in who_cols] +
                           ["%.2f" % sp, "%.2f" % gf, "%.3f" % (gf / pk)])
                lines.append(("%s %s" % (cid, mode), sp))
    svg(lines, os.path.join(OUT, "results.svg"))
    print("wrote %s and %s" % (os.path.join(OUT, "results.csv"), os.path.join(OUT, "results.svg")))


def svg(bars, path):
    """A horizontal bar chart of rnnc's best speed-up over PyTorch, log scale."""
    import math
    w, bh, left = 640, 22, 130
    h = 40 + bh * len(bars)
    top = max([s for _, s in bars if s == s] + [10])
    scale = (w - left - 60) / math.log10(top * 1.5)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (w, h),
           '<text x="%d" y="18">rnnc speed-up over PyTorch (log scale; 1x = as fast)</text>'
           % left]
    for i, (label, s) in enumerate(bars):
        y = 30 + i * bh
        length = max(1.0, scale * math.log10(max(s, 1.0))) if s == s else 0
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + 14, label))
        out.append('<rect x="%d" y="%d" width="%.0f" height="%d" fill="#4a7ab5"/>'
                   % (left, y + 2, length, bh - 6))
        out.append('<text x="%.0f" y="%d">%s</text>' % (left + length + 4, y + 14,
                                                       "%.1fx" % s if s == s else "n/a"))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
