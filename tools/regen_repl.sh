#!/bin/sh
# Regenerates tests/repl/*.expected: each script through `rnnc repl`, stdout and stderr
# together, compile times replaced by N (they vary run to run; tests/test_repl.c does the same).
set -eu
cd "$(dirname "$0")/.."
for script in tests/repl/*.rnnc; do
    build/rnnc repl < "$script" 2>&1 |
        sed -E 's/generate [0-9.]+ ms, compile [0-9.]+ ms/generate N ms, compile N ms/' \
            > "${script%.rnnc}.expected" || true
done
