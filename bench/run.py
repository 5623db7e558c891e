#!/usr/bin/env python3
"""The benchmark: rnnc beside oneDNN (inside rnnc-bench), PyTorch (torch_bench.py, on
OpenBLAS or not at all) and RTNeural (rtneural-bench, its fastest backend), every process
pinned (one thread: core 1; two threads: cores 0-1), the contenders interleaved within
each process and the processes in rounds, medians throughout; the FMA peak timed in the
same rounds. Prints the table (ratio to each contender, share of the peak), the
end-to-end training recipe and spec-to-first-result; writes build/bench/results.csv and
results.svg. Run bench/setup.sh first.

Usage: /usr/bin/python3 bench/run.py [--rounds R] [--clock cpu|wall] [--e2e-dir DIR]
                                    [--e2e-rounds E] [CONFIG ...]
  --clock cpu   one-thread rows timed by the thread's CPU clock (a shared machine's other
                jobs then cost a contender nothing but caches); two-thread rows always wall.
  --e2e-dir DIR the end-to-end row's spec and data in DIR (made, not removed), to rerun its
                commands (printed with the row); else a new directory under /tmp.
  --e2e-rounds E  runs of each end-to-end command (default R): that row is a wall clock of
                unpinned processes, the VM's neighbours move single runs by a third, and
                its runs are cheap beside the table's.
"""
import csv
import glob
import io
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
ORDER = ["S1", "S2", "S3", "S4", "M1", "L1", "T1", "T1p"]
TWO = ["S4", "M1", "L1", "T1", "T1p"]
STREAM = {"S1", "S2"}  # RTNeural's configurations


