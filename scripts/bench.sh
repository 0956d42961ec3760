#!/bin/sh
# The README's performance table: quanta float (reference and optimized
# kernels) and int8, and ONNX Runtime where it can be installed, on the
# bundled Fashion-MNIST CNN, a larger random conv net and a 1024x1024 dense
# layer. Prints a Markdown table on stdout; progress goes to stderr.
#
#   scripts/bench.sh                 (after `make`)
#
# Environment:
#   QUANTA     the binary (default ./quanta)
#   BENCH_DIR  scratch folder for models, results and node_modules
#              (default build/bench; never committed)
#   ITERS      timed runs per figure (default 20), WARMUP untimed (default 3)
#   REF_ITERS  timed runs of the slow reference kernels (default 5)
#   NO_ORT=1   skip ONNX Runtime
#
# What runs (all on synthetic input, see man quanta-bench(1)):
#   - models/fmnist-cnn.safetensors and build/bench/large-convnet.safetensors
#     (scripts/gen_large_convnet.py), each quantized to int8 with
#     `quanta calibrate` + `quantize --calib` on calibration data;
#   - per model, batch 1 and 64 on 1 thread: float with QUANTA_ISA=ref,
#     float and int8 with the best kernel level, on 1 and 2 threads (one
#     call, so the runs take turns: see man quanta-bench(1));
#     batch 64 on 1 thread with QUANTA_ISA=avx2 when the best level is
#     above avx2 (the AVX2-only figures);
#   - dense-1024 (one 1024x1024 dense layer) at batch 256, 1 thread, for
#     the %-of-peak figures of float and int8;
#   - ONNX Runtime (npm package onnxruntime-node, installed with
#     `npm install --ignore-scripts` under BENCH_DIR/ort) on the same float
#     models exported by scripts/export_bench_onnx.py.
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
OUT=${BENCH_DIR:-build/bench}
ITERS=${ITERS:-20}
WARMUP=${WARMUP:-3}
REF_ITERS=${REF_ITERS:-5}
PY=/usr/bin/python3
RES=$OUT/results

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$QUANTA" ] || die "$QUANTA is not built; run 'make' first"
[ -x "$PY" ] || die "$PY (Debian's python3 with numpy) is missing"
[ -f models/fmnist-cnn.safetensors ] || die "models/fmnist-cnn.safetensors is missing"
mkdir -p "$OUT" "$RES"
rm -f "$RES"/*.json "$RES"/*.txt

# ---- models ----
say "generating the large conv net and the dense layer in $OUT"
"$PY" scripts/gen_large_convnet.py --out "$OUT" >&2
cp models/fmnist-cnn.safetensors "$OUT/fmnist-cnn.safetensors"

quantize() { # name calibration-data
    say "calibrating and quantizing $1"
    "$QUANTA" calibrate "$OUT/$1.safetensors" --data "$2" -o "$OUT/$1.calib.json" >&2
    "$QUANTA" quantize "$OUT/$1.safetensors" --calib "$OUT/$1.calib.json" \
        -o "$OUT/$1-int8.safetensors" >&2
}
quantize fmnist-cnn models/data/fmnist-calib-1000-images-idx3-ubyte.gz
quantize large-convnet "$OUT/large-convnet-calib.npy"
quantize dense-1024 "$OUT/dense-1024-calib.npy"

# ---- the machine ----
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
version=$("$QUANTA" --version | tr '\n' ';')
{
    printf 'cpu=%s\n' "${cpu:-unknown}"
    printf 'cores=%s\n' "$cores"
    printf 'version=%s\n' "$version"
    printf 'iters=%s\nwarmup=%s\nref_iters=%s\n' "$ITERS" "$WARMUP" "$REF_ITERS"
} > "$RES/machine.txt"

# ---- quanta ----
bench() { # result-name, then quanta bench arguments
    name=$1
    shift
    say "quanta bench $*"
    "$QUANTA" bench "$@" --json > "$RES/$name.json"
}
best=$("$QUANTA" --version | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')
for m in fmnist-cnn large-convnet; do
    QUANTA_ISA=ref bench "ref-$m" "$OUT/$m.safetensors" --batch 1,64 --threads 1 \
        --iters "$REF_ITERS" --warmup 1
    # 1 and 2 threads in one call: their runs take turns, so the scaling
    # is measured under the same conditions
    bench "opt-$m" "$OUT/$m.safetensors" "$OUT/$m-int8.safetensors" --batch 1,64 --threads 1,2 \
        --iters "$ITERS" --warmup "$WARMUP"
    # the AVX2-only figure, on a machine whose best level is above it
    if [ "$best" != avx2 ] && QUANTA_ISA=avx2 "$QUANTA" --version | grep -q '^kernels: avx2'; then
        QUANTA_ISA=avx2 bench "avx2-$m" "$OUT/$m.safetensors" "$OUT/$m-int8.safetensors" \
            --batch 64 --threads 1 --iters "$ITERS" --warmup "$WARMUP"
    fi
done
QUANTA_ISA=ref bench ref-dense-1024 "$OUT/dense-1024.safetensors" "$OUT/dense-1024-int8.safetensors" \
    --batch 256 --threads 1 --iters "$REF_ITERS" --warmup 1
bench opt-dense-1024 "$OUT/dense-1024.safetensors" "$OUT/dense-1024-int8.safetensors" \
    --batch 256 --threads 1 --iters "$ITERS" --warmup "$WARMUP"

# ---- ONNX Runtime ----
ort_skip() {
    say "ONNX Runtime skipped: $*"
    printf '%s\n' "$*" > "$RES/ort-skipped.txt"
}
ort_run() {
    if [ "${NO_ORT:-0}" = 1 ]; then
        ort_skip "NO_ORT=1"
        return 0
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        ort_skip "node/npm not found"
        return 0
    fi
    ort_dir=$OUT/ort
    if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
        say "installing onnxruntime-node in $ort_dir (npm install --ignore-scripts)"
        mkdir -p "$ort_dir"
        if ! (cd "$ort_dir" && npm install --ignore-scripts --no-audit --no-fund \
                onnxruntime-node >npm.log 2>&1); then
            ort_skip "npm install onnxruntime-node failed (see $ort_dir/npm.log)"
            return 0
        fi
    fi
    if ! NODE_PATH=$ort_dir/node_modules node -e "require('onnxruntime-node')" 2>"$RES/ort-load.txt"
    then
        ort_skip "onnxruntime-node does not load: $(head -n 1 "$RES/ort-load.txt")"
        return 0
    fi
    for spec in fmnist-cnn:1,28,28 large-convnet:3,32,32 dense-1024:1024; do
        m=${spec%%:*}
        shape=${spec#*:}
        if ! "$PY" scripts/export_bench_onnx.py "$OUT/$m.safetensors" "$OUT/$m.onnx" \
                >"$RES/export-$m.log" 2>&1; then
            say "ONNX export of $m failed (see $RES/export-$m.log); no ONNX Runtime figures for it"
            continue
        fi
        if [ "$m" = dense-1024 ]; then
            set -- "ort-opt-$m:--batch 256 --threads 1"
        else
            set -- "ort-opt-$m:--batch 1,64 --threads 1" "ort-t2-$m:--batch 64 --threads 2"
        fi
        for run in "$@"; do
            name=${run%%:*}
            say "onnxruntime $m ${run#*:}"
            # shellcheck disable=SC2086
            if ! NODE_PATH=$ort_dir/node_modules node scripts/bench_ort.js "$OUT/$m.onnx" \
                    --shape "$shape" ${run#*:} --iters "$ITERS" --warmup "$WARMUP" \
                    >"$RES/$name.json" 2>"$RES/$name.err"; then
                say "onnxruntime run failed: $(head -n 1 "$RES/$name.err")"
                rm -f "$RES/$name.json"
            fi
        done
    done
}
ort_run

# ---- the table ----
"$PY" scripts/bench_report.py "$RES"
