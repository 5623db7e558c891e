#!/bin/sh
# The install test: `meson install` into a DESTDIR, then a user's program built against the
# installed header and libraries with `pkg-config --cflags --libs rnnc` only, and run.
# Arguments: the build directory, the source directory, and the build's b_sanitize (its
# libraries are instrumented: the user's program links with the same sanitizers).
set -eu
build=$1
src=$2
san=${3:-none}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name rnnc.pc | head -n 1)
[ -n "$pc" ] || { echo "no rnnc.pc installed"; exit 1; }
bin=$(find "$tmp/root" -type f -name rnnc -perm -u+x | head -n 1)
[ -n "$bin" ] || { echo "no rnnc executable installed"; exit 1; }
hdr=$(find "$tmp/root" -name rnnc.h | head -n 1)
[ -n "$hdr" ] || { echo "no rnnc.h installed"; exit 1; }
# the header is the public one: it includes no internal header
if grep -q '#include "' "$hdr"; then echo "rnnc.h includes an internal header"; exit 1; fi
# the .pc file says where the files will be (the prefix); the sysroot says where they are now
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs --static rnnc)
sanflags=""
[ "$san" = none ] || sanflags="-fsanitize=$san"
cc -std=c11 -Wall -Wextra -Werror $sanflags "$src/tests/install/use_rnnc.c" -o "$tmp/use_rnnc" \
    $flags
"$tmp/use_rnnc" "$src/specs/seq_classifier.yaml" "$tmp/y.npy" | grep -q "seq_classifier: input"
[ -s "$tmp/y.npy" ]
"$bin" check "$src/specs/seq_classifier.yaml" >/dev/null
echo "1 passed, 0 failed"
