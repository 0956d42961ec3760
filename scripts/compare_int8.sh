#!/bin/sh
# Compares quanta's int8 with ONNX Runtime's and PyTorch's int8 on three
# Fashion-MNIST models (issue 15, "Done means"), all calibrated on the same
# 1,000 training images (models/data/fmnist-calib-1000, the file quanta's
# other scripts calibrate on) and evaluated on the 10,000 test images
# (Debian's dataset-fashion-mnist). Prints one Markdown table: per model and
# variant, top-1 accuracy and top-1 agreement with that variant's own float
# model (quanta int8 with quanta's float import, ORT int8 with ORT running
# the float ONNX, PyTorch int8 with PyTorch float; the float rows give their
# agreement with PyTorch float, which all floats should match).
#
# Models, trained and exported by scripts/compare_int8.py (fixed seeds,
# single thread; weights cached in OUT/*.pt, delete them to retrain):
#   residual  scripts/export_onnx.py's small ResNet (batch norm, residual add)
#   dwsep     scripts/export_onnx.py's depthwise-separable net
#   mbv2      a MobileNetV2-style net (inverted residual blocks, expansion,
#             depthwise 3x3, relu6, batch norm), one epoch of training
# Each exported ONNX is imported with `quanta import --normalize 1/255`, as
# scripts/onnx_table.sh does.
#
# Variants:
#   quanta default          quanta quantize FLOAT --data CALIB -o Q
#   --no-equalize, --no-bias-correction, --int8-outputs
#                           the default with one technique off (int8-outputs:
#                           the logits requantized to int8 instead of float
#                           from the int32 accumulator)
#   per-tensor (auto), per-tensor --equalize, per-tensor --no-equalize
#                           --weights per-tensor; the default equalization is
#                           "auto" (both tried, the higher output SQNR kept)
#   ORT float               the float ONNX in ONNX Runtime
#   ORT int8 min/max QDQ    ONNX Runtime's quantize_static defaults (QDQ
#                           format, MinMax calibration, QUInt8 activations,
#                           QInt8 weights, per_channel=False,
#                           reduce_range=False), built by quanta as
#                             quanta quantize --method minmax
#                               --weights per-tensor    (per_channel=False;
#                                 symmetric int8 [-127, 127], scale max|w|/127)
#                               --activation-type uint8 --activations asymmetric
#                                 (QUInt8 from [min(lo,0), max(hi,0)]:
#                                 scale (hi-lo)/255, zero point round(-lo/scale))
#                               --no-equalize --no-bias-correction (ORT has
#                                 neither)
#                               --int8-outputs (ORT's QDQ quantizer also puts
#                                 Q/DQ on a graph output of Conv/Gemm)
#                           then `quanta export` (QDQ ONNX: int32 biases of
#                           scale sx*sw, as ORT's) and run in ONNX Runtime;
#                           the export writes the int8 weights of a uint8
#                           model as uint8 q + 128 (zero point 128: the same
#                           values, computed exactly by ORT's U8U8 kernels),
#                           so the row is repeated with them turned back into
#                           int8, zero point 0, as quantize_static writes
#                           them (ORT's U8S8 kernels, which may saturate on
#                           CPUs without AVX-512 VNNI).
#                           Not reproduced: ORT rounds half to even where
#                           quanta rounds half away from zero.
#   quanta default in ORT   the quanta default model exported and run in ORT,
#                           as int8 (S8S8) and with --uint8 (U8U8); on an x86
#                           CPU without AVX-512 VNNI ORT computes S8S8 QDQ
#                           convs with 16-bit intermediate sums that can
#                           saturate, so only the U8U8 form gives quanta's
#                           own predictions there (see quanta-export(1))
#   PyTorch float / int8    torch.ao.quantization FX graph mode, the default
#                           qconfig mapping of the onednn engine
#                           (HistogramObserver activations, per-channel
#                           weights; TORCH_ENGINE=qnnpack for that engine)
#
# Run time on the 2-core test machine (shared with other jobs): 194 s from
# an empty OUT (npm install, 84 s of training), 87 s with the weights
# cached; the table was the same both times.
# Exits 0 with the table; non-zero when a step cannot run (no test set,
# node/npm, ORT not installable, a quanta command failing).
#
# Environment: QUANTA (default ./quanta), ORT_DIR (an existing npm install
# of onnxruntime-node; default OUT/ort, installed once like
# scripts/export_check.sh does). Argument: OUT (default build/compare-int8).
set -eu
cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
PY=/usr/bin/python3
TEST=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
CALIB=models/data/fmnist-calib-1000-images-idx3-ubyte.gz
OUT=${1:-build/compare-int8}
ORT_DIR=${ORT_DIR:-$OUT/ort}
start=$(date +%s)

die() {
    echo "compare_int8: $*" >&2
    exit 1
}

[ -x "$QUANTA" ] || die "$QUANTA is not built; run 'make' first"
[ -f "$TEST" ] || die "$TEST is missing (Debian package dataset-fashion-mnist)"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || die "node/npm not found"
mkdir -p "$OUT"
if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
    echo "compare_int8: installing onnxruntime-node in $ORT_DIR (npm install --ignore-scripts)" >&2
    mkdir -p "$ORT_DIR"
    (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node \
        >npm.log 2>&1) || die "npm install onnxruntime-node failed (see $ORT_DIR/npm.log)"
