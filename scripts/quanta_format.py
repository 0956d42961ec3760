"""Write and read quanta model files with numpy only.

A quanta model file is a safetensors file whose ``__metadata__`` holds the
model graph as a JSON string under the key ``"quanta.graph"``
(see /work/shared/spec/model-format.md, the authoritative contract).

Layout written here:

    8 bytes   N, unsigned 64-bit little-endian: header length
    N bytes   the header, one JSON object, padded with spaces (0x20) so that
              N is a multiple of 8 (the data then starts 8-byte aligned)
    ...       the data buffer: every tensor, little-endian, C order, in the
              order given by the caller, with no gap and nothing after

Writers are deterministic: the same tensors, graph and metadata give the
same bytes (no time stamps; JSON keys keep the caller's order).

Usage as a library (from another script in scripts/):

    import numpy as np
    import quanta_format as qf

    graph = qf.make_graph(
        "tiny",
        inputs=[qf.graph_input("x", [-1, 4])],
        outputs=["y"],
        nodes=[qf.node("dense", "fc", ["x", "fc.weight", "fc.bias"], ["y"],
                       activation="relu")])
    tensors = {"fc.weight": np.ones((2, 4), np.float32),
               "fc.bias": qf.Tensor(np.zeros(2), "F16")}   # store as F16
    qf.write_model("tiny.safetensors", graph, tensors)

    graph, tensors, meta = qf.read_model("tiny.safetensors")

    qf.write_idx_gz("images-idx3-ubyte.gz", uint8_array)   # [N,H,W] or [N]
    qf.write_npy("x.npy", array)                           # numpy.save

``read_safetensors`` validates the container the way the spec asks a reader
to (header size, JSON object, offsets that tile the buffer exactly, known
dtypes, duplicate keys, shapes) and raises ``FormatError`` with a message
naming the problem.

Run ``python3 quanta_format.py FILE`` to print a file's tensors and graph.
"""

import gzip
import io
import json
import struct
import sys

import numpy as np

__all__ = [
    "FormatError", "Tensor", "DTYPES", "write_safetensors", "read_safetensors",
    "make_graph", "graph_input", "node", "write_model", "read_model",
    "f32_to_bf16_bits", "bf16_bits_to_f32", "write_idx_gz", "read_idx",
    "write_npy", "read_header",
]

MAX_HEADER = 100_000_000
GRAPH_KEY = "quanta.graph"

# safetensors dtype name -> numpy dtype of the stored element (little-endian).
# BF16 has no numpy type: its elements are stored as raw uint16 bit patterns.
DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "BOOL": np.dtype("?"),
}

# numpy dtype -> safetensors dtype name, for arrays passed without a name.
_NP_TO_ST = {
    np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("float64"): "F64", np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8", np.dtype("int16"): "I16",
    np.dtype("int32"): "I32", np.dtype("int64"): "I64",
    np.dtype("bool"): "BOOL",
}


class FormatError(ValueError):
    """A file breaks a rule of the model format."""


class Tensor:
    """An array together with the safetensors dtype it is stored as.

    ``Tensor(values, "BF16")`` rounds float values to bfloat16 (round to
    nearest, ties to even); other dtypes use numpy's ``astype``.
    """

    def __init__(self, values, dtype):
        if dtype not in DTYPES:
            raise FormatError("unknown dtype '%s'" % dtype)
        self.dtype = dtype
        values = np.asarray(values)
        if dtype == "BF16":
            if values.dtype == np.uint16:
                self.raw = values.astype("<u2")
            else:
                self.raw = f32_to_bf16_bits(values)
        else:
            self.raw = values.astype(DTYPES[dtype])

    @property
    def shape(self):
        return list(self.raw.shape)

    def tobytes(self):
        return np.ascontiguousarray(self.raw).tobytes(order="C")


def f32_to_bf16_bits(values):
    """Rounds values to bfloat16 (nearest, ties to even); returns uint16 bits."""
    f = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
    bits = f.view(np.uint32).astype(np.uint64)
    rounding = np.uint64(0x7FFF) + ((bits >> np.uint64(16)) & np.uint64(1))
    out = ((bits + rounding) >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(f)
    out[nan] = np.uint16(0x7FC0)
    return out.reshape(f.shape)


def bf16_bits_to_f32(bits):
    """Widens bfloat16 bit patterns (uint16) to float32 exactly."""
    b = np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)
    return b.view(np.float32)


