#!/bin/sh
# regen_diag.sh — rewrites tests/bad_specs/*.expected: the exact stderr of
# `rnnc check` on each bad spec, run from the source root as tests/test_diag.c does.
# Usage: tools/regen_diag.sh [RNNC_BIN]   (default: build/rnnc). Then read every diff.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/rnnc}
[ -x "$bin" ] || { echo "regen_diag.sh: $bin not found; build first" >&2; exit 1; }
for spec in tests/bad_specs/*.yaml; do
    rc=0
    "$bin" check "$spec" >/dev/null 2>"${spec%.yaml}.expected" || rc=$?
    [ "$rc" = 1 ] || echo "regen_diag.sh: $spec: exit status $rc, want 1" >&2
done
