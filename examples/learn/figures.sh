#!/bin/sh
# The learning examples' figures in the README (examples/learn/figures/*.png): each task's
# data from build/make_data, its spec trained as the README's "Learning examples" trains it
# (skipped when build/learn/<task>/ already holds the weights), then rnnc plot on the first
# held-out sequence. Run from anywhere after tools/setup.sh; about 3 minutes here.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
rnnc="$root/build/rnnc"
out="$root/examples/learn/figures"
mkdir -p "$out"

# train TASK SPEC WEIGHTS [--lengths]: the README's command, once
train() {
    dir="$root/build/learn/$1"
    mkdir -p "$dir"
    [ -f "$dir/x.npy" ] || "$root/build/make_data" "$1" "$dir" >/dev/null
    [ -f "$dir/$3" ] && return 0
    lens=""
    [ "${4:-}" = "--lengths" ] &&
        lens="--lengths lengths.npy --val-lengths val_lengths.npy"
    (cd "$dir" && "$rnnc" train "$root/examples/learn/$2" --input x.npy --target y.npy \
        --val-input val_x.npy --val-target val_y.npy $lens --save "$3" --jit cc |
        tail -n 2)
}

train classify classify.yaml w.safetensors --lengths
train label label.yaml w.safetensors
train sines sines.yaml w.safetensors
train adding adding_lstm.yaml lstm.safetensors
train adding adding_rnn.yaml rnn.safetensors

d="$root/build/learn"
"$rnnc" plot gates examples/learn/classify.yaml --weights "$d/classify/w.safetensors" \
    --input "$d/classify/val_x.npy" --lengths "$d/classify/val_lengths.npy" --units 0-15 \
    -o "$out/classify_gates.png"
"$rnnc" plot state examples/learn/label.yaml --weights "$d/label/w.safetensors" \
    --input "$d/label/val_x.npy" --units 0-7 -o "$out/label_state.png"
"$rnnc" plot state examples/learn/sines.yaml --weights "$d/sines/w.safetensors" \
    --input "$d/sines/val_x.npy" --units 0-15 -o "$out/sines_state.png"
# the spec's RNN and LSTM variants with their trained weights (the GRU at its initial ones)
"$rnnc" plot gradients examples/learn/adding_lstm.yaml --compare \
    --rnn-weights "$d/adding/rnn.safetensors" --lstm-weights "$d/adding/lstm.safetensors" \
    --input "$d/adding/val_x.npy" -o "$out/adding_gradients.png"
"$rnnc" plot gates examples/learn/adding_lstm.yaml --weights "$d/adding/lstm.safetensors" \
    --input "$d/adding/val_x.npy" --units 0-15 -o "$out/adding_lstm_gates.png"
