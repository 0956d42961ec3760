#!/bin/sh
# quanta recommendation demo (run by `make demo-recsys` after the build):
# the bundled DLRM-style click-through-rate model (models/ctr.onnx: three
# EmbeddingBag tables for user, item and an 8-item history, dense features
# through an MLP, pairwise dot products, a top MLP and a sigmoid), trained on
# synthetic clicks by scripts/export_ctr.py, which runs when the bundled
# files are missing and needs torch then. Import it, check it against
# PyTorch's probabilities, calibrate on 512 training impressions, quantize
# to static int8 (8-bit tables) and with 4-bit tables, then compare AUC,
# log loss, accuracy at 0.5 and calibration on the 4000 test impressions,
# the file sizes and the latency. No torch needed. Outputs go to build/demo/.
#
# Environment: QUANTA (the binary, default ./quanta in the source tree).
set -eu

cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
ONNX=models/ctr.onnx
TEST=models/ctr.test.safetensors
CALIB=models/ctr.calib.safetensors
PROBS=models/ctr.probs.npy
OUT=build/demo

DEMO=demo-recsys
. scripts/demo_steps.sh
if [ ! -f "$ONNX" ] || [ ! -f "$TEST" ] || [ ! -f "$CALIB" ] || [ ! -f "$PROBS" ]; then
    echo "demo-recsys: the bundled model is missing; training it (needs /usr/bin/python3 with torch)"
    step "generate synthetic clicks, train and export the model" \
        /usr/bin/python3 scripts/export_ctr.py --out models
fi

mkdir -p "$OUT"
M=$OUT/ctr.safetensors
Q8=$OUT/ctr.int8.safetensors
Q4=$OUT/ctr.int4.safetensors
step "import the ONNX model (inputs user, item, hist: ids; dense: floats)" \
    "$QUANTA" import "$ONNX" -o "$M"
step "click probabilities for 3 test impressions" \
    "$QUANTA" run "$M" --data "$TEST" --samples 3
"$QUANTA" run "$M" --data "$TEST" --output "$OUT/ctr.probs.npy" --json >/dev/null
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    /usr/bin/python3 -c 'import sys, numpy as n
a, b = n.load(sys.argv[1]), n.load(sys.argv[2])
print("    max |quanta - PyTorch| / max |PyTorch| = %.2e" % (abs(a - b).max() / abs(b).max()))' \
        "$OUT/ctr.probs.npy" "$PROBS"
fi
step "calibrate activation ranges on 512 training impressions" \
    "$QUANTA" calibrate "$M" --data "$CALIB" -o "$OUT/ctr.calib.json" --quiet
step "quantize to static int8 (tables I8 per row)" \
    "$QUANTA" quantize "$M" --calib "$OUT/ctr.calib.json" -o "$Q8"
step "quantize to static int8 with 4-bit tables" \
    "$QUANTA" quantize "$M" --calib "$OUT/ctr.calib.json" --embedding-bits 4 -o "$Q4"
step "AUC, log loss, accuracy at 0.5, calibration: float against int8 (gated)" \
    "$QUANTA" eval "$M" "$Q8" --data "$TEST" --metric auc --max-metric-drop 0.01 --quiet
step "the same, float against 4-bit tables (gated)" \
    "$QUANTA" eval "$M" "$Q4" --data "$TEST" --metric auc --max-metric-drop 0.01 --quiet
step "latency float, int8, int8 with 4-bit tables: batch 1 and 256, one thread" \
    "$QUANTA" bench "$M" "$Q8" "$Q4" --batch 1,256 --threads 1

# the summary: one line a model, from eval --json
summary() {
    "$QUANTA" eval "$M" "$1" --data "$TEST" --json --quiet >"$OUT/ctr.eval.json"
    /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
fb = d["models"][0]["bytes"]
rows = [("float", d["models"][0])] if sys.argv[2] == "int8" else []
rows.append((sys.argv[2], d["models"][1]))
for name, m in rows:
    print("%-19s AUC %.4f  log loss %.4f  acc@0.5 %5.2f%%  mean p %.3f (clicks %.3f)  %8d bytes %5.1f%%"
          % (name, m["auc"], m["logloss"], m["accuracy"], m["mean_predicted"],
             m["observed_rate"], m["bytes"], 100.0 * m["bytes"] / fb))' "$OUT/ctr.eval.json" "$2"
}
printf '\n==> summary (%s, 4000 test impressions)\n\n' "$TEST"
if /usr/bin/python3 -c 'import json' 2>/dev/null; then
    summary "$Q8" int8
    summary "$Q4" "int8 + 4-bit tables"
else
    ls -l "$M" "$Q8" "$Q4"
fi

printf '\ndemo-recsys: done\n'
