#!/bin/sh
# fuzz.sh — runs each fuzz target of tests/fuzz/targets.txt (or those named) under libFuzzer
# for SECONDS (default 30), one after the other, in build-fuzz/: clang with ASan and UBSan,
# configured on first use (CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false).
#   tools/fuzz.sh                  30 s each (the end of tools/test.sh)
#   tools/fuzz.sh 36000            ten hours each
#   tools/fuzz.sh 600 spec npy     ten minutes each of two
#   tools/fuzz.sh 10M              ten million executions each (a count: N, Nk or NM)
# FUZZ_TIMEOUT=S (default 25) is the seconds one input may take before it counts as a hang:
# raise it when the run may be paused (kill -STOP) for longer than that.
# New inputs are kept in build-fuzz/corpus/TARGET/ from run to run; an input that fails (a
# crash, a sanitizer report, a broken invariant) is copied into tests/fuzz/regress/TARGET/,
# where the replay test fuzz_TARGET runs it in every build: commit it with the fix. Exit 1
# when any target failed. Without clang and libFuzzer nothing runs (exit 0, with a note).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-30}
limit="-max_total_time=$secs"
case $secs in
*[kM]) n=${secs%?}
    case $secs in *k) n=$((n * 1000)) ;; *) n=$((n * 1000000)) ;; esac
    limit="-runs=$n"
    secs="$n runs" ;;
*) secs="$secs s" ;;
esac
[ $# -gt 0 ] && shift
targets=${*:-$(sed -e 's/#.*//' tests/fuzz/targets.txt)}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' \
    >"$probe/p.c"
if ! command -v clang >/dev/null 2>&1 ||
    ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "fuzz.sh: clang with libFuzzer not found (Debian: clang libclang-rt-dev); skipped" >&2
    exit 0
fi
[ -f build-fuzz/build.ninja ] ||
    CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dwerror=true >/dev/null
exes=""
for t in $targets; do
    exes="$exes tests/fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
nice -n 10 ninja -C build-fuzz $exes >/dev/null
status=0
for t in $targets; do
    work=build-fuzz/corpus/$t
    art=build-fuzz/artifacts/$t
    log=build-fuzz/fuzz_$t.log
    mkdir -p "$work" "$art"
    rm -f "$art"/*
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    # the regressions, once a target has any (libFuzzer refuses a missing directory)
    regress=""
    [ -d "tests/fuzz/regress/$t" ] && regress="tests/fuzz/regress/$t"
    # shellcheck disable=SC2086
    if nice -n 10 "build-fuzz/tests/fuzz/fuzz_$t" "$limit" -timeout="${FUZZ_TIMEOUT:-25}" \
        -rss_limit_mb=2048 -print_final_stats=1 $dict -artifact_prefix="$art/" \
        "$work" "tests/fuzz/corpus/$t" $regress >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
        echo "fuzz.sh: $t: $secs, ${execs:-?} executions, ${cov:-cov: ?}, no failure"
    else
        status=1
        echo "fuzz.sh: $t FAILED; the log is $log:" >&2
        grep -A 30 -m 1 -E 'ERROR|runtime error|fuzz invariant|Segmentation|deadly signal' \
            "$log" >&2 || tail -n 30 "$log" >&2
        for f in "$art"/*; do
            # libFuzzer's slow-unit-* are reports of inputs that took over 10 s (a paused or
            # starved run makes them), not failures: left in build-fuzz/artifacts/
            [ -f "$f" ] || continue
            case $(basename "$f") in slow-unit-*) continue ;; esac
            mkdir -p "tests/fuzz/regress/$t"
            cp "$f" "tests/fuzz/regress/$t/"
            echo "fuzz.sh: kept $f as tests/fuzz/regress/$t/$(basename "$f")" >&2
        done
    fi
done
exit $status
