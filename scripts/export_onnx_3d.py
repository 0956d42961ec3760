#!/usr/bin/python3
"""Write the 3-D window fixtures of tests/fixtures/onnx/ops/ (quanta's
conv3d, max_pool3d and avg_pool3d):

    conv3d      a small PyTorch network on [N, C, D, H, W], exported at
                opset 13 with a dynamic batch: Conv3d with padding, one
                with stride, dilation and groups, MaxPool3d in ceil mode
                with padding, AvgPool3d counting its padding in ceil mode,
                AvgPool3d not counting it, a dilated MaxPool3d, a 1x1x1
                Conv3d without bias, a mean over D, H, W and a Linear
    w3d_<case>  one-node ONNX models (onnx.helper) for what PyTorch does not
                export: asymmetric pads and auto_pad (SAME_UPPER,
                SAME_LOWER, VALID) on Conv, MaxPool and AveragePool, and
                the pools in ceil mode with padding (counted and not)

For each: <name>.onnx, <name>.input.npy (float32 NCDHW, 3 or 4 samples) and
<name>.output.npy, computed by PyTorch (the one-node cases from F.pad and
the unpadded PyTorch operator, or PyTorch's own pool in ceil mode; an
average that does not count padding as a sum divided by the number of
cells inside the input). Random weights, seed 0.

Also refuse_convtranspose_3d.onnx, which quanta import must refuse in one
line.

Usage: /usr/bin/python3 scripts/export_onnx_3d.py [--out tests/fixtures/onnx/ops]
"""
import argparse
import math
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper


