#!/bin/sh
# bounds.sh — what a forward loses to its weights' path and to its gates' activations: the
# unit `rnnc SPEC -o` writes, timed as built, and in variants that compute wrong numbers
# (their checksums differ) with the same instructions on weights nearer the core, or with
# fewer: a blocked layer's (M1, L1) every panel's reads pointed at the first two panels (they
# stay in L2: no L3 stream); every tile's reads pointed at four rows (they stay in L1); and
# the gates without their activations (rv_sigmoid_n and rv_tanh_n calls removed: e^v, tanh
# and the divisions gone, the rest of the gates kept). At batch 1 (S1, S2: LSTM(10, 64, 2
# layers), GRU(10, 64)) the weights are in L2 already, and the L2 variant is left out; S1 is
# also timed in the one-sequence tiles of 16 units it had before its tiles of 32 (four
# vectors of accumulators, not eight), with the second layer's input projection in its own
# pass and carried by the first layer's tiles as it was before (rnnc-unit's feed-lstm: the
# same numbers), and, where the unit as built has a feed, without it (RNNC_FEED 0). "step"
# is S1's streaming step: the unit
# `rnnc SPEC -o --weights` writes (random weights baked in), one step a call, from L2 as the
# table's step row, with its rows read from L1, and without activations. M1, L1 and step are
# also timed with the gates' divisions made multiplications. M1, L1 and lstm-I-H-B (one LSTM
# layer of H units over I inputs at batch B: the unit as built against one other) are timed
# the other way round as to the next units' panel (plan.h's pf_next): a unit whose tiles ask
# for it (L1) without those prefetches, one whose layers stream too little to ask (M1) with
# them, each written by the generator with plan.h's pf_next flipped (rnnc-unit's pf-next);
# and built with RNNC_NO_TILE_V, the products of blocks of sequences as scalar loops (before
# prelude.c's RNNC_TILE_V: gcc folds the weight loads of blocks of four or fewer); M1 and L1
# also in tiles of at most six sequences (rnnc-unit's tile-s=6), not seven. S1 and
# step are also built without the prelude's 512-bit request to gcc (its own vector width),
# and step with its rows asked for ahead and without (RNNC_PREFETCH_ROWS 1 and 0).
# Interleaved, pinned to core 1, medians.
#
#   bench/bounds.sh M1 5      # five rounds of the builds
#   bench/bounds.sh lstm-1024-256-32 9
set -eu
[ $# -ge 1 ] || {
    echo "usage: bench/bounds.sh M1|L1|S1|S2|step|lstm-I-H-B [ROUNDS]" >&2
    exit 2
}
root=$(cd "$(dirname "$0")/.." && pwd)
n=${2:-3}
case $1 in
M1) I=128 H=256 L=2 B=32 reps=3 cell=lstm vs="model l2 l1 na nd pf sv s6" ;;
L1) I=512 H=512 L=1 B=64 reps=1 cell=lstm vs="model l2 l1 na nd pf sv s6" ;;
lstm-*-*-*)
    I=$(echo "$1" | cut -d- -f2) H=$(echo "$1" | cut -d- -f3) B=$(echo "$1" | cut -d- -f4-)
    case "$I-$H-$B" in *[!0-9-]* | -* | *--* | *- | *-*-*-*) I= ;; esac
    [ -n "$I" ] || {
        echo "bench/bounds.sh: '$1' is not lstm-I-H-B with three numbers" >&2
        exit 2
    }
    L=1 reps=1 cell=lstm vs="model pf sv"
    ;;
S1) I=10 H=64 L=2 B=1 reps=20 cell=lstm vs="model nf l1 na vw w16 w16f" ;;
S2) I=10 H=64 L=1 B=1 reps=40 cell=gru vs="model l1 na" ;;
step) I=10 H=64 L=2 B=1 reps=20 cell=lstm vs="model l1 na nd r0 r1 vw" ;;
*)
    echo "bench/bounds.sh: unknown configuration '$1' (M1, L1, S1, S2, step or lstm-I-H-B)" >&2
    exit 2
    ;;
