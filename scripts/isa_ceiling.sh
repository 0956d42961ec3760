#!/bin/sh
# Port-throughput ceiling of the int8 steps against float FMA on this CPU
# (one core): GMAC/s of each step and the int8/float ratio, the best
# speed-up of an int8 GEMM built on it (scripts/isa_ceiling.c).
#   scripts/isa_ceiling.sh [OUT_DIR]   (default: build)
# Timings only; nothing here is a test.
set -eu
cd "$(dirname "$0")/.."
out=${1:-build}
mkdir -p "$out"
gcc -std=c11 -D_GNU_SOURCE -O2 -mavx2 -mfma -Wall -Wextra -Werror -o "$out/isa_ceiling" \
    scripts/isa_ceiling.c
"$out/isa_ceiling"
