#!/bin/sh
# quanta demo (run by `make demo` after the build): inspects the bundled
# Fashion-MNIST model, runs it on a few samples and evaluates it on the test
# set. Uses Debian's full test set (10000 images, package
# dataset-fashion-mnist) when installed, else the 1000 bundled images.
#
# Environment: QUANTA (the binary, default ./quanta in the source tree).
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
MODEL=models/fmnist-cnn.safetensors
FULL=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
BUNDLED=models/data/fmnist-test-1000-images-idx3-ubyte.gz

step=0
step() {
    step=$((step + 1))
    printf '\n==> step %d: %s\n' "$step" "$1"
    shift
    printf '    $ %s\n\n' "$*"
    "$@"
}

if [ ! -x "$QUANTA" ]; then
    echo "demo: $QUANTA is not built; run 'make' first" >&2
    exit 1
fi
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

step "what the model file holds" "$QUANTA" inspect "$MODEL"
step "predictions for the first 5 images (top 3 classes)" \
    "$QUANTA" run "$MODEL" --data "$DATA" --samples 5 --top 3
step "accuracy and latency of the float model" "$QUANTA" eval "$MODEL" --data "$DATA"

printf '\ndemo: done\n'
