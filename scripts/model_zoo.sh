#!/bin/sh
# The README's model zoo table: torchvision 0.14 classification models with
# random weights (fixed seed), exported to ONNX by scripts/export_zoo.py
# (224x224 RGB, NCHW, dynamic batch), then for each model:
#
#   quanta import    MODEL.onnx -> float model
#   quanta run       on 16 inputs (NCHW, the imported model's own layout),
#                    outputs compared with PyTorch's:
#                    max |quanta - PyTorch| / max |PyTorch| <= 1e-4
#   quanta quantize  static int8, default settings, calibrated on 64 other
#                    samples (NCHW as well)
#   quanta eval      float against int8 on the 16 inputs: output SQNR >= 25 dB
#
# Prints one Markdown table row per model and keeps going when a model
# fails; exits 1 if a target is missed. The column "PyTorch, 40 dB input
# noise" is no target: it is the output SQNR of the float network in
# PyTorch when noise at 40 dB SNR is added to its inputs, a measure of how
# much the random network itself amplifies small errors (see
# scripts/export_zoo.py, --bn-stats).
#
# Usage: scripts/model_zoo.sh [--opset N] [--bn-stats init|data] [--no-export]
#                             [--method M] [MODEL ...]
#        (default: opset 13, init, every model of scripts/export_zoo.py, the
#        calibration method of quanta quantize unless --method names one)
# Environment: QUANTA (default ./quanta), OUT (default build/zoo),
#              THREADS (quanta worker threads, default 1).
set -eu
cd "$(dirname "$0")/.."
QUANTA=${QUANTA:-./quanta}
OUT=${OUT:-build/zoo}
THREADS=${THREADS:-1}
PY=/usr/bin/python3
OPSET=13
BN=init
EXPORT=1
METHOD=
while [ $# -gt 0 ]; do
    case "$1" in
        --opset) OPSET=$2; shift 2 ;;
        --bn-stats) BN=$2; shift 2 ;;
        --no-export) EXPORT=0; shift ;;
        --method) METHOD=$2; shift 2 ;;
        -*) echo "model_zoo: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    set -- $("$PY" -c 'import sys; sys.path.insert(0, "scripts"); import export_zoo; print(" ".join(export_zoo.MODELS))')
fi
[ "$QUANTA" != ./quanta ] || make -j2 quanta > /dev/null
mkdir -p "$OUT"

if [ "$EXPORT" = 1 ]; then
    "$PY" scripts/export_zoo.py --out "$OUT" --opset "$OPSET" --bn-stats "$BN" "$@" >&2 2> "$OUT/export.log" || true
fi

# secs: seconds since the epoch
secs() { date +%s; }

for m in "$@"; do
    d=$OUT/$m
    t0=$(secs)
    rm -f "$d"/float.safetensors "$d"/int8.safetensors "$d"/quanta_out.npy "$d"/eval.json \
          "$d"/import.err "$d"/run.err "$d"/quantize.err "$d"/eval.err
    if [ ! -f "$d/model.onnx" ]; then
        echo "model_zoo: $m: no $d/model.onnx (export failed)" >&2
    elif ! "$QUANTA" import "$d/model.onnx" -o "$d/float.safetensors" > /dev/null 2> "$d/import.err"; then
        echo "model_zoo: $m: import refused" >&2
    else
        "$QUANTA" run "$d/float.safetensors" --data "$d/inputs.npy" \
            --output "$d/quanta_out.npy" --threads "$THREADS" > /dev/null 2> "$d/run.err" || true
        if "$QUANTA" quantize "$d/float.safetensors" --data "$d/calib.npy" \
                ${METHOD:+--method "$METHOD"} -o "$d/int8.safetensors" \
                > /dev/null 2> "$d/quantize.err"; then
            "$QUANTA" eval "$d/float.safetensors" "$d/int8.safetensors" --data "$d/inputs.npy" \
                --json --threads "$THREADS" > "$d/eval.json" 2> "$d/eval.err" || true
        fi
    fi
    echo $(( $(secs) - t0 )) > "$d/seconds"
