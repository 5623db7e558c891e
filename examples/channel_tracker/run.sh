#!/bin/sh
# run.sh — the channel-tracking example end to end (the README's "Channel tracking, end to
# end"): the full data set, the tracker trained, its NMSE against Doppler beside persistence
# and the Wiener predictors (the README's table), the same on streams ten times longer than
# the training sequences, then device.sh (the committed weights on an emulated Cortex-M4).
# From the repository root, once built (tools/setup.sh, or meson setup build && ninja -C build):
#     examples/channel_tracker/run.sh
# Exit status 1 when the tracker is more than 1 dB above the genie Wiener predictor in a
# Doppler bin.
set -eu
cd "$(dirname "$0")/../.."
S=examples/channel_tracker/tracker.yaml
D=build/channel_tracker
mkdir -p $D/long
# 4000 training, 500 validation and 2000 test sequences of 200 steps, f_D T_s in
# [0.01, 0.05], SNR 20 dB (the defaults)
build/channel gen $D
# The recipe: the spec's 30 epochs of Adam at lr 0.005, then 10 at 0.001 and 10 at 0.0003,
# each stage from the last one's weights; --jit cc: the training code built by the system
# compiler (libtcc's is several times slower, with the same numbers up to rounding)
t0=$(date +%s%N)
set -- --input $D/x.npy --target $D/y.npy --val-input $D/val_x.npy --val-target $D/val_y.npy \
    --jit cc
build/rnnc train $S "$@" --save $D/stage1.safetensors
build/rnnc train $S "$@" --init $D/stage1.safetensors --save $D/stage2.safetensors \
    --epochs 10 --lr 0.001
build/rnnc train $S "$@" --init $D/stage2.safetensors --save $D/tracker.safetensors \
    --epochs 10 --lr 0.0003
t1=$(date +%s%N)
echo "training took $(((t1 - t0) / 1000000)) ms (three stages, 50 epochs, compilation included)"
if cmp -s $D/tracker.safetensors examples/channel_tracker/tracker.safetensors; then
    echo "the weights are bit for bit the committed examples/channel_tracker/tracker.safetensors"
else
    echo "the weights differ from the committed ones (another compiler or CPU rounds differently)"
fi
# the host's predictions through rnnc run (libtcc, the numbers the deployed code gives)
build/rnnc run $S --weights $D/tracker.safetensors --input $D/test_x.npy \
    --output $D/test_pred.npy
build/channel score $D --pred $D/test_pred.npy --max-gap 1
# streams of 2000 steps (the tracker was trained on 200), scored past the first 1000
build/channel gen $D/long --train 1 --val 1 --test 400 --len 2000 --seed 2 >/dev/null
build/rnnc run $S --weights $D/tracker.safetensors --input $D/long/test_x.npy \
    --output $D/long/test_pred.npy
build/channel score $D/long --pred $D/long/test_pred.npy --warmup 1000 --max-gap 1
examples/channel_tracker/device.sh
