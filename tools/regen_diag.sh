#!/bin/sh
# regen_diag.sh — rewrites tests/bad_specs/*.expected: the exact stderr of
# `rnnc check` on each bad spec, run from the source root as tests/test_diag.c does.
# Usage: tools/regen_diag.sh [RNNC_BIN]   (default: build/rnnc). Read every diff after.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/rnnc}
for spec in tests/bad_specs/*.yaml; do
    "$bin" check "$spec" >/dev/null 2>"${spec%.yaml}.expected" || true
done