class Conv3D(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv3d(3, 8, 3, padding=1)
        self.c2 = nn.Conv3d(8, 8, (3, 2, 3), stride=(1, 2, 2), dilation=(2, 1, 1), groups=4,
                            padding=(2, 1, 1))
        self.c3 = nn.Conv3d(8, 6, 1, bias=False)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = F.max_pool3d(h, 2, stride=2, padding=1, ceil_mode=True)
        h = self.c2(h)
        h = F.avg_pool3d(h, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
        h = F.avg_pool3d(h, 2, stride=1, padding=1, count_include_pad=False)
        h = F.max_pool3d(h, 2, stride=1, dilation=2, padding=1)
        return self.fc(self.c3(h).mean((2, 3, 4)))


def same_pads(in_dhw, kernel, strides, dilations, upper):
    """ONNX auto_pad SAME_*: [begins..., ends...]."""
    begin, end = [], []
    for n, k, s, d in zip(in_dhw, kernel, strides, dilations):
        out = math.ceil(n / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small = total // 2
        begin.append(small if upper else total - small)
        end.append(total - small if upper else small)
    return begin + end


def torch_pad(pads):
    """ONNX [d0, h0, w0, d1, h1, w1] as F.pad's (w0, w1, h0, h1, d0, d1)."""
    return (pads[2], pads[5], pads[1], pads[4], pads[0], pads[3])


def one_node(out, name, op, x, attrs, weight=None, bias=None):
    """A one-node model of op on x [N, C, D, H, W] (batch dynamic) and its
    PyTorch output."""
    kernel = attrs.get("kernel_shape") or list(weight.shape[2:])
    strides = attrs.get("strides", [1, 1, 1])
    dil = attrs.get("dilations", [1, 1, 1])
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = same_pads(x.shape[2:], kernel, strides, dil, auto == "SAME_UPPER")
    else:
        pads = attrs.get("pads", [0] * 6) if auto == "NOTSET" else [0] * 6
    xt = torch.from_numpy(x)
    if attrs.get("ceil_mode"):
        # PyTorch's own pools (symmetric pads only) in ceil mode
        assert pads[:3] == pads[3:]
        if op == "MaxPool":
            y = F.max_pool3d(xt, kernel, stride=strides, padding=pads[:3], dilation=dil,
                             ceil_mode=True)
        else:
            y = F.avg_pool3d(xt, kernel, stride=strides, padding=pads[:3], ceil_mode=True,
                             count_include_pad=bool(attrs.get("count_include_pad", 0)))
    elif op == "Conv":
        y = F.conv3d(F.pad(xt, torch_pad(pads)), torch.from_numpy(weight),
                     None if bias is None else torch.from_numpy(bias), stride=strides,
                     dilation=dil, groups=attrs.get("group", 1))
    elif op == "MaxPool":
        y = F.max_pool3d(F.pad(xt, torch_pad(pads), value=-math.inf), kernel, stride=strides,
                         dilation=dil)
    else:
        total = F.avg_pool3d(F.pad(xt, torch_pad(pads)), kernel, stride=strides,
                             divisor_override=1)
        if attrs.get("count_include_pad", 0):
            y = total / float(np.prod(kernel))
        else:
            ones = torch.ones_like(xt[:, :1])
            cells = F.avg_pool3d(F.pad(ones, torch_pad(pads)), kernel, stride=strides,
                                 divisor_override=1)
            y = total / cells
    inputs, inits = ["x"], []
    if weight is not None:
        inputs.append("w")
        inits.append(numpy_helper.from_array(weight, "w"))
    if bias is not None:
        inputs.append("b")
        inits.append(numpy_helper.from_array(bias, "b"))
    node = helper.make_node(op, inputs, ["y"], **attrs)
    shape = ["N"] + list(x.shape[1:])
    g = helper.make_graph([node], name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="export_onnx_3d.py")
    onnx.save(m, os.path.join(out, name + ".onnx"))
    np.save(os.path.join(out, name + ".input.npy"), x)
    np.save(os.path.join(out, name + ".output.npy"), y.numpy().astype(np.float32))


def one_node_cases(out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2, 4)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    one_node(out, "w3d_conv_pads", "Conv", x,
             {"pads": [1, 0, 2, 0, 1, 1], "strides": [2, 1, 2], "dilations": [1, 2, 1],
              "group": 2}, w, b)
    one_node(out, "w3d_conv_same_upper", "Conv", x,
             {"auto_pad": "SAME_UPPER", "strides": [2, 2, 1], "group": 2}, w, b)
    one_node(out, "w3d_conv_same_lower", "Conv", x,
             {"auto_pad": "SAME_LOWER", "strides": [1, 2, 3], "group": 2}, w, None)
    one_node(out, "w3d_conv_valid", "Conv", x,
             {"auto_pad": "VALID", "strides": [1, 1, 2], "group": 2}, w, b)
    one_node(out, "w3d_maxpool_pads", "MaxPool", x,
             {"kernel_shape": [3, 2, 3], "pads": [1, 0, 2, 0, 1, 1], "strides": [2, 1, 2],
              "dilations": [1, 2, 1]})
    one_node(out, "w3d_maxpool_same_lower", "MaxPool", x,
             {"kernel_shape": [2, 3, 2], "auto_pad": "SAME_LOWER", "strides": [2, 2, 1]})
    one_node(out, "w3d_avgpool_pads", "AveragePool", x,
             {"kernel_shape": [3, 2, 3], "pads": [1, 0, 2, 0, 1, 1], "strides": [1, 2, 2]})
    one_node(out, "w3d_avgpool_pads_include", "AveragePool", x,
             {"kernel_shape": [3, 2, 3], "pads": [1, 0, 2, 0, 1, 1], "strides": [1, 2, 2],
              "count_include_pad": 1})
    one_node(out, "w3d_avgpool_ceil_include", "AveragePool", x,
             {"kernel_shape": [3, 2, 3], "pads": [1, 1, 1, 1, 1, 1], "strides": [2, 3, 2],
              "ceil_mode": 1, "count_include_pad": 1})
    one_node(out, "w3d_avgpool_ceil", "AveragePool", x,
             {"kernel_shape": [3, 2, 3], "pads": [1, 1, 1, 1, 1, 1], "strides": [2, 3, 2],
              "ceil_mode": 1})
    one_node(out, "w3d_maxpool_ceil", "MaxPool", x,
             {"kernel_shape": [2, 2, 3], "pads": [1, 1, 1, 1, 1, 1], "strides": [2, 3, 2],
              "dilations": [2, 1, 1], "ceil_mode": 1})
    one_node(out, "w3d_avgpool_same_upper", "AveragePool", x,
             {"kernel_shape": [2, 3, 4], "auto_pad": "SAME_UPPER", "strides": [2, 2, 3]})


def refusals(out):
    w = np.ones((2, 3, 2, 2, 2), np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"])
    g = helper.make_graph([node], "refuse_convtranspose_3d",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         ["N", 2, 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="export_onnx_3d.py")
    onnx.save(m, os.path.join(out, "refuse_convtranspose_3d.onnx"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "onnx", "ops"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Conv3D().eval()
    x = torch.randn(4, 3, 6, 7, 8)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x[:1], os.path.join(args.out, "conv3d.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    np.save(os.path.join(args.out, "conv3d.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(args.out, "conv3d.output.npy"), y.numpy().astype(np.float32))
    one_node_cases(args.out)
    refusals(args.out)
    print("wrote conv3d, the w3d_ cases and refuse_convtranspose_3d")


if __name__ == "__main__":
    main()