done

"$PY" - "$OUT" "$@" <<'PY'
import json, os, sys
import numpy as np
out, models = sys.argv[1], sys.argv[2:]
ok = True


def first_line(path):
    """The first line of an error file, without the 'quanta: ' prefix and
    the ONNX file name, escaped for a Markdown cell."""
    try:
        text = open(path).read().strip()
    except OSError:
        return ""
    line = text.splitlines()[0] if text else "(no message)"
    if line.startswith("quanta: "):
        line = line[len("quanta: "):]
    if ".onnx: " in line:  # the file name, which the row already says
        line = line.split(".onnx: ", 1)[1]
    return line.replace("|", "\\|")


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


print("| model | opset | import | float max rel. error | float <= 1e-4 | int8 quantize"
      " | output SQNR | SQNR >= 25 dB | top-1 agreement | int8 size vs float"
      " | PyTorch, 40 dB input noise | seconds |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    d = os.path.join(out, m)
    try:
        info = json.load(open(os.path.join(d, "export.json")))
    except (OSError, ValueError):
        info = {}
    row = [m, str(info.get("opset", "-"))]
    noise = "-"
    if "noise40_sqnr_db" in info:
        noise = "%.1f dB" % info["noise40_sqnr_db"]
        if info["noise40_sqnr_db"] >= 100:  # random weights whose output is a constant
            noise += " (output ignores the input)"
    secs = open(os.path.join(d, "seconds")).read().strip() if os.path.exists(os.path.join(d, "seconds")) else "-"
    if not os.path.exists(os.path.join(d, "model.onnx")):
        row += ["export failed: " + first_line(os.path.join(d, "export.err"))] + ["-"] * 7
        ok = False
        print("| " + " | ".join(row + [noise, secs]) + " |")
        continue
    if not os.path.exists(os.path.join(d, "float.safetensors")):
        row += ["refused: " + first_line(os.path.join(d, "import.err"))] + ["-"] * 7
        ok = False
        print("| " + " | ".join(row + [noise, secs]) + " |")
        continue
    row.append("ok")
    qo = os.path.join(d, "quanta_out.npy")
    if os.path.exists(qo):
        q, ref = np.load(qo), np.load(os.path.join(d, "outputs.npy"))
        if q.shape != ref.shape:
            row += ["shape %s vs %s" % (list(q.shape), list(ref.shape)), "fail"]
            ok = False
        else:
            rel = float(np.abs(q.astype(np.float64) - ref).max() / np.abs(ref).max())
            good = rel <= 1e-4
            ok &= good
            row += ["%.2e" % rel, "pass" if good else "FAIL"]
    else:
        row += ["run failed: " + first_line(os.path.join(d, "run.err")), "FAIL"]
        ok = False
    fsize, isize = size(os.path.join(d, "float.safetensors")), size(os.path.join(d, "int8.safetensors"))
    if isize is None:
        row += ["failed: " + first_line(os.path.join(d, "quantize.err"))] + ["-"] * 4
        ok = False
    else:
        row.append("ok")
        try:
            r = json.load(open(os.path.join(d, "eval.json")))
        except (OSError, ValueError):
            r = None
        if r is None:
            row += ["eval failed: " + first_line(os.path.join(d, "eval.err")), "FAIL", "-"]
            ok = False
        else:
            sq = r["sqnr_db"]
            good = sq is None or sq >= 25.0
            ok &= good
            row += ["identical" if sq is None else "%.1f dB" % sq, "pass" if good else "FAIL",
                    "%.2f%%" % r["agreement"]]
        row.append("%.1f%%" % (100.0 * isize / fsize))
    print("| " + " | ".join(row + [noise, secs]) + " |")
print("\nAll targets met." if ok else "\nSome targets missed.")
sys.exit(0 if ok else 1)
PY
