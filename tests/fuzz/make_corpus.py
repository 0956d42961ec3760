#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Run from the source tree with Debian's interpreter (numpy):
    /usr/bin/python3 tests/fuzz/make_corpus.py
Valid files come from the project's writers (scripts/quanta_format.py) and
numpy; invalid ones are built byte by byte. Output is deterministic.
"""
import glob
import gzip
import io
import json
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import quanta_format as qf  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def st_bytes(header_obj=None, data=b"", raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header_obj, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def written(fn):
    """Bytes of a file written by fn(path) into a scratch path."""
    path = os.path.join(CORPUS, ".scratch")
    fn(path)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def npy_bytes(arr, version):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(data)
    return buf.getvalue()


def idx_raw(arr, type_code=0x08):
    arr = np.ascontiguousarray(arr)
    head = struct.pack(">BBBB", 0, 0, type_code, arr.ndim) + struct.pack(">%dI" % arr.ndim, *arr.shape)
    return head + arr.tobytes()


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    fixtures = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "ops", "*.safetensors")))

    # ---- safetensors ----
    for p in fixtures:
        if os.path.getsize(p) <= 16384:
            with open(p, "rb") as f:
                out("safetensors", os.path.basename(p), f.read())
    rng = np.random.default_rng(7)
    out("safetensors", "all_dtypes.st", written(lambda path: qf.write_safetensors(path, {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f16": np.arange(4, dtype=np.float16),
        "f64": np.arange(3, dtype=np.float64),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "u8": np.arange(5, dtype=np.uint8),
        "i16": np.arange(2, dtype=np.int16),
        "i32": np.arange(2, dtype=np.int32).reshape(1, 2),
        "i64": np.arange(2, dtype=np.int64),
        "b": np.array([True, False]),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "scalar": np.float32(1.5),
    }, {"quanta.version": "0.1.0", "note": "x"})))
    out("safetensors", "bf16.st", st_bytes({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
                                           b"\x80\x3f\x00\x40"))
    out("safetensors", "empty_header.st", st_bytes(raw_header=b"{}      "))
    out("safetensors", "bad_short.st", b"\x02\x00\x00")
    out("safetensors", "bad_len.st", struct.pack("<Q", 1 << 40) + b"{}")
    out("safetensors", "bad_overlap.st", st_bytes({
        "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"\0" * 6))
    out("safetensors", "bad_dupkey.st", st_bytes(raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{}}') + b"\0")
    out("safetensors", "bad_deep.st", st_bytes(raw_header=b"[" * 70 + b"]" * 70))
    out("safetensors", "bad_utf8.st", st_bytes(raw_header=b'{"\xc3\x28":{}}'))
    out("safetensors", "bad_meta.st", st_bytes(raw_header=b'{"__metadata__":{"k":1}}'))

    # ---- graph: JSON texts (against the harness's in-memory tensors) and whole files ----
    for p in fixtures:
        header = qf.read_header(p)
        text = header.get("__metadata__", {}).get("quanta.graph")
        if text:
            out("graph", os.path.basename(p)[:-len(".safetensors")] + ".json", text.encode())
    for p in fixtures[::6]:
        with open(p, "rb") as f:
            out("graph", os.path.basename(p), f.read())
    x = qf.graph_input("x", [-1, 8, 8, 3])
    quant = {
        "xq": {"dtype": "I8", "scale": 0.02, "zero_point": -3},
        "q.weight": {"dtype": "I8", "axis": 0, "scale": "q.weight.scale", "zero_point": "q.weight.zero_point"},
        "q.bias": {"dtype": "I32", "axis": 0, "scale": "q.bias.scale", "zero_point": "q.bias.zero_point"},
        "cq": {"dtype": "I8", "scale": 0.05, "zero_point": 0},
    }
    g = qf.make_graph("q", [x], ["y"], [
        qf.node("quantize", "qin", ["x"], ["xq"]),
        qf.node("conv2d", "conv", ["xq", "q.weight", "q.bias"], ["cq"], pads=[1, 1, 1, 1], activation="relu"),
        qf.node("dequantize", "dq", ["cq"], ["y"]),
    ])
    g["quant"] = quant
    out("graph", "quantized.json", json.dumps(g).encode())
    g = qf.make_graph("emb", [qf.graph_input("ids", [-1, 3], dtype="I64")], ["m"], [
        qf.node("embedding", "emb", ["ids", "emb.table"], ["e"]),
        qf.node("mean", "mean", ["e"], ["m"], axes=[1], keepdims=False),
    ])
    out("graph", "embedding.json", json.dumps(g).encode())
    g = qf.make_graph("half", [qf.graph_input("x", [-1, 28], normalize={"scale": 0.5, "mean": [0.1], "std": [2]})],
                      ["a", "b", "c"], [
        qf.node("dense", "h", ["x", "h.weight"], ["a"]),
        qf.node("dense", "bf", ["x", "bf.weight"], ["b"], activation="relu6"),
        qf.node("dense", "f", ["x", "fc2.weight"], ["c"]),
    ])
    out("graph", "half.json", json.dumps(g).encode())
    out("graph", "bad_unknown_op.json", b'{"format":"quanta.graph","version":1,"inputs":[],"outputs":[],'
                                        b'"nodes":[{"op":"gelu","name":"n","inputs":[],"outputs":["y"]}]}')
    out("graph", "bad_deep.json", b"{" + b'"a":[' * 40 + b"]" * 40 + b"}")

    # ---- idx (raw and gzip) ----
    imgs = (np.arange(3 * 4 * 4) % 256).astype(np.uint8).reshape(3, 4, 4)
    labels = np.array([1, 0, 9], dtype=np.uint8)
    out("idx", "images-idx3-ubyte", idx_raw(imgs))
    out("idx", "labels-idx1-ubyte", idx_raw(labels))
    out("idx", "images-idx3-ubyte.gz", written(lambda path: qf.write_idx_gz(path, imgs)))
    out("idx", "labels-idx1-ubyte.gz", written(lambda path: qf.write_idx_gz(path, labels)))
    out("idx", "signed-idx2.gz", gz(idx_raw(np.array([[-1, 2], [3, -4]], dtype=np.int8), 0x09)))
    out("idx", "rank4-idx4", idx_raw(np.zeros((2, 2, 2, 3), dtype=np.uint8)))
    out("idx", "zero-samples-idx3", idx_raw(np.zeros((0, 2, 2), dtype=np.uint8)))
    with open(os.path.join(ROOT, "models", "data", "fmnist-test-1000-labels-idx1-ubyte.gz"), "rb") as f:
        blob = f.read()
    if len(blob) <= 4096:
        out("idx", "fmnist-labels-idx1-ubyte.gz", blob)
    out("idx", "bad_isize.gz", gz(idx_raw(labels))[:-4] + struct.pack("<I", 99))
    out("idx", "bad_truncated-idx3", idx_raw(imgs)[:-5])
    out("idx", "bad_type-idx1", idx_raw(np.zeros(2, dtype=np.uint8), 0x0d))
    out("idx", "bad_gzip_body.gz", gz(idx_raw(labels))[:12] + b"\xff" * 10 + gz(idx_raw(labels))[-8:])

    # ---- npy (1.0, 2.0, 3.0) and safetensors data files ----
    arrays = {
        "f4": rng.standard_normal((3, 2, 2)).astype(np.float32),
        "f8": rng.standard_normal((2, 3)).astype(np.float64),
        "u1": (np.arange(12) % 256).astype(np.uint8).reshape(3, 2, 2),
        "i1": np.arange(-3, 3, dtype=np.int8).reshape(6, 1),
        "i4": np.array([3, 1, 4, 1, 5], dtype=np.int32),
        "i8": np.array([2, 7], dtype=np.int64),
    }
    for name, arr in arrays.items():
        out("npy", "%s_v1.npy" % name, npy_bytes(arr, (1, 0)))
    out("npy", "f4_v2.npy", npy_bytes(arrays["f4"], (2, 0)))
    out("npy", "i4_v3.npy", npy_bytes(arrays["i4"], (3, 0)))
    out("npy", "ids_f4_v1.npy", npy_bytes(np.array([[1, 2], [3, 4]], dtype=np.float32), (1, 0)))
    out("npy", "empty_v1.npy", npy_bytes(np.zeros((0, 3), dtype=np.float32), (1, 0)))
    out("npy", "bad_fortran.npy", npy_bytes(np.asfortranarray(np.zeros((2, 2), dtype=np.float32)), (1, 0)))
    out("npy", "bad_bigendian.npy", npy_bytes(np.zeros(2, dtype=">f4"), (1, 0)))
    out("npy", "bad_truncated.npy", npy_bytes(arrays["f4"], (1, 0))[:-3])
    out("npy", "data.safetensors", written(lambda path: qf.write_safetensors(path, {
        "x": np.arange(6, dtype=np.float32).reshape(3, 2),
        "labels": np.array([0, 1, 1], dtype=np.int64)})))

    # ---- calibration tables ----
    sha = "0123456789abcdef" * 4
    params = {"minmax": {}, "meanstd": {"k": 3}, "percentile": {"bins": 2048, "percentile": 99.99},
              "entropy": {"bins": 2048, "entropy_bins": 128}, "mse": {"bins": 2048, "mse_bits": 8}}
    for method, p in params.items():
        table = {"format": "quanta.calibration", "version": 1, "method": method, "params": p,
                 "samples": 100, "data_sha256": sha, "model_sha256": "" if method != "mse" else sha,
                 "values": {"x": {"count": 7840, "min": 0, "max": 1, "lo": 0, "hi": 1},
                            "conv1.out": {"count": 1000, "min": -2.5, "max": 3.25, "lo": -1.5, "hi": 2.0}}}
        out("calib_table", "%s.json" % method, (json.dumps(table, indent=1) + "\n").encode())
    # method auto: every method's parameters, each value naming its method
    table = {"format": "quanta.calibration", "version": 1, "method": "auto",
             "params": {"bins": 2048, "entropy_bins": 128, "k": 6, "mse_bits": 8, "percentile": 99.99},
             "samples": 100, "data_sha256": sha, "model_sha256": sha,
             "values": {"x": {"count": 7840, "method": "minmax", "min": 0, "max": 1, "lo": 0, "hi": 1},
                        "conv1.out": {"count": 1000, "method": "mse", "min": -2.5, "max": 3.25,
                                      "lo": -1.5, "hi": 2.0}}}
    out("calib_table", "auto.json", (json.dumps(table, indent=1) + "\n").encode())
    table = {"format": "quanta.calibration", "version": 1, "method": "minmax", "params": {},
             "samples": 0, "data_sha256": "", "model_sha256": "", "values": {}}
    out("calib_table", "empty.json", json.dumps(table).encode())
    out("calib_table", "bad_dup.json", b'{"format":"quanta.calibration","format":1}')
    out("calib_table", "bad_nul.json", b'{"format":"quanta.\\u0000"}')
    out("calib_table", "bad_deep.json", b"[" * 9 + b"]" * 9)

    # ---- onnx (only when the importer exists) ----
    if os.path.isdir(os.path.join(ROOT, "src", "import")):
        onnx_seeds()


def onnx_seeds():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = helper.make_tensor("b", TensorProto.FLOAT, [4], [0.1, 0.2, 0.3, 0.4])  # float_data
    fc = numpy_helper.from_array(rng.standard_normal((10, 64)).astype(np.float32), "fc")
    shape = numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "shape")
    h = numpy_helper.from_array(np.arange(4, dtype=np.float16), "h")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                         strides=[2, 2], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, alpha=1.0),
        helper.make_node("Softmax", ["y"], ["p"], axis=-1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    p = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 10])
    g = helper.make_graph(nodes, "cnn", [x], [p], [w, b, fc, shape, h],
                          value_info=[helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 4, 4])])
    m = helper.make_model(g, producer_name="quanta-fuzz", opset_imports=[helper.make_opsetid("", 13)])
    out("onnx", "cnn.onnx", m.SerializeToString())

    attrs = helper.make_node("Custom", ["x"], ["z"], domain="my.domain", f=1.5, i=-3, s="str",
                             t=helper.make_tensor("t", TensorProto.INT32, [2], [1, 2]),
                             floats=[1.0, 2.0], ints=[1, -1, 1 << 40], strings=["a", "b"])
    g2 = helper.make_graph([attrs], "attrs", [x], [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    out("onnx", "attrs.onnx", helper.make_model(g2, opset_imports=[helper.make_opsetid("", 11)]).SerializeToString())

    ext = helper.make_tensor("e", TensorProto.FLOAT, [2], [1.0, 2.0])
    ext.ClearField("float_data")
    ext.data_location = TensorProto.EXTERNAL
    ext.external_data.add(key="location", value="weights.bin")
    g3 = helper.make_graph([helper.make_node("Add", ["x", "e"], ["y"])], "ext", [x], [p], [ext])
    out("onnx", "bad_external.onnx", helper.make_model(g3).SerializeToString())
    ints = [helper.make_tensor(n, t, [3], [1, 0, 1]) for n, t in
            (("u8", TensorProto.UINT8), ("i8", TensorProto.INT8), ("i16", TensorProto.INT16),
             ("i32", TensorProto.INT32), ("bool", TensorProto.BOOL))]
    ints.append(numpy_helper.from_array(np.array([1.5, 2.5], dtype=np.float64), "f64"))
    ints.append(helper.make_tensor("u64", TensorProto.UINT64, [2], [1, 2]))
    g4 = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "types", [x], [p], ints)
    out("onnx", "types.onnx", helper.make_model(g4).SerializeToString())
    out("onnx", "bad_truncated.onnx", m.SerializeToString()[:-7])
    out("onnx", "bad_varint.onnx", b"\x08" + b"\xff" * 11)


if __name__ == "__main__":
    main()
