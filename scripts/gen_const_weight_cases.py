#!/usr/bin/python3
"""Write tests/fixtures/onnx/weights/: ONNX's own backend node tests
(Debian's libonnx-testdata) for Conv and ConvTranspose whose weight is a
graph input there, with that weight made an initializer, so that quanta
(which takes weights as constants) can run them. For each case:
<name>.onnx, <name>.input.npy (the data input, float32 NCHW or NCL) and
<name>.output.npy (ONNX's expected output, from the test data).

Usage: /usr/bin/python3 scripts/gen_const_weight_cases.py [--out DIR]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper

DATA = "/usr/share/libonnx-testdata/data/node"
CASES = [
    "test_basic_conv_with_padding", "test_basic_conv_without_padding",
    "test_conv_with_autopad_same", "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding", "test_conv_with_strides_padding",
    "test_convtranspose", "test_convtranspose_1d", "test_convtranspose_autopad_same",
    "test_convtranspose_dilations", "test_convtranspose_kernel_shape",
    "test_convtranspose_output_shape", "test_convtranspose_pad", "test_convtranspose_pads",
    "test_convtranspose_with_kernel",
]


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "onnx",
                                                  "weights"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in CASES:
        case = os.path.join(DATA, name)
        m = onnx.load(os.path.join(case, "model.onnx"))
        g = m.graph
        sets = os.path.join(case, "test_data_set_0")
        inputs = [read_pb(os.path.join(sets, "input_%d.pb" % i)) for i in range(len(g.input))]
        # every input but the first (the data) becomes an initializer
        for vi, value in list(zip(g.input, inputs))[1:]:
            g.initializer.append(numpy_helper.from_array(value, vi.name))
        keep = g.input[0]
        del g.input[:]
        g.input.append(keep)
        short = name[len("test_"):]
        onnx.save(m, os.path.join(args.out, short + ".onnx"))
        np.save(os.path.join(args.out, short + ".input.npy"), inputs[0].astype(np.float32))
        np.save(os.path.join(args.out, short + ".output.npy"),
                read_pb(os.path.join(sets, "output_0.pb")).astype(np.float32))
        print("wrote", short)


if __name__ == "__main__":
    main()
