#!/bin/sh
# quanta demo (run by `make demo` after the build), the main job on the
# bundled Fashion-MNIST model: inspect it, calibrate on 1,000 training
# images, quantize to int8, then accuracy and latency of the float and the
# int8 model side by side. Uses Debian's full test set (10,000 images,
# package dataset-fashion-mnist) when installed, else the 1,000 bundled
# images. Outputs go to build/demo/.
#
# Environment: QUANTA (the binary, default ./quanta in the source tree).
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
MODEL=models/fmnist-cnn.safetensors
FULL=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
BUNDLED=models/data/fmnist-test-1000-images-idx3-ubyte.gz
CALIB_DATA=models/data/fmnist-calib-1000-images-idx3-ubyte.gz
OUT=build/demo

DEMO=demo
. scripts/demo_steps.sh
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL is missing (see scripts/train_fmnist.py)" >&2
    exit 1
fi
if [ -f "$FULL" ]; then
    DATA=$FULL
    echo "demo: using the full Fashion-MNIST test set ($DATA)"
elif [ -f "$BUNDLED" ]; then
    DATA=$BUNDLED
    echo "demo: using the 1000 bundled test images ($DATA);"
    echo "      install dataset-fashion-mnist for the full 10000"
else
    echo "demo: no test data: neither $FULL nor $BUNDLED exists" >&2
    exit 1
fi

mkdir -p "$OUT"
step "what the model file holds" "$QUANTA" inspect "$MODEL"
step "predictions of the float model for the first 5 images (top 3 classes)" \
    "$QUANTA" run "$MODEL" --data "$DATA" --samples 5 --top 3
step "calibrate activation ranges on 1,000 training images" \
    "$QUANTA" calibrate "$MODEL" --data "$CALIB_DATA" -o "$OUT/fmnist-cnn.calib.json"
step "quantize to int8 (static, per-channel weights, asymmetric activations)" \
    "$QUANTA" quantize "$MODEL" --calib "$OUT/fmnist-cnn.calib.json" -o "$OUT/fmnist-cnn.int8.safetensors"
step "accuracy and latency, float against int8, side by side (gated)" \
    "$QUANTA" eval "$MODEL" "$OUT/fmnist-cnn.int8.safetensors" --data "$DATA" \
    --max-drop 1 --min-agreement 98
step "one HTML page: summary, SQNR and histograms per layer, class changes" \
    "$QUANTA" report "$MODEL" "$OUT/fmnist-cnn.int8.safetensors" --data "$DATA" \
    -o "$OUT/report.html"
step "latency float against int8, batch 1 and 64, one thread" \
    "$QUANTA" bench "$MODEL" "$OUT/fmnist-cnn.int8.safetensors" --batch 1,64 --threads 1

printf '\ndemo: done\n'