def _as_tensor(value):
    if isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    name = _NP_TO_ST.get(arr.dtype)
    if name is None:
        raise FormatError("no safetensors dtype for numpy dtype %s" % arr.dtype)
    return Tensor(arr, name)


def write_safetensors(path, tensors, metadata=None):
    """Writes a safetensors file.

    tensors: mapping name -> numpy array or Tensor, written in the mapping's
    order. metadata: mapping str -> str (becomes ``__metadata__``), or None.
    Returns the number of bytes written.
    """
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise FormatError("__metadata__ keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise FormatError("'__metadata__' cannot name a tensor")
        t = _as_tensor(value)
        data = t.tobytes()
        header[name] = {"dtype": t.dtype, "shape": t.shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    raw = text.encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for data in blobs:
            f.write(data)
    return 8 + len(raw) + offset


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise FormatError("duplicate key '%s' in header" % k)
        out[k] = v
    return out


def read_safetensors(path, bf16_as_f32=True):
    """Reads and validates a safetensors file.

    Returns (tensors, metadata): tensors maps name -> numpy array in file
    order (BF16 widened to float32 unless bf16_as_f32 is False, in which case
    the raw uint16 bits are returned); metadata is a dict (empty if absent).
    Raises FormatError naming the problem.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise FormatError("%s: file is %d bytes, shorter than the 8-byte header length"
                          % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER:
        raise FormatError("%s: header length %d exceeds %d" % (path, n, MAX_HEADER))
    if 8 + n > len(blob):
        raise FormatError("%s: header length %d exceeds the file size %d"
                          % (path, n, len(blob)))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"),
                            object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError("%s: header is not valid JSON: %s" % (path, e)) from None
    except FormatError as e:
        raise FormatError("%s: %s" % (path, e)) from None
    if not isinstance(header, dict):
        raise FormatError("%s: header is not a JSON object" % path)
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(v, str) for v in metadata.values()):
        raise FormatError("%s: __metadata__ must be an object of strings" % path)
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise FormatError("%s: tensor '%s': entry is not an object" % (path, name))
        dtype = info.get("dtype")
        if dtype not in DTYPES:
            raise FormatError("%s: tensor '%s': unknown dtype %r" % (path, name, dtype))
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise FormatError("%s: tensor '%s': shape must be a list of integers"
                              % (path, name))
        count = 1
        for d in shape:
            if d < 0:
                raise FormatError("%s: tensor '%s': negative dimension %d"
                                  % (path, name, d))
            count *= d
            if count >= 1 << 62:
                raise FormatError("%s: tensor '%s': shape product overflows"
                                  % (path, name))
        offs = info.get("data_offsets")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise FormatError("%s: tensor '%s': data_offsets must be two integers"
                              % (path, name))
        begin, end = offs
        if begin < 0 or end < begin or end > len(data):
            raise FormatError("%s: tensor '%s': data_offsets [%d, %d] lie outside "
                              "the %d-byte data buffer" % (path, name, begin, end, len(data)))
        need = count * DTYPES[dtype].itemsize
        if end - begin != need:
            raise FormatError("%s: tensor '%s': data_offsets [%d, %d] hold %d bytes "
                              "but %s %s needs %d" % (path, name, begin, end,
                                                      end - begin, dtype, shape, need))
        spans.append((begin, end, name))
    pos = 0
    for begin, end, name in sorted(spans):
        if begin < pos:
            raise FormatError("%s: tensor '%s' overlaps another tensor" % (path, name))
        if begin > pos:
            raise FormatError("%s: gap of %d bytes before tensor '%s'"
                              % (path, begin - pos, name))
        pos = end
    if pos != len(data):
        raise FormatError("%s: %d bytes after the last tensor" % (path, len(data) - pos))
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]])
        arr = arr.reshape(info["shape"]).copy()
        if info["dtype"] == "BF16" and bf16_as_f32:
            arr = bf16_bits_to_f32(arr)
        tensors[name] = arr
    return tensors, metadata


def graph_input(name, shape, dtype="F32", normalize=None):
    """A graph input entry; normalize = {"scale": s, "mean": [...], "std": [...]}."""
    entry = {"name": name, "shape": list(shape), "dtype": dtype}
    if normalize is not None:
        entry["normalize"] = normalize
    return entry


def node(op, name, inputs, outputs, **attrs):
    """A node entry; attrs left out take the spec's defaults."""
    entry = {"op": op, "name": name, "inputs": list(inputs), "outputs": list(outputs)}
    if attrs:
        entry["attrs"] = attrs
    return entry


def make_graph(name, inputs, outputs, nodes):
    """The "quanta.graph" document (format version 1)."""
    return {"format": "quanta.graph", "version": 1, "name": name,
            "inputs": list(inputs), "outputs": list(outputs), "nodes": list(nodes)}


def write_model(path, graph, tensors, metadata=None):
    """Writes a model: tensors plus the graph in __metadata__["quanta.graph"].

    Extra metadata (str -> str) is written after the graph key. Checks that
    every name a node reads is defined before it and that names are unique.
    Returns the file size in bytes.
    """
    _check_graph(graph, tensors)
    meta = {GRAPH_KEY: json.dumps(graph, separators=(",", ":"))}
    for k, v in (metadata or {}).items():
        if k == GRAPH_KEY:
            raise FormatError("metadata key '%s' is reserved for the graph" % k)
        meta[k] = v
    return write_safetensors(path, tensors, meta)


def _check_graph(graph, tensors):
    defined = set(tensors)
    for inp in graph["inputs"]:
        if inp["name"] in defined:
            raise FormatError("graph input '%s' reuses a name" % inp["name"])
        defined.add(inp["name"])
    for nd in graph["nodes"]:
        for v in nd["inputs"]:
            if v not in defined:
                raise FormatError("node '%s' reads '%s' before it is defined"
                                  % (nd["name"], v))
        for v in nd["outputs"]:
            if v in defined:
                raise FormatError("node '%s' output '%s' reuses a name" % (nd["name"], v))
            defined.add(v)
    for v in graph["outputs"]:
        if v not in defined:
            raise FormatError("graph output '%s' is not defined" % v)


def read_model(path):
    """Returns (graph dict or None, tensors, metadata) of a model file."""
    tensors, meta = read_safetensors(path)
    text = meta.get(GRAPH_KEY)
    graph = json.loads(text) if text is not None else None
    return graph, tensors, meta


def write_idx_gz(path, array):
    """Writes a uint8 array as a gzip-compressed IDX file, deterministically.

    The gzip header carries no file name and mtime 0, so equal arrays give
    equal bytes. array: uint8 with 1 to 255 dimensions (IDX type 0x08).
    """
    arr = np.ascontiguousarray(array)
    if arr.dtype != np.uint8:
        raise FormatError("write_idx_gz: only uint8 arrays are supported, got %s" % arr.dtype)
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim)
    head += struct.pack(">%dI" % arr.ndim, *arr.shape)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                       compresslevel=9) as gz:
        gz.write(head)
        gz.write(arr.tobytes(order="C"))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def read_idx(path):
    """Reads a uint8 IDX file, raw or gzip-compressed."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise FormatError("%s: not a uint8 IDX file" % path)
    ndim = blob[3]
    dims = struct.unpack(">%dI" % ndim, blob[4:4 + 4 * ndim])
    start = 4 + 4 * ndim
    count = int(np.prod(dims, dtype=np.int64))
    if len(blob) - start != count:
        raise FormatError("%s: %d data bytes but shape %s needs %d"
                          % (path, len(blob) - start, list(dims), count))
    return np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(dims).copy()


def write_npy(path, array):
    """Writes an NPY file with numpy.save (C order, no pickle)."""
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def read_header(path):
    """The raw header dict of a safetensors file (no validation)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER:
            raise FormatError("%s: header length %d exceeds %d" % (path, n, MAX_HEADER))
        return json.loads(f.read(n).decode("utf-8"))


def _main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: quanta_format.py MODEL.safetensors\n")
        return 2
    graph, tensors, meta = read_model(argv[1])  # validates
    header = read_header(argv[1])
    for name in tensors:
        info = header[name]
        print("tensor %-30s %-5s %s" % (name, info["dtype"], info["shape"]))
    for k, v in meta.items():
        if k != GRAPH_KEY:
            print("meta %s = %s" % (k, v))
    if graph is not None:
        print("graph %s: inputs %s outputs %s" % (
            graph.get("name"), json.dumps(graph["inputs"]), graph["outputs"]))
        for nd in graph["nodes"]:
            print("  %-16s %-24s %s -> %s %s" % (nd["op"], nd["name"], nd["inputs"],
                                                nd["outputs"], json.dumps(nd.get("attrs", {}))))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
