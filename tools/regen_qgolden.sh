#!/bin/sh
# regen_qgolden.sh — rewrites tests/golden/quant/: specs/channel_tracker.yaml with its bundled
# weights in every quantised mode (calibrated on examples/channel_tracker/x.npy), which the
# quant suite compares byte for byte. Review the diff: it is what changed in quantised code.
set -eu
cd "$(dirname "$0")/.."
mkdir -p tests/golden/quant
for mode in int8-weights int8 int16; do
    build/rnnc specs/channel_tracker.yaml -o "tests/golden/quant/channel_tracker_$mode.c" \
        --weights examples/channel_tracker/weights.safetensors --quantize "$mode" \
        --calib examples/channel_tracker/x.npy
done
