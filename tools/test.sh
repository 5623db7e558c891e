#!/bin/sh
# Sets up (tools/setup.sh), then runs every test suite twice: in the normal build (warnings
# are errors) and in build-san, built with AddressSanitizer and UndefinedBehaviorSanitizer;
# then each fuzz target for 30 s (tools/fuzz.sh).
set -eu
cd "$(dirname "$0")/.."
tools/setup.sh
meson test -C build --print-errorlogs
[ -f build-san/build.ninja ] ||
    meson setup build-san -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-san >/dev/null
meson test -C build-san --print-errorlogs
# the fuzz targets (tests/fuzz/), 30 s each with libFuzzer in build-fuzz/ (clang; skipped
# without it); `tools/fuzz.sh 36000` runs them for hours
tools/fuzz.sh
