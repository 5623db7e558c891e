#!/bin/sh
# The figures the README shows beside the commands that made them (docs/figures/), after
# tools/setup.sh. The learning examples' figures come from examples/learn/figures.sh.
set -eu
cd "$(dirname "$0")/.."
build/rnnc plot arch specs/seq_classifier.yaml --cell -o docs/figures/lstm_cell.png
build/rnnc plot gates specs/seq_classifier.yaml --weights examples/seq_classifier/weights.safetensors --input examples/seq_classifier/x.npy --lengths examples/seq_classifier/lengths.npy --units 0-15 -o docs/figures/seq_classifier_gates.png