fi
ort_run() { # model.onnx out.json
    NODE_PATH=$ORT_DIR/node_modules node scripts/compare_int8_ort.js "$1" "$TEST" "$2" ||
        die "ONNX Runtime failed on $1"
}

"$PY" scripts/compare_int8.py prepare "$OUT" || die "compare_int8.py prepare failed"

ROWS=$OUT/variants.tsv
: > "$ROWS"
row() { # model variant prediction-file reference-file
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$ROWS"
}
quant() { # model name variant-label quantize-options...
    m=$1 name=$2 label=$3
    shift 3
    "$QUANTA" quantize "$OUT/$m.safetensors" --data "$CALIB" -o "$OUT/$m.$name.safetensors" \
        --quiet "$@" > /dev/null 2> "$OUT/$m.$name.log" ||
        die "quanta quantize $m $* failed (see $OUT/$m.$name.log)"
    "$QUANTA" run "$OUT/$m.$name.safetensors" --data "$TEST" --output "$OUT/$m.$name.npy" \
        --json > /dev/null || die "quanta run $OUT/$m.$name.safetensors failed"
    row "$m" "$label" "$m.$name.npy" "$m.float.npy"
}

for m in residual dwsep mbv2; do
    echo "compare_int8: $m ($(($(date +%s) - start)) s)" >&2
    "$QUANTA" import "$OUT/$m.onnx" -o "$OUT/$m.safetensors" \
        --normalize 0.00392156862745098 > /dev/null || die "quanta import $m failed"
    "$QUANTA" run "$OUT/$m.safetensors" --data "$TEST" --output "$OUT/$m.float.npy" \
        --json > /dev/null || die "quanta run $m failed"
    row "$m" "PyTorch float" "$m.torch_float.npy" "-"
    row "$m" "quanta float" "$m.float.npy" "$m.torch_float.npy"
    quant "$m" default "quanta int8 default"
    quant "$m" no-eq "quanta --no-equalize" --no-equalize
    quant "$m" no-bc "quanta --no-bias-correction" --no-bias-correction
    quant "$m" int8-out "quanta --int8-outputs" --int8-outputs
    quant "$m" pt "quanta --weights per-tensor (equalize auto)" --weights per-tensor
    quant "$m" pt-eq "quanta --weights per-tensor --equalize" --weights per-tensor --equalize
    quant "$m" pt-no-eq "quanta --weights per-tensor --no-equalize" --weights per-tensor \
        --no-equalize
    quant "$m" ortrecipe "quanta, ORT's min/max recipe" --method minmax --weights per-tensor \
        --activation-type uint8 --activations asymmetric --no-equalize --no-bias-correction \
        --int8-outputs
    ort_run "$OUT/$m.onnx" "$OUT/$m.ort_float.json"
    row "$m" "ORT float" "$m.ort_float.json" "$m.torch_float.npy"
    "$QUANTA" export "$OUT/$m.ortrecipe.safetensors" -o "$OUT/$m.ortrecipe.onnx" ||
        die "quanta export $m.ortrecipe failed"
    ort_run "$OUT/$m.ortrecipe.onnx" "$OUT/$m.ort_int8.json"
    row "$m" "ORT int8 min/max QDQ (U8 weights as exported)" "$m.ort_int8.json" \
        "$m.ort_float.json"
    "$PY" scripts/compare_int8.py s8weights "$OUT/$m.ortrecipe.onnx" "$OUT/$m.ortrecipe.s8.onnx" ||
        die "compare_int8.py s8weights $m failed"
    ort_run "$OUT/$m.ortrecipe.s8.onnx" "$OUT/$m.ort_int8_s8.json"
    row "$m" "ORT int8 min/max QDQ (S8 weights, as quantize_static)" "$m.ort_int8_s8.json" \
        "$m.ort_float.json"
    "$QUANTA" export "$OUT/$m.default.safetensors" -o "$OUT/$m.default.onnx" ||
        die "quanta export $m.default failed"
    ort_run "$OUT/$m.default.onnx" "$OUT/$m.ort_default.json"
    row "$m" "quanta int8 default, exported (S8S8), in ORT" "$m.ort_default.json" \
        "$m.ort_float.json"
    "$QUANTA" export "$OUT/$m.default.safetensors" -o "$OUT/$m.default.u8.onnx" --uint8 ||
        die "quanta export --uint8 $m.default failed"
    ort_run "$OUT/$m.default.u8.onnx" "$OUT/$m.ort_default_u8.json"
    row "$m" "quanta int8 default, exported --uint8 (U8U8), in ORT" "$m.ort_default_u8.json" \
        "$m.ort_float.json"
    row "$m" "PyTorch int8 (FX, ${TORCH_ENGINE:-onednn}, histogram)" "$m.torch_int8.npy" \
        "$m.torch_float.npy"
done

"$PY" scripts/compare_int8.py table "$OUT" "$ROWS" || die "compare_int8.py table failed"
echo
echo "compare_int8: $(($(date +%s) - start)) s"
