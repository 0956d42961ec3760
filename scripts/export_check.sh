#!/bin/sh
# Checks `quanta export` with ONNX Runtime (npm onnxruntime-node) on the
# bundled Fashion-MNIST model: the float model, its int8 copy (made as
# scripts/demo.sh makes it), a uint8-activation, a weight-only and an fp16
# copy are exported; ORT's outputs on the 10,000 test images (package
# dataset-fashion-mnist) are compared with `quanta run`'s:
#   float, weight-only, fp16  max |ort - quanta| / max |quanta| <= 1e-5
#   int8 (also with --uint8), uint8
#                             the same top-1 class on >= 99.9% of the images
# Exits non-zero when a check fails or cannot run (no node/npm, ORT not
# installable, no test set). Outputs go to build/export-check/; ORT is
# installed there once (npm install --ignore-scripts), like scripts/bench.sh.
#
# Environment: QUANTA (default ./quanta), ORT_DIR (an existing install).
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
MODEL=models/fmnist-cnn.safetensors
DATA=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
CALIB_DATA=models/data/fmnist-calib-1000-images-idx3-ubyte.gz
OUT=build/export-check
ORT_DIR=${ORT_DIR:-$OUT/ort}
start=$(date +%s)

die() {
    echo "export_check: $*" >&2
    exit 1
}

[ -x "$QUANTA" ] || die "$QUANTA is not built; run 'make' first"
[ -f "$DATA" ] || die "$DATA is missing (Debian package dataset-fashion-mnist)"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || die "node/npm not found"
mkdir -p "$OUT"
if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
    echo "export_check: installing onnxruntime-node in $ORT_DIR (npm install --ignore-scripts)"
    mkdir -p "$ORT_DIR"
    (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node \
        >npm.log 2>&1) || die "npm install onnxruntime-node failed (see $ORT_DIR/npm.log)"
fi
NODE_PATH=$ORT_DIR/node_modules node -e "require('onnxruntime-node')" ||
    die "onnxruntime-node does not load"

"$QUANTA" calibrate "$MODEL" --data "$CALIB_DATA" -o "$OUT/fmnist-cnn.calib.json" >/dev/null
"$QUANTA" quantize "$MODEL" --calib "$OUT/fmnist-cnn.calib.json" \
    -o "$OUT/fmnist-cnn.int8.safetensors" >/dev/null
"$QUANTA" quantize "$MODEL" --calib "$OUT/fmnist-cnn.calib.json" --activation-type uint8 \
    -o "$OUT/fmnist-cnn.uint8.safetensors" >/dev/null
"$QUANTA" quantize "$MODEL" --mode weight-only -o "$OUT/fmnist-cnn.wo.safetensors" >/dev/null
"$QUANTA" quantize "$MODEL" --mode fp16 -o "$OUT/fmnist-cnn.fp16.safetensors" >/dev/null

failed=0
check() { # name model.safetensors "export options" check-option value
    name=$1 qmodel=$2 export_opts=$3
    shift 3
    "$QUANTA" export "$qmodel" -o "$OUT/$name.onnx" $export_opts
    "$QUANTA" run "$qmodel" --data "$DATA" --output "$OUT/$name.npy" --json >/dev/null
    if NODE_PATH=$ORT_DIR/node_modules node scripts/export_check.js "$OUT/$name.onnx" \
        --quanta-model "$qmodel" --data "$DATA" --reference "$OUT/$name.npy" "$@"; then
        echo "export_check: $name: ok"
    else
        echo "export_check: $name: FAILED" >&2
        failed=1
    fi
}

check fmnist-cnn "$MODEL" "" --max-rel-diff 1e-5
check fmnist-cnn.int8 "$OUT/fmnist-cnn.int8.safetensors" "" --min-agreement 99.9
check fmnist-cnn.int8-as-uint8 "$OUT/fmnist-cnn.int8.safetensors" --uint8 --min-agreement 99.9
check fmnist-cnn.uint8 "$OUT/fmnist-cnn.uint8.safetensors" "" --min-agreement 99.9
check fmnist-cnn.wo "$OUT/fmnist-cnn.wo.safetensors" "" --max-rel-diff 1e-5
check fmnist-cnn.fp16 "$OUT/fmnist-cnn.fp16.safetensors" "" --max-rel-diff 1e-5

echo "export_check: $(($(date +%s) - start)) s"
[ "$failed" = 0 ] || die "a check failed"
echo "export_check: all checks passed"
