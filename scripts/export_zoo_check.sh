#!/bin/sh
# quanta export on torchvision models (slow; not run by CI): for each model
# exported by scripts/export_zoo.py (random weights, 224x224 RGB, NCHW),
#   quanta import    -> float model; quanta quantize (calib.npy) -> int8
#   quanta export    both, back to ONNX
#   ONNX Runtime     on the 16 inputs.npy samples against `quanta run`:
#                    float max |ort - quanta| / max |quanta| <= 1e-5,
#                    int8 the same top-1 class on >= 99.9% of the samples
# One JSON line per check from scripts/export_check.js; exits 1 if any
# check fails or cannot run.
#
# Usage: scripts/export_zoo_check.sh [MODEL ...] (default: resnet18
#        mobilenet_v2 squeezenet1_1)
# Environment: QUANTA (default ./quanta), OUT (default build/zoo-export),
#              ORT_DIR (an onnxruntime-node install, default
#              build/export-check/ort as scripts/export_check.sh makes it),
#              NO_EXPORT=1 reuses OUT/MODEL/model.onnx.
set -eu
cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
OUT=${OUT:-build/zoo-export}
ORT_DIR=${ORT_DIR:-build/export-check/ort}
[ $# -gt 0 ] || set -- resnet18 mobilenet_v2 squeezenet1_1
[ -d "$ORT_DIR/node_modules/onnxruntime-node" ] ||
    { echo "export_zoo_check: no onnxruntime-node in $ORT_DIR (run scripts/export_check.sh)" >&2; exit 1; }
mkdir -p "$OUT"
if [ "${NO_EXPORT:-0}" != 1 ]; then
    /usr/bin/python3 scripts/export_zoo.py --out "$OUT" --opset 13 "$@" >&2
fi
failed=0
for m in "$@"; do
    d=$OUT/$m
    start=$(date +%s)
    if ! { "$QUANTA" import "$d/model.onnx" -o "$d/float.safetensors" >/dev/null &&
           "$QUANTA" quantize "$d/float.safetensors" --data "$d/calib.npy" \
               -o "$d/int8.safetensors" >/dev/null 2>&1; }; then
        echo "export_zoo_check: $m: import or quantize failed" >&2
        failed=1
        continue
    fi
    for kind in float int8; do
        if "$QUANTA" export "$d/$kind.safetensors" -o "$d/$kind.export.onnx" &&
           "$QUANTA" run "$d/$kind.safetensors" --data "$d/inputs.npy" \
               --output "$d/$kind.quanta.npy" --json >/dev/null; then
            if [ "$kind" = float ]; then check="--max-rel-diff 1e-5"; else check="--min-agreement 99.9"; fi
            NODE_PATH=$ORT_DIR/node_modules node scripts/export_check.js "$d/$kind.export.onnx" \
                --quanta-model "$d/$kind.safetensors" --data "$d/inputs.npy" \
                --reference "$d/$kind.quanta.npy" --batch 4 $check || failed=1
        else
            echo "export_zoo_check: $m: $kind export or run failed" >&2
            failed=1
        fi
    done
    echo "export_zoo_check: $m: $(($(date +%s) - start)) s"
done
exit $failed
