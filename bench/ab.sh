#!/bin/sh
# ab.sh — two builds of rnnc-bench side by side, for a change's commit message: each run
# of each binary pinned to core 1, one round inside, the two interleaved N times, and the
# medians (and the best runs') ratio per row. Only one contender (default rnnc).
#
#   cp build/rnnc-bench /tmp/old    # before the change
#   ... change, ninja -C build ...
#   bench/ab.sh 5 /tmp/old build/rnnc-bench T1 T1p M1
#   ONLY=rnnc-tcc bench/ab.sh 3 /tmp/old build/rnnc-bench S1
set -eu
[ $# -ge 4 ] || {
    echo "usage: bench/ab.sh N OLD NEW CONFIG..." >&2
    exit 2
}
n=$1 old=$2 new=$3
shift 3
only=${ONLY:-rnnc}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=0
while [ "$i" -lt "$n" ]; do
    for v in old new; do
        [ "$v" = old ] && bin=$old || bin=$new
        taskset -c 1 "$bin" --rounds 1 --clock cpu --only "$only" "$@" |
            grep "^$only," | sed "s/^/$v,/" >>"$out"
    done
    i=$((i + 1))
done
python3 - "$out" <<'EOF'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.strip().split(",")
    d[(p[2], p[3], p[0])].append(float(p[4]))
for row, mode in sorted({(k[0], k[1]) for k in d}):
    o, n = d[(row, mode, "old")], d[(row, mode, "new")]
    if not o or not n:
        continue
    mo, mn = statistics.median(o), statistics.median(n)
    print("%-4s %-11s old %11.1f  new %11.1f  new/old %.3f  (best %.3f)  us, %d runs"
          % (row, mode, mo, mn, mn / mo, min(n) / min(o), len(n)))
EOF
