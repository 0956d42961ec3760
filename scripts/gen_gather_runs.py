#!/usr/bin/python3
"""An ONNX fixture for Gather of an activation with constant index lists
that are not one evenly spaced run (tests/fixtures/ctr/gather_runs.*):
x [N, 3, 8] -> Gather(axis 2, [7, 0, 0, 2, 4, 6, 5, -1]) -> Gather(axis 1,
[2, 0]) -> y [N, 2, 8]; repeated, decreasing and negative indices. gather_runs4d:
x [N, 6, 2, 3] (NCHW) -> Gather(axis 1, [3, 0, 0, 1, 5, 4]): the channel
axis, which quanta keeps last (its expected output is stored NHWC, as
quanta writes a 4-D output). The expected outputs are numpy's take of the
inputs, not any tool's.

    scripts/gen_gather_runs.py [--out tests/fixtures/ctr]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

IDX2 = [7, 0, 0, 2, 4, 6, 5, -1]
IDX1 = [2, 0]


def channels(out):
    idx = [3, 0, 0, 1, 5, 4]
    g = helper.make_graph([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], "gather_runs4d",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 2, 3])],
                          [helper.make_tensor("i", TensorProto.INT64, [len(idx)], idx)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="gen_gather_runs.py")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "gather_runs4d.onnx"))
    x = np.random.default_rng(6).normal(size=(4, 6, 2, 3)).astype(np.float32)
    np.save(os.path.join(out, "gather_runs4d.input.npy"), x)
    np.save(os.path.join(out, "gather_runs4d.expected.npy"),
            np.ascontiguousarray(np.take(x, idx, axis=1).transpose(0, 2, 3, 1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/ctr")
    out = ap.parse_args().out
    channels(out)
    nodes = [helper.make_node("Gather", ["x", "i2"], ["t"], axis=2),
             helper.make_node("Gather", ["t", "i1"], ["y"], axis=1)]
    inits = [helper.make_tensor("i2", TensorProto.INT64, [len(IDX2)], IDX2),
             helper.make_tensor("i1", TensorProto.INT64, [len(IDX1)], IDX1)]
    g = helper.make_graph(nodes, "gather_runs",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 8])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="gen_gather_runs.py")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "gather_runs.onnx"))
    x = np.random.default_rng(5).normal(size=(6, 3, 8)).astype(np.float32)
    y = np.take(np.take(x, IDX2, axis=2), IDX1, axis=1)
    np.save(os.path.join(out, "gather_runs.input.npy"), x)
    np.save(os.path.join(out, "gather_runs.expected.npy"), y)


if __name__ == "__main__":
    main()
