#!/bin/sh
# Regenerates tests/golden/ (the emitted C of every spec in specs/) with build/rnnc.
# Review the diff: it is exactly what changed in the generated code.
set -eu
cd "$(dirname "$0")/.."
for spec in specs/*.yaml; do
    stem=$(basename "$spec" .yaml)
    build/rnnc "$spec" -o "tests/golden/$stem.c"
done
