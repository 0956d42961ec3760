#!/bin/sh
# checkpoint_scale.sh: quanta quantize on a 4 GB checkpoint without a graph.
#
# Writes a safetensors checkpoint of random F32 matrices (32 tensors of
# 4096 x 8192 = 4 GiB, written one tensor at a time, never whole in
# memory), quantizes it weight-only to int8 with quanta, and reports the
# wall time, the throughput (MB/s of input) and the peak resident size of
# quanta. PASS needs:  peak RSS < 1 GB,  throughput >= 500 MB/s,  and the
# output read back by an independent reader (a few lines of Python that
# parse the header by the safetensors spec) with every checked weight
# dequantizing to within half a quantization step of the original, and
# quanta.source_sha256 equal to Python's hashlib SHA-256 of the input.
#
# usage: scripts/checkpoint_scale.sh [QUANTA_BINARY]
#   env: SCALE_DIR   folder for the files (default: a new one under /tmp)
#        N_TENSORS, ROWS, COLS   the checkpoint (default 32, 4096, 8192)
# The input is measured warm (just written, so in the page cache) unless the
# machine has less free memory than the file. quanta runs on one core (it is
# single-threaded); the throughput is checked against the wall clock and
# against its CPU time (user + sys), which a busy machine does not inflate.
# The wall clock includes the fsync of the output (about 1 GiB). The load
# average before the run is printed. Exit 0 all PASS, 1 a FAIL, 2 cannot
# run (disk space, tools).
set -eu

