#!/bin/sh
# Shows that calibration's peak memory stays flat when the number of samples
# grows tenfold: runs `quanta calibrate` on N and 10*N samples and compares
# the peak resident set sizes (PASS when they differ by at most 10%).
#
#   scripts/calib_memory.sh [N]          (default N = 1000)
#
# Environment: QUANTA (binary, default ./quanta), METHOD (default entropy),
# MODEL (default models/fmnist-cnn.safetensors, else a small CNN generated
# here with numpy), DATA (default the Debian Fashion-MNIST training images,
# package dataset-fashion-mnist, else a generated U8 NPY of 10*N images).
# Peak RSS comes from GNU time (`/usr/bin/time -f %M`, package `time`) when
# installed, else from polling VmHWM in /proc/<pid>/status.
set -eu

N=${1:-1000}
N10=$((N * 10))
QUANTA=${QUANTA:-./quanta}
METHOD=${METHOD:-entropy}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/calib-memory.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -x "$QUANTA" ] || { echo "calib_memory: no quanta binary at $QUANTA (set QUANTA=...)" >&2; exit 2; }

MODEL=${MODEL:-$here/models/fmnist-cnn.safetensors}
if [ ! -f "$MODEL" ]; then
    MODEL=$tmp/cnn.safetensors
    # A small CNN for [N, 28, 28, 1] images, fixed-seed random weights.
    "$PY" - "$MODEL" <<'EOF'
import json, struct, sys
import numpy as np
rng = np.random.default_rng(7)
tensors = {
    "conv1.weight": (rng.standard_normal((8, 3, 3, 1)) * 0.3).astype("<f4"),
    "conv1.bias": np.zeros(8, "<f4"),
    "fc.weight": (rng.standard_normal((10, 13 * 13 * 8)) * 0.02).astype("<f4"),
    "fc.bias": np.zeros(10, "<f4"),
}
graph = {
    "format": "quanta.graph", "version": 1, "name": "calib-memory-cnn",
    "inputs": [{"name": "image", "shape": [-1, 28, 28, 1], "dtype": "F32",
                "normalize": {"scale": 1 / 255, "mean": [0.0], "std": [1.0]}}],
    "outputs": ["logits"],
    "nodes": [
        {"op": "conv2d", "name": "conv1", "inputs": ["image", "conv1.weight", "conv1.bias"],
         "outputs": ["conv1.out"], "attrs": {"activation": "relu"}},
        {"op": "max_pool2d", "name": "pool1", "inputs": ["conv1.out"], "outputs": ["pool1.out"],
         "attrs": {"kernel": [2, 2]}},
        {"op": "flatten", "name": "flat", "inputs": ["pool1.out"], "outputs": ["flat.out"]},
        {"op": "dense", "name": "fc", "inputs": ["flat.out", "fc.weight", "fc.bias"],
         "outputs": ["logits"]},
    ],
}
header, blobs, off = {"__metadata__": {"quanta.graph": json.dumps(graph)}}, [], 0
for name, a in tensors.items():
    b = a.tobytes()
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
EOF
fi

DATA=${DATA:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}
if [ ! -f "$DATA" ]; then
    DATA=$tmp/images.npy
    "$PY" - "$DATA" "$N10" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(11)
np.save(sys.argv[1], rng.integers(0, 256, (int(sys.argv[2]), 28, 28, 1), dtype=np.uint8))
EOF
fi

# Peak RSS in KiB of the command given as arguments; its output is dropped.
peak_kib() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
        tail -n 1 "$tmp/rss"
    else
        "$@" >/dev/null 2>"$tmp/err" &
        pid=$! hwm=0
        while [ -r "/proc/$pid/status" ]; do
            v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
            [ -n "$v" ] && hwm=$v
            sleep 0.01
        done
        wait "$pid" || { cat "$tmp/err" >&2; return 1; }
        echo "$hwm"
    fi
}

echo "model:  $MODEL"
echo "data:   $DATA"
echo "method: $METHOD"
r1=$(peak_kib "$QUANTA" calibrate "$MODEL" --data "$DATA" --samples "$N" --method "$METHOD" -o "$tmp/c1.json")
r10=$(peak_kib "$QUANTA" calibrate "$MODEL" --data "$DATA" --samples "$N10" --method "$METHOD" -o "$tmp/c10.json")
grep -q "\"samples\": $N10," "$tmp/c10.json" || { echo "calib_memory: the data set holds fewer than $N10 samples" >&2; exit 2; }
printf "samples %6d: peak RSS %7d KiB\n" "$N" "$r1"
printf "samples %6d: peak RSS %7d KiB\n" "$N10" "$r10"
awk -v a="$r1" -v b="$r10" 'BEGIN {
    ratio = b / a
    printf "ratio %.3f: %s (flat within 10%%)\n", ratio, (ratio <= 1.10 && ratio >= 0.90) ? "PASS" : "FAIL"
    exit !(ratio <= 1.10 && ratio >= 0.90)
}'
