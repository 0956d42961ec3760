#!/usr/bin/python3
"""Write tests/fixtures/onnx/types/: a small ONNX model (opset 17, built
with onnx.helper) whose input is UINT8 and which casts, normalizes and
rounds through FLOAT16:

    x UINT8 [N, 3, 4, 4] -> Cast FLOAT -> InstanceNormalization (eps 1e-3)
      -> LayerNormalization over the last axis -> Cast FLOAT16 -> Cast FLOAT

types_u8.onnx, types_u8.input.npy (uint8, 4 samples), types_u8.f32.npy
(the same samples as float32: a dtype the model's input does not take)
and types_u8.output.npy (NumPy in float64, rounded to float16 as the model
does).

Also two LayerNorms written out as opset-13 exporters do (ReduceMean, Sub,
Pow, ReduceMean, Add, Sqrt, Div, Mul, Add over the last axis, opset 13) on
x FLOAT [N, 5, 6]:

    ln13_fused     the pattern alone: the import makes it one layer_norm
    ln13_shared    the same, but the centred x (the Sub) is also added to
                   the output: not the exact pattern, the operators stay

each with <name>.input.npy and <name>.output.npy (NumPy, float64).

And the unsigned inputs:

    types_u16   x UINT16 [N, 5] -> Cast FLOAT -> Mul, Add (values up to
                65535: exact in float32)
    types_u32   ids UINT32 [N, 3] -> Cast INT64 -> Gather of a [40, 4]
    types_u64   table -> ReduceSum over the ids; the UINT64 one also with
                types_u64.big.npy, whose sample 2 holds 2^63 (no id)

Random weights, seed 0.

Usage: /usr/bin/python3 scripts/export_onnx_types.py [--out tests/fixtures/onnx/types]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "onnx", "types"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    s = (rng.standard_normal(3) * 0.5 + 1).astype(np.float32)
    b = (rng.standard_normal(3) * 0.3).astype(np.float32)
    w = (rng.standard_normal(4) * 0.5 + 1).astype(np.float32)
    bb = (rng.standard_normal(4) * 0.3).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((s, "in.scale"), (b, "in.bias"),
                                                         (w, "ln.scale"), (bb, "ln.bias"))]
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("InstanceNormalization", ["xf", "in.scale", "in.bias"], ["i"],
                         epsilon=1e-3),
        helper.make_node("LayerNormalization", ["i", "ln.scale", "ln.bias"], ["l"], axis=-1),
        helper.make_node("Cast", ["l"], ["h"], to=TensorProto.FLOAT16),
        helper.make_node("Cast", ["h"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "types_u8",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 4, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="export_onnx_types.py")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(args.out, "types_u8.onnx"))

    x = rng.integers(0, 256, [4, 3, 4, 4]).astype(np.uint8)
    xf = x.astype(np.float64)
    m = xf.mean(axis=(2, 3), keepdims=True)
    v = ((xf - m) ** 2).mean(axis=(2, 3), keepdims=True)
    i = (xf - m) / np.sqrt(v + np.float64(np.float32(1e-3))) * s.reshape(1, 3, 1, 1) \
        + b.reshape(1, 3, 1, 1)
    m = i.mean(axis=-1, keepdims=True)
    v = ((i - m) ** 2).mean(axis=-1, keepdims=True)
    ln = (i - m) / np.sqrt(v + np.float64(np.float32(1e-5))) * w + bb
    y = ln.astype(np.float32).astype(np.float16).astype(np.float32)
    np.save(os.path.join(args.out, "types_u8.input.npy"), x)
    np.save(os.path.join(args.out, "types_u8.f32.npy"), x.astype(np.float32))
    np.save(os.path.join(args.out, "types_u8.output.npy"), y)

    for name, shared in (("ln13_fused", False), ("ln13_shared", True)):
        w = (rng.standard_normal(6) * 0.5 + 1).astype(np.float32)
        bb = (rng.standard_normal(6) * 0.3).astype(np.float32)
        inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bb, "b"),
                 numpy_helper.from_array(np.array(2.0, np.float32), "two"),
                 numpy_helper.from_array(np.array(1e-5, np.float32), "eps")]
        nodes = [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
            helper.make_node("Sub", ["x", "m"], ["d"]),
            helper.make_node("Pow", ["d", "two"], ["p"]),
            helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
            helper.make_node("Add", ["v", "eps"], ["e"]),
            helper.make_node("Sqrt", ["e"], ["s"]),
            helper.make_node("Div", ["d", "s"], ["n"]),
            helper.make_node("Mul", ["n", "w"], ["nw"]),
            helper.make_node("Add", ["nw", "b"], ["z" if shared else "y"]),
        ]
        if shared:
            nodes.append(helper.make_node("Add", ["z", "d"], ["y"]))
        graph = helper.make_graph(
            nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 6])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 6])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="export_onnx_types.py")
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(args.out, name + ".onnx"))
        x = (rng.standard_normal([3, 5, 6]) * 2 + 0.5).astype(np.float32)
        xd = x.astype(np.float64)
        d = xd - xd.mean(axis=-1, keepdims=True)
        v = (d ** 2).mean(axis=-1, keepdims=True)
        y = d / np.sqrt(v + np.float64(np.float32(1e-5))) * w + bb
        if shared:
            y = y + d
        np.save(os.path.join(args.out, name + ".input.npy"), x)
        np.save(os.path.join(args.out, name + ".output.npy"), y.astype(np.float32))

    w = (rng.standard_normal(5) * 1e-3).astype(np.float32)
    bb = (rng.standard_normal(5)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["xf", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["y"])],
        "types_u16", [helper.make_tensor_value_info("x", TensorProto.UINT16, ["N", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bb, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="export_onnx_types.py")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(args.out, "types_u16.onnx"))
    x = rng.integers(0, 65536, [4, 5]).astype(np.uint16)
    x[0, 0] = 65535
    y = (x.astype(np.float32) * w + bb).astype(np.float32)
    np.save(os.path.join(args.out, "types_u16.input.npy"), x)
    np.save(os.path.join(args.out, "types_u16.output.npy"), y)

    table = rng.standard_normal([40, 4]).astype(np.float32)
    for name, onnx_type, np_type in (("types_u32", TensorProto.UINT32, np.uint32),
                                     ("types_u64", TensorProto.UINT64, np.uint64)):
        graph = helper.make_graph(
            [helper.make_node("Cast", ["ids"], ["i64"], to=TensorProto.INT64),
             helper.make_node("Gather", ["table", "i64"], ["rows"], axis=0),
             helper.make_node("ReduceSum", ["rows"], ["y"], axes=[1], keepdims=0)],
            name, [helper.make_tensor_value_info("ids", onnx_type, ["N", 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
            [numpy_helper.from_array(table, "table")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)],
                                  producer_name="export_onnx_types.py")
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(args.out, name + ".onnx"))
        ids = rng.integers(0, 40, [4, 3]).astype(np_type)
        np.save(os.path.join(args.out, name + ".input.npy"), ids)
        np.save(os.path.join(args.out, name + ".output.npy"),
                table.astype(np.float64)[ids.astype(np.int64)].sum(axis=1).astype(np.float32))
        if np_type == np.uint64:
            big = ids.copy()
            big[2, 1] = np.uint64(1) << np.uint64(63)
            np.save(os.path.join(args.out, name + ".big.npy"), big)


if __name__ == "__main__":
    main()