QUANTA=${1:-./quanta}
N_TENSORS=${N_TENSORS:-32}
ROWS=${ROWS:-4096}
COLS=${COLS:-8192}
PY=/usr/bin/python3
case $QUANTA in /*) ;; *) QUANTA=$(pwd)/$QUANTA ;; esac
[ -x "$QUANTA" ] || { echo "checkpoint_scale: no quanta binary at $QUANTA" >&2; exit 2; }
$PY -c 'import numpy' 2>/dev/null || { echo "checkpoint_scale: $PY has no numpy" >&2; exit 2; }

if [ -n "${SCALE_DIR:-}" ]; then
    mkdir -p "$SCALE_DIR"
    DIR=$(mktemp -d "$SCALE_DIR/quanta-scale-XXXXXX")
else
    DIR=$(mktemp -d /tmp/quanta-scale-XXXXXX)
fi
cleanup() { rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
IN=$DIR/checkpoint.safetensors
OUT=$DIR/checkpoint-int8.safetensors

IN_BYTES=$((N_TENSORS * ROWS * COLS * 4))
OUT_BYTES=$((N_TENSORS * ROWS * COLS + N_TENSORS * ROWS * 4))
NEED_KB=$(( (IN_BYTES + OUT_BYTES) / 1024 + 262144 ))   # + 256 MiB of room
FREE_KB=$(df -Pk "$DIR" | awk 'NR == 2 {print $4}')
echo "checkpoint_scale: $N_TENSORS tensors of ${ROWS}x${COLS} F32 = $IN_BYTES bytes in $DIR"
echo "checkpoint_scale: disk: need $((NEED_KB / 1024)) MiB, free $((FREE_KB / 1024)) MiB"
if [ "$FREE_KB" -lt "$NEED_KB" ]; then
    echo "checkpoint_scale: not enough free disk space" >&2
    exit 2
fi

# --- the checkpoint, streamed: header first, then one tensor at a time ---
T0=$(date +%s.%N)
$PY - "$IN" "$N_TENSORS" "$ROWS" "$COLS" <<'EOF'
import json, struct, sys
import numpy as np
path, n, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
size = rows * cols * 4
header = {"__metadata__": {"origin": "checkpoint_scale.sh", "format": "pt"}}
for i in range(n):
    header["layers.%d.weight" % i] = {"dtype": "F32", "shape": [rows, cols],
                                      "data_offsets": [i * size, (i + 1) * size]}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
rng = np.random.default_rng(20240601)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for i in range(n):
        w = rng.standard_normal((rows, cols), dtype=np.float32)
        w *= np.float32(0.02 * (1 + i % 4))          # a different range per tensor
        w[i % rows, i % cols] = np.float32(0.5)      # and an outlier
        f.write(w.tobytes())
        del w
EOF
T1=$(date +%s.%N)
echo "checkpoint_scale: wrote the checkpoint in $(echo "$T1 - $T0" | bc) s"

# --- quantize, measured ---
# The checkpoint's own dirty pages are flushed first, so that the run pays
# only for its output (quanta fsyncs it before renaming it into place).
sync "$IN"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
CPU=""
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %M %U %S' -o "$DIR/time.txt" \
        "$QUANTA" quantize "$IN" -o "$OUT" --mode weight-only
    # at least the 0.01 s resolution of time(1), for tiny test checkpoints
    WALL=$(awk '{print ($1 > 0 ? $1 : 0.01)}' "$DIR/time.txt")
    RSS_KB=$(awk '{print $2}' "$DIR/time.txt")
    CPU=$(awk '{c = $3 + $4; print (c > 0 ? c : 0.01)}' "$DIR/time.txt")
    RSS_HOW="/usr/bin/time %M"
else
    # no GNU time: poll VmHWM while it runs
    T0=$(date +%s.%N)
    "$QUANTA" quantize "$IN" -o "$OUT" --mode weight-only &
    PID=$!
    RSS_KB=0
    while kill -0 "$PID" 2>/dev/null; do
        H=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
        [ -n "$H" ] && [ "$H" -gt "$RSS_KB" ] && RSS_KB=$H
        sleep 0.05
    done
    wait "$PID"
    T1=$(date +%s.%N)
    WALL=$(echo "$T1 - $T0" | bc)
    RSS_HOW="VmHWM polled (a lower bound)"
fi
MBPS=$(echo "scale=1; $IN_BYTES / 1000000 / $WALL" | bc)
RSS_MB=$(echo "scale=1; $RSS_KB / 1024" | bc)
echo "checkpoint_scale: quanta quantize --mode weight-only: wall $WALL s," \
     "throughput $MBPS MB/s of input, peak RSS $RSS_MB MiB ($RSS_HOW)"
if [ -n "$CPU" ]; then
    echo "checkpoint_scale: CPU time (user + sys) $CPU s = $(echo "scale=1; $IN_BYTES / 1000000 / $CPU" | bc) MB/s" \
         "of CPU; load average before the run: $LOAD on $(nproc) cores"
fi
echo "checkpoint_scale: output $(stat -c %s "$OUT") bytes (expected about $OUT_BYTES)"

# --- independent reader ---
VERIFY=0
$PY - "$IN" "$OUT" "$N_TENSORS" "$ROWS" "$COLS" <<'EOF' || VERIFY=1
import hashlib, json, struct, sys
import numpy as np
src, dst, n, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def header(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(size))
    return h, 8 + size

hi, base_i = header(src)
ho, base_o = header(dst)
meta = ho.pop("__metadata__", {})
hi.pop("__metadata__", None)
assert meta.get("origin") == "checkpoint_scale.sh", "unknown metadata key not kept"
for k in ("quanta.version", "quanta.quantize.options", "quanta.source_sha256"):
    assert k in meta, "metadata %s missing" % k
assert len(ho) == 2 * n, "expected %d tensors, found %d" % (2 * n, len(ho))
# offsets cover the data buffer exactly, in order
spans = sorted(tuple(v["data_offsets"]) for v in ho.values())
end = 0
for b, e in spans:
    assert b == end, "gap or overlap at %d" % b
    end = e
out = np.memmap(dst, dtype=np.uint8, mode="r")
assert base_o + end == out.size, "data buffer does not end the file"
inp = np.memmap(src, dtype=np.uint8, mode="r")
worst = 0.0
for i in sorted({0, n // 2, n - 1}):
    name = "layers.%d.weight" % i
    q, s = ho[name], ho[name + ".scale"]
    assert q["dtype"] == "I8" and q["shape"] == [rows, cols], q
    assert s["dtype"] == "F32" and s["shape"] == [rows], s
    b, e = q["data_offsets"]
    qv = out[base_o + b:base_o + e].view(np.int8).reshape(rows, cols).astype(np.float64)
    b, e = s["data_offsets"]
    sv = out[base_o + b:base_o + e].view("<f4").astype(np.float64)
    b, e = hi[name]["data_offsets"]
    w = inp[base_i + b:base_i + e].view("<f4").reshape(rows, cols).astype(np.float64)
    assert np.all(np.abs(qv) <= 127), "value outside [-127, 127]"
    # the scale is max|w| / 127 of the row (float32), so each row's extreme maps to +-127
    expect = (np.abs(w).max(axis=1) / 127.0).astype(np.float32).astype(np.float64)
    assert np.array_equal(sv, expect), "scales are not max|w|/127 per row"
    err = np.abs(qv * sv[:, None] - w) / sv[:, None]
    worst = max(worst, float(err.max()))
    assert err.max() <= 0.5 + 1e-6, "%s: error %.6f steps" % (name, err.max())
print("checkpoint_scale: independent reader: %d tensors + scales, worst error %.4f of a step "
      "(<= 0.5)" % (n, worst))
# the provenance digest, computed by quanta while it converted, against hashlib
h = hashlib.sha256()
with open(src, "rb") as f:
    for block in iter(lambda: f.read(16 << 20), b""):
        h.update(block)
assert meta["quanta.source_sha256"] == h.hexdigest(), \
    "quanta.source_sha256 %s is not the input's %s" % (meta["quanta.source_sha256"], h.hexdigest())
print("checkpoint_scale: quanta.source_sha256 = hashlib sha256 of the input (%s)" % h.hexdigest())
EOF

FAIL=0
if [ "$RSS_KB" -lt 1000000 ]; then R=PASS; else R=FAIL; FAIL=1; fi
echo "$R: peak RSS $RSS_MB MiB < 1 GB"
if [ "$(echo "$MBPS >= 500" | bc)" = 1 ]; then R=PASS; else R=FAIL; FAIL=1; fi
echo "$R: throughput $MBPS MB/s >= 500 MB/s (one core, wall clock)"
if [ -n "$CPU" ]; then
    # quanta is single-threaded: input over its CPU time is the rate of one
    # core of its own, whatever else the machine is running
    CPU_MBPS=$(echo "scale=1; $IN_BYTES / 1000000 / $CPU" | bc)
    if [ "$(echo "$CPU_MBPS >= 500" | bc)" = 1 ]; then R=PASS; else R=FAIL; FAIL=1; fi
    echo "$R: throughput $CPU_MBPS MB/s >= 500 MB/s (one core, CPU time: user + sys)"
fi
if [ "$VERIFY" = 0 ]; then R=PASS; else R=FAIL; FAIL=1; fi
echo "$R: output read back by an independent reader, within half a step, source digest equal"
exit $FAIL
