#!/bin/sh
# Regenerates tests/golden/ (the emitted C of every spec in specs/) with build/rnnc, and
# tests/golden/train/ (each spec's training unit) with the golden test itself.
# Review the diff: it is exactly what changed in the generated code.
set -eu
cd "$(dirname "$0")/.."
for spec in specs/*.yaml; do
    stem=$(basename "$spec" .yaml)
    build/rnnc "$spec" -o "tests/golden/$stem.c"
done
mkdir -p tests/golden/train
RNNC_REGEN=1 RNNC_SOURCE_ROOT="$PWD" RNNC_BIN="$PWD/build/rnnc" build/tests/test_golden >/dev/null
