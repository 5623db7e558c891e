#!/bin/sh
# pair.sh — two generated units of one network side by side, for a generator change: the
# spec (one block: CELL of H units over I inputs, L layers, batch_first) written by each of
# two generators, each unit built with -O3 -march=native and bench/bounds_main.c (a forward
# of B sequences of 100 steps, REPS calls a time, median of 15, and a checksum), the two
# pinned to core 1 and interleaved ROUNDS times; each round's times and B's over A's, then
# the median ratio. A generator is a program that takes SPEC ... -o OUT.c (rnnc, rnnc-unit),
# with options after a colon: rnnc built from an older commit, or rnnc-unit's tile-s=6.
#
#   bench/pair.sh /tmp/old/build/rnnc build/rnnc lstm 128 256 2 32 3 4
#   bench/pair.sh build/rnnc-unit:tile-s=6 build/rnnc lstm 128 256 2 32 3 4
#   bench/pair.sh build/rnnc-unit:tile-w=16,feed-lstm build/rnnc-unit:tile-w=16 lstm 10 64 2 1 20 3
set -eu
[ $# -ge 7 ] || {
    echo "usage: bench/pair.sh GEN_A[:OPT,...] GEN_B[:OPT,...] CELL I H L B [REPS] [ROUNDS]" >&2
    exit 2
}
root=$(cd "$(dirname "$0")/.." && pwd)
a=$1 b=$2 cell=$3 I=$4 H=$5 L=$6 B=$7 reps=${8:-3} n=${9:-3}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
printf 'name: bench\ninput_size: %s\nbatch_first: true\nlayers:\n' "$I" >"$d/bench.yaml"
printf '  - name: rnn\n' >>"$d/bench.yaml"
printf '    cell: %s\n    hidden_size: %s\n    num_layers: %s\n' "$cell" "$H" "$L" >>"$d/bench.yaml"
for v in a b; do
    [ "$v" = a ] && g=$a || g=$b
    gen=${g%%:*} opts=
    [ "$gen" = "$g" ] || opts=$(echo "${g#*:}" | tr ',' ' ')
    mkdir "$d/$v"
    # shellcheck disable=SC2086 # the options are words
    "$gen" "$d/bench.yaml" $opts -o "$d/$v/model.c"
    cc -std=c11 -O3 -march=native -I"$d/$v" -c "$d/$v/model.c" -o "$d/$v/model.o"
    cc -std=c11 -O2 -I"$d/$v" -I"$root/bench" "$root/bench/bounds_main.c" "$d/$v/model.o" -lm \
        -o "$d/$v/run"
done
i=0
while [ "$i" -lt "$n" ]; do
    ta=$(taskset -c 1 "$d/a/run" "$B" "$reps")
    tb=$(taskset -c 1 "$d/b/run" "$B" "$reps")
    echo "$ta $tb" >>"$d/out"
    echo "A $ta  B $tb  B/A $(echo "$ta $tb" | awk '{printf "%.3f", $3 / $1}')"
    i=$((i + 1))
done
python3 - "$d/out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
r = [float(x[2]) / float(x[0]) for x in rows]
same = all(x[1] == x[3] for x in rows)
print("median B/A %.3f over %d rounds; checksums %s" % (statistics.median(r), len(r),
      "equal" if same else "differ"))
PY
