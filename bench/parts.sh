#!/bin/sh
# parts.sh — T1's training step in its parts: the unit `rnnc train` compiles with --jit cc
# (bench/unit.c prints it; built here with compiler/jit.c's flags), timed by
# bench/train_main.c, forward and backward apart, on T1's batch padded (T1) and packed (T1p);
# one process per run, pinned to core 1, the two interleaved, medians; then each on two
# threads as rnnc train runs it (cores 0-1, wall clock: `2t`). With --perf, a perf
# profile of T1's step by function: the tiles and the backward's kernels under their own
# names (in rnnc's cache the object is built per run and a profile shows the compiler).
#
#   bench/parts.sh 5            # five rounds
#   bench/parts.sh 3 --perf     # and the profile
set -eu
[ $# -le 2 ] || {
    echo "usage: bench/parts.sh [ROUNDS] [--perf]" >&2
    exit 2
}
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-3} prof=${2:-}
case $n in '' | *[!0-9]*) echo "bench/parts.sh: ROUNDS is a number, not '$n'" >&2 && exit 2 ;; esac
[ -z "$prof" ] || [ "$prof" = --perf ] || {
    echo "bench/parts.sh: unknown option '$prof'" >&2
    exit 2
}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
printf 'name: bench\ninput_size: 10\nbatch_first: true\nlayers:\n  - name: rnn\n    cell: lstm\n    hidden_size: 64\n    num_layers: 2\nhead:\n  out_features: 5\n  input: last\nloss: cross_entropy\ntrain:\n  optimizer: sgd\n  lr: 0.01\n  batch_size: 32\n  epochs: 1\n' >"$d/bench.yaml"
"$root/build/rnnc-unit" "$d/bench.yaml" train >"$d/unit.c"
np=$(sed -n 's/^#define BENCH_NUM_PARAMS \([0-9]*\).*/\1/p' "$d/unit.c")
nk=$(sed -n 's/^#define BENCH_NUM_PACKED \([0-9]*\).*/\1/p' "$d/unit.c")
cc -std=c11 -O3 -march=native -fPIC -c "$d/unit.c" -o "$d/unit.o"
cc -std=c11 -O2 -DNUMP="$np" -DNUMK="$nk" -DINPUTS=10 "$root/bench/train_main.c" "$d/unit.o" \
    -lm -lpthread -o "$d/drv"
i=0
while [ "$i" -lt "$n" ]; do
    for v in 0 1; do
        taskset -c 1 "$d/drv" "$v" | sed "s/^/$v /" >>"$d/out"
        taskset -c 0,1 "$d/drv" "$v" 2 | sed "s/^/${v}p2 /" >>"$d/out"
    done
    i=$((i + 1))
done
python3 - "$d/out" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    v, step, fwd, _ = line.split()
    t.setdefault(v, []).append((float(step), float(fwd)))
for v, name in (("0", "T1     "), ("1", "T1p    "), ("0p2", "T1  2t "), ("1p2", "T1p 2t ")):
    r = t[v]
    s, f = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
    b = statistics.median(x[0] - x[1] for x in r)
    print("%s step %9.1f us  forward %9.1f us (%.0f %%)  backward %9.1f us (%.0f %%)  (%d runs)"
          % (name, s, f, 100 * f / s, b, 100 * b / s, len(r)))
PY
if [ -n "$prof" ]; then
    taskset -c 1 perf record -q -o "$d/perf.data" -F 5000 \
        sh -c 'for i in 1 2 3 4 5; do "$1" 0; done' sh "$d/drv" >/dev/null 2>&1
    perf report -i "$d/perf.data" --stdio --sort sym 2>/dev/null | grep -v '^#' | grep -v '^$' |
        head -20
fi
