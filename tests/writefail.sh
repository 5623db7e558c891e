#!/bin/sh
# Writes that fail leave the previous file intact and nothing half-written: a full disk (a
# small tmpfs), a read-only file system (the same tmpfs remounted read-only), and /dev/full
# (a device: written in place, so the error must still be reported). Mounting needs root
# with CAP_SYS_ADMIN; without it those parts are skipped with a message.
# Arguments: the rnnc binary, the source directory.
set -u
rnnc=$1
src=$2
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
mnt="$tmp/mnt"
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0

# /dev/full: the output is a device, written in place; the failed write is an error
f="$src/tests/fixtures/lstm_l1"
if "$rnnc" run "$f/spec.yaml" --weights "$f/weights.safetensors" --input "$f/x.npy" \
    --output /dev/full 2>"$tmp/err"; then
    fail "run --output /dev/full succeeded"
fi
grep -q "/dev/full" "$tmp/err" || fail "no message naming /dev/full: $(cat "$tmp/err")"
passed=$((passed + 1))

if mount -t tmpfs -o size=96k tmpfs "$mnt" 2>/dev/null; then
    # the previous, good output, then a disk too full for the new one
    "$rnnc" "$src/specs/channel_tracker.yaml" -o "$mnt/m.c" >/dev/null || fail "first write"
    cp "$mnt/m.c" "$tmp/before.c"
    cp "$mnt/m.h" "$tmp/before.h"
    dd if=/dev/zero of="$mnt/filler" bs=1k count=200 2>/dev/null
    if "$rnnc" "$src/specs/tagger.yaml" -o "$mnt/m.c" 2>"$tmp/err"; then
        fail "writing onto a full disk succeeded"
    fi
    cmp -s "$mnt/m.c" "$tmp/before.c" || fail "full disk: m.c changed"
    cmp -s "$mnt/m.h" "$tmp/before.h" || fail "full disk: m.h changed"
    [ "$(ls "$mnt" | grep -c tmp)" = 0 ] || fail "full disk: a temporary file was left: $(ls "$mnt")"
    passed=$((passed + 1))
    # read-only: the same files, untouched
    rm -f "$mnt/filler"
    if mount -o remount,ro "$mnt" 2>/dev/null; then
        if "$rnnc" "$src/specs/tagger.yaml" -o "$mnt/m.c" 2>"$tmp/err"; then
            fail "writing onto a read-only file system succeeded"
        fi
        cmp -s "$mnt/m.c" "$tmp/before.c" || fail "read-only: m.c changed"
        grep -q "$mnt" "$tmp/err" || fail "read-only: no message naming the directory"
        passed=$((passed + 1))
    else
        echo "skipped: cannot remount read-only"
    fi
else
    echo "skipped: cannot mount a tmpfs (needs root with CAP_SYS_ADMIN)"
fi
echo "$passed passed, 0 failed"
