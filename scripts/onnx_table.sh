#!/bin/sh
# The README's ONNX import table: each PyTorch model exported to ONNX by
# scripts/export_onnx.py (tests/fixtures/onnx/) is imported, evaluated on
# the 10,000 Fashion-MNIST test images (Debian's dataset-fashion-mnist) and
# compared with PyTorch's top-1 count for the same weights, then quantized
# with the default static int8 settings (calibrated on the 1,000 bundled
# training images) and evaluated against its float import.
# Prints a Markdown table; exits 1 if a count differs from PyTorch's or an
# int8 model loses more than 1 point.
set -eu
cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
TEST=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
CALIB=models/data/fmnist-calib-1000-images-idx3-ubyte.gz
OUT=${1:-build/onnx-table}
mkdir -p "$OUT"
if [ ! -f "$TEST" ]; then
    echo "onnx_table: $TEST is missing (apt-get install dataset-fashion-mnist)" >&2
    exit 1
fi
for m in cnn_bn residual dwsep mlp; do
    "$QUANTA" import "tests/fixtures/onnx/$m.onnx" -o "$OUT/$m.safetensors" \
        --normalize 0.00392156862745098 > /dev/null
    "$QUANTA" quantize "$OUT/$m.safetensors" --data "$CALIB" -o "$OUT/$m.int8.safetensors" >/dev/null
    "$QUANTA" eval "$OUT/$m.safetensors" "$OUT/$m.int8.safetensors" --data "$TEST" --json \
        > "$OUT/$m.json" || true
done
/usr/bin/env python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ok = True
print("| ONNX model (opset) | PyTorch top-1 (10k) | quanta float top-1 | int8 top-1 | drop (points) | agreement |")
print("|---|---|---|---|---|---|")
for m in ["cnn_bn", "residual", "dwsep", "mlp"]:
    ref = json.load(open(f"tests/fixtures/onnx/{m}.reference.json"))
    r = json.load(open(f"{out}/{m}.json"))
    fl, q = r["models"]
    quanta_correct = round(fl["accuracy"] * r["samples"] / 100)
    same = quanta_correct == ref["pytorch_correct_10000"]
    ok &= same and r["accuracy_drop"] <= 1.0
    print(f"| {m} ({ref['opset']}) | {ref['pytorch_correct_10000']} | {quanta_correct}"
          f"{'' if same else ' (DIFFERS)'} | {q['accuracy']:.2f}% | {r['accuracy_drop']:+.2f} | {r['agreement']:.2f}% |")
print("\nAll targets met." if ok else "\nSome targets missed.")
sys.exit(0 if ok else 1)
PY
