#!/bin/sh
# bench/setup.sh — installs what the benchmark measures against and builds its drivers:
#   libopenblas0-pthread  so that Debian's PyTorch runs on OpenBLAS (without it, libblas3's
#                         reference BLAS serves torch, and the comparison would flatter rnnc)
#   libdnnl-dev           oneDNN 2.6, linked into rnnc-bench (bench/onednn.c)
#   python3-torch         PyTorch (bench/torch_bench.py)
#   libeigen3-dev         RTNeural's Eigen backend (RTNeural's own copy is used when present)
# RTNeural itself is not a package: RTNEURAL_DIR names a checkout, else it is cloned (a
# pinned commit) into build/bench/RTNeural; rtneural-bench is built there with each backend
# that compiles (run.py keeps the fastest). Its xsimd backend needs the xsimd its submodule
# pins (Debian's 8.1 is too old): XSIMD_DIR names a checkout of it, else the submodule is
# fetched when it is empty. Run as root; later runs only rebuild.
#
#   RTNEURAL_DIR=~/src/RTNeural XSIMD_DIR=~/src/xsimd bench/setup.sh   # offline
set -eu
cd "$(dirname "$0")/.."
pkgs="libopenblas0-pthread libdnnl-dev python3-torch python3-numpy libeigen3-dev g++"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench/setup: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# finds libdnnl: a build configured before libdnnl-dev was installed keeps "not found" in
# meson's cache, through --reconfigure and --clearcache alike; only --wipe asks again
if [ -f build/build.ninja ] && ! grep -q RNNC_HAVE_DNNL build/build.ninja; then
    meson setup --wipe build >/dev/null
fi
tools/setup.sh # builds everything, rnnc-bench with oneDNN
ninja -C build rnnc-bench rnnc-peak >/dev/null

RT=${RTNEURAL_DIR:-build/bench/RTNeural}
RTNEURAL_COMMIT=1fb1f07
mkdir -p build/bench # the drivers land here whether RTNeural is cloned or named
if [ ! -f "$RT/RTNeural/RTNeural.h" ]; then
    if git clone -q https://github.com/jatinchowdhury18/RTNeural build/bench/RTNeural 2>/dev/null; then
        git -C build/bench/RTNeural checkout -q "$RTNEURAL_COMMIT"
        RT=build/bench/RTNeural
    else
        echo "bench/setup: no RTNeural (set RTNEURAL_DIR to a checkout); its column stays empty"
        exit 0
    fi
fi
rev=$(git -C "$RT" rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
[ "$rev" = "$RTNEURAL_COMMIT" ] ||
    echo "bench/setup: RTNeural at $rev, not the pinned $RTNEURAL_COMMIT (its figures may differ)"
if [ -z "${XSIMD_DIR:-}" ] && [ ! -d "$RT/modules/xsimd/include/xsimd" ]; then
    git -C "$RT" submodule update -q --init modules/xsimd 2>/dev/null ||
        echo "bench/setup: no xsimd for RTNeural (set XSIMD_DIR to a checkout of the commit its submodule pins)"
fi
src=bench/rtneural_bench.cpp
flags="-std=c++17 -O3 -march=native -DNDEBUG -I$RT"
eigen="$RT/modules/Eigen"
[ -d "$eigen/Eigen" ] || eigen=/usr/include/eigen3
built=""
rm -f build/bench/rtneural-bench-* # a backend that no longer builds is not timed
# Eigen (RTNeural's default; aligned to 32, the most its Eigen path accepts)
g++ $flags -DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_DEFAULT_ALIGNMENT=32 -DEIGEN_STACK_ALLOCATION_LIMIT=0 \
    -I"$eigen" $src -o build/bench/rtneural-bench-eigen 2>/dev/null && built="$built eigen"
# xsimd (needs the xsimd its submodule pins; Debian's may be too old). Aligned to 32: at 1fb1f07
# with AVX-512, its GRU computes wrong numbers aligned to 64 or 16 (S2 off by 1.2; run.py's
# check would leave its times out), right ones aligned to 32.
xs=${XSIMD_DIR:+$XSIMD_DIR/include}
xs=${xs:-$RT/modules/xsimd/include}
[ -d "$xs/xsimd" ] || xs=/usr/include
g++ $flags -DRTNEURAL_USE_XSIMD=1 -DRTNEURAL_DEFAULT_ALIGNMENT=32 -I"$xs" $src \
    -o build/bench/rtneural-bench-xsimd 2>/dev/null && built="$built xsimd"
# STL (no library)
g++ $flags -DRTNEURAL_DEFAULT_ALIGNMENT=16 $src -o build/bench/rtneural-bench-stl 2>/dev/null &&
    built="$built stl"
echo "bench/setup: rtneural-bench built with:${built:- nothing}"