def run(cmd, env=None, cpus="1"):
    full = ["taskset", "-c", cpus] + cmd
    r = subprocess.run(full, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write("bench: %s failed:\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return list(csv.reader(io.StringIO(r.stdout)))


def env_threads(n, wait="PASSIVE"):
    env = dict(os.environ)
    env["RNNC_CACHE_DIR"] = os.path.join(OUT, "cache")  # rnnc-bench's builds, once a run
    avx512 = "avx512f" in open("/proc/cpuinfo").read()
    env.update(OPENBLAS_NUM_THREADS=str(n), OMP_NUM_THREADS=str(n), OMP_WAIT_POLICY=wait,
               RNNC_BENCH_THREADS=str(n))
    if avx512:
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    return env


def machine():
    info = open("/proc/cpuinfo").read().splitlines()
    get = lambda k: next((l.split(":", 1)[1].strip() for l in info if l.startswith(k)), "?")
    return "%s (family %s model %s), %d cores, %s" % (
        get("model name"), get("cpu family"), get("model"), os.cpu_count(),
        "AVX-512" if "avx512f" in get("flags") else "AVX2")


class Table:
    def __init__(self):
        self.t = {}      # (cid, mode) -> who -> [us per round]
        self.flops = {}  # (cid, mode) -> flops of the rnnc row
        self.peak = {}   # (cid, mode) -> [peak GFLOP/s per round]
        self.bytes = {}  # (cid, "step") -> bytes of weights the bound reads
        self.checks = {}  # (who, cid) -> (diff, ok)
        self.notes = []

    def add(self, rows, two=False):
        for r in rows:
            if not r or r[0] == "contender":
                continue
            if r[0] == "info":
                note = "%s: %s" % (r[1], ",".join(r[2:]))
                if note not in self.notes:
                    self.notes.append(note)
                continue
            if r[0] == "skip":
                note = "%s left out: %s" % (r[1], ",".join(r[2:]))
                if note not in self.notes:
                    self.notes.append(note)
                continue
            if r[0] == "check":  # each backend on its own: one that fails is left out
                who = r[1].replace("rtneural-", "rtneural:")
                self.checks[(who.split("-")[0], r[2])] = (r[3], r[4])
                continue
            who, cid, mode, us = r[0], r[1], r[2], float(r[3])
            if who.endswith("-2t"):
                who = who[:-3]
            if two and not mode.endswith("-2t"):
                mode += "-2t"
            key = (cid, mode)
            if who == "peak":
                self.peak.setdefault(key, []).append(float(r[4]) / us / 1e3)
                continue
            if who.startswith("rtneural-"):
                who = "rtneural:" + who.split("-", 1)[1]
            self.t.setdefault(key, {}).setdefault(who, []).append(us)
            if who == "rnnc" and r[4]:
                self.flops[key] = float(r[4])
            if who == "bound":
                self.bytes[key] = float(r[4])


def med(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def rounds(tab, ids, n, inner, clock):
    rtn = sorted(glob.glob(os.path.join(OUT, "rtneural-bench-*")))
    if not rtn and any(c in STREAM for c in ids):  # said, not silently an empty column
        tab.notes.append("rtneural left out: no rtneural-bench-* in %s (bench/setup.sh builds "
                         "them; RTNEURAL_DIR names a checkout where GitHub is out of reach)" % OUT)
    dump = tempfile.mkdtemp(prefix="rnnc-bench-dump-")
    tb = os.path.join(ROOT, "bench", "torch_bench.py")
    common = ["--rounds", str(inner), "--clock", clock]
    for k in range(n):
        print("round %d of %d" % (k + 1, n), file=sys.stderr)
        for cid in ids:
            tab.add(run([os.path.join(BUILD, "rnnc-bench")] + common + ["--dump", dump, cid],
                        env_threads(1)))
            tab.add(run(["/usr/bin/python3", tb] + common + [cid], env_threads(1)))
            if cid in STREAM:
                for exe in rtn:
                    tab.add(run([exe, dump] + common + ["--backend", exe.rsplit("-", 1)[1]]))
        two = [c for c in ids if c in TWO]
        for cid in two:
            # each in a process of its own, at its best on two threads: oneDNN with OpenMP's
            # threads spinning between its parallel regions (OMP_WAIT_POLICY=ACTIVE: S4, M1,
            # L1, T1 and T1p all faster than with them sleeping, S4 4x, T1 4x), PyTorch with
            # them sleeping (its OpenBLAS threads then have the cores: M1 2.2x faster)
            wall = ["--rounds", str(inner)]
            bench2 = [os.path.join(BUILD, "rnnc-bench"), "--threads", "2"] + wall
            tab.add(run(bench2 + ["--only", "rnnc", cid], env_threads(2), "0,1"), True)
            tab.add(run(bench2 + ["--only", "onednn", cid], env_threads(2, "ACTIVE"), "0,1"),
                    True)
            tab.add(run(["/usr/bin/python3", tb] + wall + [cid], env_threads(2), "0,1"), True)


def e2e(tab, rounds, epochs=2, n=2048, d=None):
    """`rnnc train` with no --jit flag and an empty cache, compile included, against PyTorch
    on the same recipe; both as the processes a user starts, wall clock, not pinned: the
    machine's two cores are there for either (PyTorch's own threads; rnnc's background
    build of the system compiler's code). `rounds` runs of each, interleaved; medians."""
    if d:
        os.makedirs(d, exist_ok=True)
        subprocess.run(["rm", "-rf", d + "/cold", d + "/warm"])
    else:
        d = tempfile.mkdtemp(prefix="rnnc-e2e-")
    code = ("import numpy as np; r = np.random.RandomState(0); "
            "np.save('%s/x.npy', r.randn(%d, 100, 10).astype(np.float32)); "
            "np.save('%s/y.npy', (np.arange(%d) %% 5).astype(np.int64))" % (d, n, d, n))
    subprocess.run(["/usr/bin/python3", "-c", code], check=True)
    spec = os.path.join(d, "t1.yaml")
    with open(spec, "w") as f:
        f.write("name: t1\ninput_size: 10\nbatch_first: true\nlayers:\n  - name: rnn\n"
                "    cell: lstm\n    hidden_size: 64\n    num_layers: 2\nhead:\n"
                "  out_features: 5\n  input: last\nloss: cross_entropy\ntrain:\n"
                "  optimizer: sgd\n  lr: 0.01\n  batch_size: 32\n  epochs: %d\n"
                "  shuffle: false\n" % epochs)
    rnnc = os.path.join(BUILD, "rnnc")
    args = [rnnc, "train", spec, "--input", d + "/x.npy", "--target", d + "/y.npy", "--save",
            d + "/w.safetensors"]
    runs = {}
    for k in range(rounds):
        for who, cmd, cache in (("rnnc (default)", args, d + "/cold"),
                                ("rnnc --jit cc (cached)", args + ["--jit", "cc"], d + "/warm"),
                                ("pytorch", ["/usr/bin/python3", os.path.join(ROOT, "bench",
                                             "torch_bench.py"), "e2e", d, str(epochs)], None)):
            env = env_threads(os.cpu_count())
            env.pop("RNNC_CACHE_DIR")
            if cache:
                env["RNNC_CACHE_DIR"] = cache
            if who == "rnnc (default)":  # an empty cache every time
                subprocess.run(["rm", "-rf", cache])
            if who.startswith("rnnc --jit cc") and k == 0:  # warm: build once, untimed
                subprocess.run(cmd, env=env, capture_output=True)
            t0 = time.monotonic()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            runs.setdefault(who, []).append(time.monotonic() - t0 if r.returncode == 0 else None)
            if r.returncode != 0:
                sys.stderr.write("bench: e2e %s failed: %s\n" % (who, r.stderr[-1000:]))
            if who == "rnnc (default)":  # its background build lands before the next run
                for _ in range(600):
                    if any(not os.path.basename(f).startswith("build.")
                           for f in glob.glob(cache + "/*.so")):
                        break
                    time.sleep(0.1)
    out = {who: (None if None in v else med(v), v) for who, v in runs.items()}
    return out, "T1's network and recipe (SGD, batch 32) on %d sequences of 100 steps, " \
                "%d epochs, no --jit flag, empty cache; processes not pinned; %d runs of each, " \
                "interleaved, medians\n  data: %s (RNNC_CACHE_DIR=%s/cold %s)" % (
                    n, epochs, rounds, d, d, " ".join(args))


COLS = [("onednn", "oneDNN"), ("pytorch", "PyTorch"), ("rtneural", "RTNeural")]


def fmt(us):
    return "%10.1f" % us if us >= 10 else "%10.3f" % us


def render(tab, ids):
    lines, rows = [], []
    hdr = "%-4s %-11s %10s %10s %10s %10s %8s %8s %8s %8s %6s" % (
        "id", "mode", "rnnc us", "oneDNN", "PyTorch", "RTNeural", "x oneDNN", "x PyTorch",
        "x RTNeur", "GFLOP/s", "peak")
    lines.append(hdr)
    for cid in ids:
        for mode in ("sequence", "sequence-2t", "step", "train_step", "train_step-2t"):
            t = tab.t.get((cid, mode))
            if not t or "rnnc" not in t:
                continue
            mine = med(t["rnnc"])
            cells, ratios, rec = [], [], {"config": cid, "mode": mode, "rnnc_us": mine}
            for who, name in COLS:
                cand = {k: v for k, v in t.items() if k == who or k.startswith(who + ":")}
                good = {k: v for k, v in cand.items()
                        if tab.checks.get((k, cid), ("", "ok"))[1] == "ok"}
                ok = not cand or bool(good)
                cand = good
                if cand:
                    best = min(cand, key=lambda k: med(cand[k]))
                    us = med(cand[best])
                    cells.append(fmt(us))
                    ratios.append("%7.2fx" % (us / mine))
                    rec[who + "_us"], rec["x_" + who] = us, us / mine
                    if ":" in best:
                        rec[who + "_backend"] = best.split(":")[1]
                else:
                    cells.append("%10s" % ("-" if ok else "bad"))
                    ratios.append("%8s" % "-")
            fl = tab.flops.get((cid, mode), 0)
            gf = fl / mine / 1e3 if fl else 0
            pk = med(tab.peak[(cid, mode)]) if (cid, mode) in tab.peak else 0
            pk *= 2 if mode.endswith("-2t") else 1
            share = "%5.0f%%" % (100 * gf / pk) if pk and gf else "%6s" % "-"
            rec.update(gflops=gf, peak_gflops=pk, share=gf / pk if pk else 0)
            lines.append("%-4s %-11s %s %s %s %8.1f %s" % (
                cid, mode, fmt(mine), " ".join(cells), " ".join(ratios), gf, share))
            rows.append(rec)
            if "bound" in t:
                b = med(t["bound"])
                rec.update(bound_us=b)
                lines.append("%-4s step bound: reading its %.0f KB of weights once, alone (bench/"
                             "fma.c's stream_read), takes %.3f us; the step %.2fx that" % (
                                 cid, tab.bytes[(cid, mode)] / 1024, b, mine / b))
        first = tab.t.get((cid, "first-cold"))
        if first:
            lines.append("%-4s spec to first result (--jit auto): %.1f ms with an empty cache, "
                         "%.1f ms cached" % (cid, med(first["rnnc"]) / 1e3,
                                            med(tab.t[(cid, "first-warm")]["rnnc"]) / 1e3))
    return lines, rows


def svg(rows, path):
    """Bars of rnnc's speed-up over each contender (log scale)."""
    import math
    bars = [("%s %s vs %s" % (r["config"], r["mode"], w), r["x_" + w]) for r in rows
            for w, _ in COLS if "x_" + w in r]
    w, bh, left = 720, 20, 230
    h = 40 + bh * len(bars)
    top = max([s for _, s in bars] + [10])
    scale = (w - left - 60) / math.log10(top * 1.5)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (w, h),
           '<text x="%d" y="18">rnnc speed-up over each contender (log scale; the line: '
           'as fast)</text>' % left,
           '<line x1="%d" y1="24" x2="%d" y2="%d" stroke="#888"/>' % (left, left, h)]
    for i, (label, s) in enumerate(bars):
        y = 30 + i * bh
        x0 = left + min(0.0, scale * math.log10(s))
        length = abs(scale * math.log10(s))
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + 13, label))
        out.append('<rect x="%.0f" y="%d" width="%.0f" height="%d" fill="%s"/>' % (
            x0, y + 2, max(1.0, length), bh - 6, "#4a7ab5" if s >= 1 else "#c0504d"))
        out.append('<text x="%.0f" y="%d">%.2fx</text>' % (left + max(0.0, scale *
                                                                      math.log10(s)) + 4,
                                                           y + 13, s))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    args = sys.argv[1:]
    n, clock, e2e_dir, e2e_n = 3, "wall", None, None
    while args[:1] and args[0].startswith("--"):
        if args[0] == "--rounds":
            n = max(1, int(args[1]))
        elif args[0] == "--clock":
            clock = args[1]
        elif args[0] == "--e2e-dir":
            e2e_dir = os.path.abspath(args[1])
        elif args[0] == "--e2e-rounds":
            e2e_n = max(1, int(args[1]))
        else:
            sys.exit("bench/run.py: unknown option %s (see the usage at the top)" % args[0])
        args = args[2:]
    ids = args or ORDER
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["rm", "-rf", os.path.join(OUT, "cache")])
    tab = Table()
    rounds(tab, ids, n, 3, clock)
    lines, rows = render(tab, ids)
    print("machine: %s, %s" % (machine(), platform.platform()))
    print("clock: %s (one thread, core 1); two-thread rows: wall clock, cores 0-1; "
          "%d rounds of processes x 3 rounds inside each, medians" % (clock, n))
    for note in tab.notes:
        print("  " + note)
    for (who, cid), (diff, ok) in sorted(tab.checks.items()):
        print("  check %s %s against rnnc: max difference %s, %s" % (
            who, cid, diff, ok if ok == "ok" else ok + " (its times left out)"))
    print("\n".join(lines))
    if not args or "T1" in ids:
        times, what = e2e(tab, e2e_n or n, d=e2e_dir)
        print("end to end: %s" % what)
        for who, (s, v) in times.items():
            print("  %-24s %s" % (who, "%.2f s (%s)" % (s, ", ".join("%.2f" % t for t in v))
                                  if s else "failed"))
        if times.get("pytorch", (None,))[0] and times.get("rnnc (default)", (None,))[0]:
            print("  rnnc (default) is %.1fx PyTorch" % (times["pytorch"][0] /
                                                        times["rnnc (default)"][0]))
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("config", "mode"),
                                                                   k))
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    svg(rows, os.path.join(OUT, "results.svg"))
    print("wrote %s and %s" % (os.path.join(OUT, "results.csv"),
                               os.path.join(OUT, "results.svg")))


if __name__ == "__main__":
    main()
