#!/bin/sh
# GFLOP/s of the packed float dense kernel (GEMM) at every kernel level
# this CPU runs, single thread; then the fmnist CNN float runner at each
# level through `quanta eval` (ms/sample, batch 64, one thread).
#   scripts/bench_gemm.sh [BUILD_DIR [batch in_k out_n [reps]]]
# BUILD_DIR holds libquanta.a and quanta (default: build), rebuilt first
# unless NO_BUILD=1. Timings only; nothing here is a test.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift
if [ "${NO_BUILD:-0}" != 1 ]; then
    make -s BUILD="$build" BIN="$build/quanta" LIB="$build/libquanta.a" "$build/quanta" "$build/libquanta.a"
fi
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc/include -Iinclude -Isrc -o "$build/bench_gemm" scripts/bench_gemm.c \
    "$build/libquanta.a" -lm -pthread
"$build/bench_gemm" "$@"
model=models/fmnist-cnn.safetensors
data=models/data/fmnist-test-1000-images-idx3-ubyte.gz
if [ -f "$model" ] && [ -f "$data" ]; then
    echo "fmnist CNN, float runner, batch 64, 1 thread (quanta eval ms/sample):"
    for isa in ref avx2 avx512 vnni amx; do
        line=$(QUANTA_ISA=$isa "$build/quanta" eval "$model" --data "$data" --batch 64 \
               --threads 1 2>&1 | grep -E 'ms/sample|not supported' || true)
        echo "  $isa: $line"
    done
fi
