#!/bin/sh
# quanta text demo (run by `make demo-text` after the build): the bundled
# BERT-style encoder that tells a Debian man page's kind (command,
# programming interface, file format/overview, administration) from its
# first 63 words (models/text-bert.onnx, trained and exported by
# scripts/export_text_encoder.py, which runs when the bundled files are
# missing and needs torch then). Import it, check it against PyTorch's
# logits, calibrate on 256 training pages, quantize to int8, compare
# accuracy and agreement on the 400 test pages, then latency.
# Outputs go to build/demo/.
#
# Environment: QUANTA (the binary, default ./quanta in the source tree).
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
ONNX=models/text-bert.onnx
TEST=models/text-bert.test.safetensors
CALIB=models/text-bert.calib.safetensors
LOGITS=models/text-bert.logits.npy
OUT=build/demo

DEMO=demo-text
. scripts/demo_steps.sh
if [ ! -f "$ONNX" ] || [ ! -f "$TEST" ] || [ ! -f "$CALIB" ] || [ ! -f "$LOGITS" ]; then
    echo "demo-text: the bundled model is missing; training it (needs /usr/bin/python3 with torch)"
    step "train and export the encoder on /usr/share/man" \
        /usr/bin/python3 scripts/export_text_encoder.py --out models
fi

mkdir -p "$OUT"
M=$OUT/text-bert.safetensors
Q=$OUT/text-bert.int8.safetensors
step "import the ONNX encoder (two inputs: ids and mask)" \
    "$QUANTA" import "$ONNX" -o "$M"
step "float predictions for 3 test pages, then the largest difference from PyTorch's logits" \
    "$QUANTA" run "$M" --data "$TEST" --samples 3 --top 2
"$QUANTA" run "$M" --data "$TEST" --output "$OUT/text-bert.logits.npy" --json >/dev/null
if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    /usr/bin/python3 -c 'import sys, numpy as n
a, b = n.load(sys.argv[1]), n.load(sys.argv[2])
print("    max |quanta - PyTorch| / max |PyTorch| = %.2e" % (abs(a - b).max() / abs(b).max()))' \
        "$OUT/text-bert.logits.npy" "$LOGITS"
fi
step "calibrate activation ranges on 256 training pages" \
    "$QUANTA" calibrate "$M" --data "$CALIB" -o "$OUT/text-bert.calib.json"
step "quantize to int8 (dense layers int8 per-channel; see man quanta-quantize, TRANSFORMERS)" \
    "$QUANTA" quantize "$M" --calib "$OUT/text-bert.calib.json" -o "$Q"
step "accuracy, agreement and SQNR, float against int8 (gated)" \
    "$QUANTA" eval "$M" "$Q" --data "$TEST" --max-drop 1 --min-agreement 98
step "latency float against int8, batch 1 and 64, one thread" \
    "$QUANTA" bench "$M" "$Q" --batch 1,64 --threads 1

printf '\ndemo-text: done\n'