esac
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
printf 'name: bench\ninput_size: %s\nbatch_first: true\nlayers:\n  - name: rnn\n    cell: %s\n    hidden_size: %s\n    num_layers: %s\n' \
    "$I" "$cell" "$H" "$L" >"$d/bench.yaml"
main=bounds_main.c
if [ "$1" = step ]; then
    # random weights in PyTorch's names and shapes, as safetensors, baked into the unit
    python3 - "$d/w.safetensors" "$I" "$H" "$L" <<'PY'
import json, random, struct, sys
I, H, L = map(int, sys.argv[2:5])
random.seed(1)
t, off, data = {}, 0, b""
for l in range(L):
    for k, shape in (("weight_ih", [4 * H, I if l == 0 else H]), ("weight_hh", [4 * H, H]),
                     ("bias_ih", [4 * H]), ("bias_hh", [4 * H])):
        n = shape[0] * (shape[1] if len(shape) > 1 else 1)
        data += struct.pack("<%df" % n, *(random.uniform(-0.125, 0.125) for _ in range(n)))
        t["rnn.%s_l%d" % (k, l)] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + 4 * n]}
        off += 4 * n
h = json.dumps(t).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
    "$root/build/rnnc" "$d/bench.yaml" -o "$d/model.c" --weights "$d/w.safetensors"
    main=step_main.c
else
    "$root/build/rnnc" "$d/bench.yaml" -o "$d/model.c"
fi
# L2: the units' panels of W_hh^T and W_ih^T at u0 read from u0 & 16 (two panels), and the
# next panel a tile asks for (pf_next) the same two
sed -e 's/\(const real \*wp = wt + [0-9]*\) + (long)u0 \* \([0-9]*\);/\1 + (long)(u0 \& 16) * \2;/' \
    -e 's/wt + (long)u0 \* \([0-9]*\), fuse/wt + (long)(u0 \& 16) * \1, fuse/' \
    -e '/pfx0 = /s/un \* \([0-9]*\)/(un \& 16) * \1/g' \
    "$d/model.c" >"$d/l2.c"
# L1: a tile's rows k read from k & 3 (the next panel asked for: as in L2)
sed -e 's/const real \*wk = \(wpx\|wp\) + (long)k \* \([0-9]*\);/const real *wk = \1 + (long)(k \& 3) * \2;/' \
    -e 's/\*wk = \(wx\|wh\) + k \* \([0-9]*\)/*wk = \1 + (k \& 3) * \2/' \
    -e '/pfx0 = /s/un \* \([0-9]*\)/(un \& 16) * \1/g' \
    "$d/model.c" >"$d/l1.c"
# no activations: the gates' e^v, tanh and divisions gone
sed -e 's/^\( *\)rv_\(sigmoid\|tanh\)_n(\(.*\));$/\1(void)(\3);/' "$d/model.c" >"$d/na.c"
# no divisions: the gates' divisions (the sigmoid's 1 / (1 + e^-v), the tanh's P / Q) made
# multiplications, every other operation kept
sed -e 's|x\[i\] = 1.0f / (1.0f + x\[i\]);|x[i] = 1.0f * (1.0f + x[i]);|' \
    -e 's|v\[i\] = x\[i\] \* p\[i\] / q\[i\];|v[i] = x[i] * p[i] * q[i];|' "$d/model.c" >"$d/nd.c"
# the next panel the other way round: a unit that asks for it written without, one that
# does not written asking for it as tile.c does for layers streaming 6 MiB or more
if grep -q 'RNNC_PREFETCH_L2(pfh + ' "$d/model.c"; then
    "$root/build/rnnc-unit" "$d/bench.yaml" no-pf-next -o "$d/pf.c"
    pfname="no prefetch of the next panel"
else
    case " $vs " in *" pf "*) "$root/build/rnnc-unit" "$d/bench.yaml" pf-next -o "$d/pf.c" ;; esac
    pfname="the next panel asked for"
