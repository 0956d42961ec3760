#!/bin/sh
# quanta export on torchvision models (slow; not run by CI): for each model
# exported by scripts/export_zoo.py (random weights, 224x224 RGB, NCHW),
#   quanta import    -> float model; quanta quantize (calib.npy) -> int8
#   quanta export    both, back to ONNX
#   ONNX Runtime     on the inputs.npy samples (16, or SAMPLES) against `quanta run`:
#                    float max |ort - quanta| / max |quanta| <= 1e-5,
#                    int8 the same top-1 class on >= 99.9% of the samples
# The int8 model is checked in the form ONNX Runtime computes exactly on
# this CPU: on x86 without AVX-512 VNNI or AVX-VNNI, `quanta export --uint8`
# (ORT adds 128 to int8 activations and its uint8 x int8 kernels saturate
# their 16-bit pair sums there; see man quanta-export), else the plain int8
# export. The other form is run too, for information only ("checked":
# false in its line; it does not make the script fail).
# One JSON line per check from scripts/export_check.js (plus "kind" and
# "checked"), then a table; exits 1 if a checked line fails or cannot run.
#
# Usage: scripts/export_zoo_check.sh [MODEL ...] (default: resnet18
#        mobilenet_v2 squeezenet1_1)
# Environment: QUANTA (default ./quanta), OUT (default build/zoo-export),
#              ORT_DIR (an onnxruntime-node install, default
#              build/export-check/ort as scripts/export_check.sh makes it),
#              NO_EXPORT=1 reuses OUT/MODEL/model.onnx,
#              SAMPLES=N exports N inputs instead of 16 (a top-1 rate of
#              99.9% needs about 1000 to mean more than "all of them"),
#              INT8_FORM=int8|uint8 overrides the checked int8 form.
set -eu
cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
OUT=${OUT:-build/zoo-export}
ORT_DIR=${ORT_DIR:-build/export-check/ort}
[ $# -gt 0 ] || set -- resnet18 mobilenet_v2 squeezenet1_1
[ -d "$ORT_DIR/node_modules/onnxruntime-node" ] ||
    { echo "export_zoo_check: no onnxruntime-node in $ORT_DIR (run scripts/export_check.sh)" >&2; exit 1; }
if [ -z "${INT8_FORM:-}" ]; then
    INT8_FORM=int8
    if [ "$(uname -m)" = x86_64 ] && ! grep -qw -e avx512_vnni -e avx_vnni /proc/cpuinfo; then
        INT8_FORM=uint8
    fi
fi
case $INT8_FORM in
int8) other=uint8 ;;
uint8) other=int8 ;;
*) echo "export_zoo_check: INT8_FORM '$INT8_FORM' is not int8 or uint8" >&2; exit 1 ;;
esac
mkdir -p "$OUT"
if [ "${NO_EXPORT:-0}" != 1 ]; then
    /usr/bin/python3 scripts/export_zoo.py --out "$OUT" --opset 13 --samples "${SAMPLES:-16}" "$@" >&2
fi
results=$OUT/results.jsonl
: >"$results"
failed=0
# check MODEL KIND(float|int8|uint8) CHECKED(true|false): one JSON line
check() {
    d=$OUT/$1 kind=$2 checked=$3
    model=float opts= crit="--max-rel-diff 1e-5"
    if [ "$kind" != float ]; then
        model=int8 crit="--min-agreement 99.9"
        [ "$kind" = int8 ] || opts=--uint8
    fi
    if ! "$QUANTA" export "$d/$model.safetensors" -o "$d/$kind.export.onnx" $opts; then
        echo "export_zoo_check: $1: $kind export failed" >&2
        echo "{\"zoo\":\"$1\",\"kind\":\"$kind\",\"checked\":$checked,\"ok\":false}" >>"$results"
        [ "$checked" = false ] || failed=1
        return
    fi
    line=$(NODE_PATH=$ORT_DIR/node_modules node scripts/export_check.js "$d/$kind.export.onnx" \
        --quanta-model "$d/$model.safetensors" --data "$d/inputs.npy" \
        --reference "$d/$model.quanta.npy" --batch 4 $crit) || :
    [ -n "$line" ] || line='"ok":false}'
    line="{\"zoo\":\"$1\",\"kind\":\"$kind\",\"checked\":$checked,${line#\{}"
    echo "$line"
    echo "$line" >>"$results"
    case $line in *'"ok":true'*) ;; *) [ "$checked" = false ] || failed=1 ;; esac
}
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
    ran=1
    for model in float int8; do
        "$QUANTA" run "$d/$model.safetensors" --data "$d/inputs.npy" \
            --output "$d/$model.quanta.npy" --json >/dev/null ||
            { echo "export_zoo_check: $m: quanta run of $model failed" >&2; ran=0; }
    done
    if [ "$ran" = 1 ]; then
        check "$m" float true
        check "$m" "$INT8_FORM" true
        check "$m" "$other" false
    else
        failed=1
    fi
    secs=$(($(date +%s) - start))
    echo "{\"zoo\":\"$m\",\"seconds\":$secs}" >>"$results"
    echo "export_zoo_check: $m: $secs s" >&2
done
# the table: one row a model
node -e '
const rows = {}, order = [];
for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
  const r = JSON.parse(l);
  if (!rows[r.zoo]) { rows[r.zoo] = {}; order.push(r.zoo); }
  if (r.seconds !== undefined) rows[r.zoo].seconds = r.seconds; else rows[r.zoo][r.kind] = r;
}
const form = process.argv[2], other = process.argv[3];
const top1 = (r) => (r && r.samples ? `${Math.round(r.top1_agreement_pct * r.samples / 100)}/${r.samples}` : "-");
console.log(`| model | float max rel diff | int8 top-1 (${form}) | int8 top-1 (${other}, info) | s | result |`);
console.log("|---|---|---|---|---|---|");
for (const m of order) {
  const r = rows[m], f = r.float, q = r[form];
  const ok = f && f.ok && q && q.ok;
  console.log(`| ${m} | ${f && f.samples ? f.max_rel_diff.toExponential(1) : "-"} | ${top1(q)} | ${top1(r[other])} | ${r.seconds ?? "-"} | ${ok ? "pass" : "FAIL"} |`);
}' "$results" "$INT8_FORM" "$other" >&2
exit $failed
