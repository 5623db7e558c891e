#!/bin/sh
# Installs what rnnc needs on Debian 12 (when missing) and builds it into build/.
# Run as root on a fresh machine; later runs only rebuild.
set -eu
cd "$(dirname "$0")/.."
pkgs="gcc g++ clang meson ninja-build pkg-config python3 libyaml-dev tcc libtcc-dev libcmocka-dev"
# rnnc repl: line editing (libedit); its terminal test drives it through tmux
pkgs="$pkgs libedit-dev tmux"
# PyTorch .pt weights read and written by the runtime (runtime/pt.c)
pkgs="$pkgs libzip-dev"
# libFuzzer and clang's sanitizer runtimes for the fuzz targets (tools/fuzz.sh)
pkgs="$pkgs libclang-rt-dev"
# the Cortex-M4 cross-build and its emulated run (tests/test_cross.c)
pkgs="$pkgs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
# rnnc import (host/onnx.c): protobuf-c, its compiler, and the onnx.proto of libonnx-dev
pkgs="$pkgs libprotobuf-c-dev protobuf-c-compiler libonnx-dev"
# rnnc plot and rnnc report draw with cairo; the plot suite parses SVG with xmllint, opens
# PDF with pdfinfo and renders report.html in headless Chromium
pkgs="$pkgs libcairo2-dev libxml2-utils poppler-utils chromium"

# data-parallel training across processes: mpirun -np N rnnc train (tests/test_mpi.c)
pkgs="$pkgs libopenmpi-dev openmpi-bin"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
[ -f build/build.ninja ] || meson setup build -Dwerror=true >/dev/null
ninja -C build >/dev/null
echo "setup: built build/rnnc"