fi
# the products of blocks of sequences written as scalars, as before RNNC_TILE_V (prelude.c)
{ echo '#define RNNC_NO_TILE_V 1'; cat "$d/model.c"; } >"$d/sv.c"
# tiles of at most six sequences, as before 2026-12-02's second session (seven now: M1's 32
# in five tiles, not six)
case " $vs " in *" s6 "*) "$root/build/rnnc-unit" "$d/bench.yaml" tile-s=6 -o "$d/s6.c" ;; esac
# the one-sequence products' rows asked for ahead, or not, whatever the core (prelude.c's
# RNNC_PREFETCH_ROWS: on by default off Intel's cores); one of the two is the unit as built
{ echo '#define RNNC_PREFETCH_ROWS 0'; cat "$d/model.c"; } >"$d/r0.c"
{ echo '#define RNNC_PREFETCH_ROWS 1'; cat "$d/model.c"; } >"$d/r1.c"
# gcc's own choice of vector width where it vectorises loops (the prelude's pragma gone:
# 256 bits on Intel's AVX-512 cores, the same code elsewhere)
sed -e '/^#pragma GCC target("prefer-vector-width=512")$/d' "$d/model.c" >"$d/vw.c"
# no feed: the upper layer's input projection in its own pass (a unit with one; S1's tiles
# of eight vectors carry none, and the variant is left out)
sed -e 's/^#define RNNC_FEED 1$/#define RNNC_FEED 0/' "$d/model.c" >"$d/nf.c"
if cmp -s "$d/model.c" "$d/nf.c"; then vs=$(echo "$vs" | sed 's/ nf / /'); fi
# the one-sequence tiles of 16 units (four vectors of accumulators), the second layer's
# projection apart, and carried by the first's tiles as plan.c chose before 2026-12-02's
# second session
case " $vs " in *" w16 "*)
    "$root/build/rnnc-unit" "$d/bench.yaml" tile-w=16 -o "$d/w16.c"
    "$root/build/rnnc-unit" "$d/bench.yaml" tile-w=16 feed-lstm -o "$d/w16f.c"
    ;;
esac
for v in $vs; do
    if cmp -s "$d/model.c" "$d/$v.c" && [ "$v" != model ]; then
        echo "bench/bounds.sh: the $v variant matched nothing in the generated code" >&2
        exit 1
    fi
    cc -std=c11 -O3 -march=native -I"$d" -c "$d/$v.c" -o "$d/$v.o"
    cc -std=c11 -O2 -I"$d" "$root/bench/$main" "$d/$v.o" -lm -o "$d/$v"
done
i=0
while [ "$i" -lt "$n" ]; do
    for v in $vs; do
        taskset -c 1 "$d/$v" "$B" "$reps" | sed "s/^/$v /" >>"$d/out"
    done
    i=$((i + 1))
done
python3 - "$d/out" "$1" "$pfname" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    v, us, _ = line.split()
    t.setdefault(v, []).append(float(us))
m = {v: statistics.median(x) for v, x in t.items()}
name = {"model": "as built", "l2": "weights in L2 (two panels)", "l1": "weights in L1 (four rows)",
        "na": "gates without activations", "nf": "projection pass alone",
        "nd": "gates without divisions", "pf": sys.argv[3], "sv": "products written as scalars",
        "r0": "rows not asked for ahead", "r1": "rows asked for ahead",
        "vw": "gcc's own vector width", "w16": "one-sequence tiles of 16 units",
        "w16f": "tiles of 16 with the feed", "s6": "tiles of six sequences"}
for v in [v for v in ("model", "nf", "l2", "l1", "na", "nd", "pf", "sv", "s6", "r0", "r1", "vw",
                      "w16", "w16f") if v in m]:
    print("%s %-30s %10.*f us  %.3f of as built  (%d rounds)" % (sys.argv[2], name[v],
          1 if m[v] >= 10 else 3, m[v], m[v] / m["model"], len(t[v])))
PY
