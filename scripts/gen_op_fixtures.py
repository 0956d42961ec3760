#!/usr/bin/python3
"""Write the operator conformance fixtures in tests/fixtures/ops/.

Usage: /usr/bin/python3 scripts/gen_op_fixtures.py [--out tests/fixtures/ops]

For every operator of model-format.md section 3 this writes one or more
small models, each with a single graph input, from the spec alone (numpy
only; nothing here knows the C code):

    <case>.safetensors     the model (scripts/quanta_format.py)
    <case>.input.npy       the input, batch 3 (float32; int64/int32 ids for
                           the embedding cases)
    <case>.expected.npy    the graph's single output, computed in float64 by
                           scripts/quanta_ref.py (the spec's definitions)
                           and cast to float32
    manifest.txt           the case names, one per line

The inputs are float, so no normalize block applies. Random values come
from numpy's default_rng seeded with the CRC-32 of the case name, so each
case is reproducible on its own and the files are byte-identical from run
to run. Cases whose name ends in "_fixed_batch" declare the input shape
with batch 3 instead of -1, because their constant operand has the input's
full shape (spec: "b has a's shape").
"""

import argparse
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quanta_format as qf  # noqa: E402
import quanta_ref  # noqa: E402

BATCH = 3
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


class Builder:
    """Collects one case: an input, nodes and tensors."""

    def __init__(self, name, shape, dtype="F32", scale=1.0, data=None, fixed_batch=False):
        self.name = name
        self.rng = rng_for(name)
        self.nodes = []
        self.tensors = {}
        full = [BATCH] + list(shape)
        if data is None:
            data = (self.rng.standard_normal(full) * scale).astype(np.float32)
        self.input = data
        self.input_entry = qf.graph_input("x", [BATCH if fixed_batch else -1] + list(shape),
                                          dtype)
        self.last = "x"

    def const(self, name, shape, scale=1.0, offset=0.0, dtype=None):
        """A random F32 tensor (or stored as dtype: Tensor(..., "F16"))."""
        arr = (self.rng.standard_normal(shape) * scale + offset).astype(np.float32)
        self.tensors[name] = arr if dtype is None else qf.Tensor(arr, dtype)
        return name

    def op(self, op, name, inputs, **attrs):
        out = name + ".out"
        self.nodes.append(qf.node(op, name, inputs, [out], **attrs))
        self.last = out
        return out

    def write(self, out_dir):
        graph = qf.make_graph(self.name, [self.input_entry], [self.last], self.nodes)
        path = os.path.join(out_dir, self.name + ".safetensors")
        qf.write_model(path, graph, self.tensors)
        # Expected values from the file as written (F16/BF16 weights rounded).
        g, tensors, _ = qf.read_model(path)
        out = quanta_ref.run_graph(g, tensors, {"x": self.input})[self.last]
        qf.write_npy(os.path.join(out_dir, self.name + ".input.npy"), self.input)
        qf.write_npy(os.path.join(out_dir, self.name + ".expected.npy"),
                     out.astype(np.float32))
        return path


# -- conv2d ---------------------------------------------------------------

def _conv(name, shape, wshape, bias=True, wscale=0.5, in_scale=1.0, **attrs):
    b = Builder(name, shape, scale=in_scale)
    ins = ["x", b.const("conv.weight", wshape, wscale)]
    if bias:
        ins.append(b.const("conv.bias", [wshape[0]], 0.5))
    b.op("conv2d", "conv", ins, **attrs)
    return b


@case
def conv2d_basic():  # every attr left at its default
    return _conv("conv2d_basic", [6, 5, 2], [4, 3, 3, 2])


@case
def conv2d_nobias():
    return _conv("conv2d_nobias", [5, 5, 3], [2, 3, 3, 3], bias=False,
                 strides=[1, 1], pads=[1, 1, 1, 1])


@case
def conv2d_stride2():
    return _conv("conv2d_stride2", [7, 8, 2], [3, 3, 3, 2], strides=[2, 2], pads=[1, 1, 1, 1])


@case
def conv2d_pads_asym():
    return _conv("conv2d_pads_asym", [5, 6, 2], [3, 3, 2, 2], pads=[1, 0, 2, 1])


@case
def conv2d_stride_asym():  # different strides per axis, asymmetric pads
    return _conv("conv2d_stride_asym", [7, 7, 2], [2, 3, 3, 2], strides=[2, 1],
                 pads=[0, 2, 1, 0])


@case
def conv2d_dilation2():
    return _conv("conv2d_dilation2", [7, 7, 2], [3, 3, 3, 2], dilations=[2, 2], pads=[2, 2, 2, 2])


@case
def conv2d_groups2():
    return _conv("conv2d_groups2", [5, 5, 4], [6, 3, 3, 2], groups=2, pads=[1, 1, 1, 1])


@case
def conv2d_depthwise():
    return _conv("conv2d_depthwise", [6, 6, 3], [3, 3, 3, 1], groups=3, pads=[1, 1, 1, 1])


@case
def conv2d_depthwise_m2():  # depthwise with channel multiplier 2: O = 2*C
    return _conv("conv2d_depthwise_m2", [6, 5, 3], [6, 3, 3, 1], groups=3,
                 strides=[2, 2], pads=[1, 1, 1, 1])


@case
def conv2d_1x1():
    return _conv("conv2d_1x1", [4, 4, 5], [3, 1, 1, 5])


@case
def conv2d_relu():
    return _conv("conv2d_relu", [5, 5, 2], [4, 3, 3, 2], pads=[1, 1, 1, 1], activation="relu")


@case
def conv2d_relu6():  # large weights so that some outputs pass 6
    return _conv("conv2d_relu6", [5, 5, 2], [4, 3, 3, 2], wscale=2.0, in_scale=1.5,
                 pads=[1, 1, 1, 1], activation="relu6")


@case
def conv2d_f16():  # F16 weight and bias
    b = Builder("conv2d_f16", [5, 5, 2])
    w = b.const("conv.weight", [3, 3, 3, 2], 0.5, dtype="F16")
    bias = b.const("conv.bias", [3], 0.5, dtype="F16")
    b.op("conv2d", "conv", ["x", w, bias], pads=[1, 1, 1, 1])
    return b


# -- dense ----------------------------------------------------------------

@case
def dense():
    b = Builder("dense", [12])
    b.op("dense", "fc", ["x", b.const("fc.weight", [5, 12], 0.3), b.const("fc.bias", [5])])
    return b


@case
def dense_relu():
    b = Builder("dense_relu", [12])
    b.op("dense", "fc", ["x", b.const("fc.weight", [7, 12], 0.3), b.const("fc.bias", [7])],
         activation="relu")
    return b


@case
def dense_relu6():
    b = Builder("dense_relu6", [12], scale=2.0)
    b.op("dense", "fc", ["x", b.const("fc.weight", [7, 12], 1.0), b.const("fc.bias", [7])],
         activation="relu6")
    return b


@case
def dense_nobias():
    b = Builder("dense_nobias", [9])
    b.op("dense", "fc", ["x", b.const("fc.weight", [4, 9], 0.3)])
    return b


@case
def dense_bf16():  # BF16 weight and bias
    b = Builder("dense_bf16", [10])
    b.op("dense", "fc", ["x", b.const("fc.weight", [6, 10], 0.3, dtype="BF16"),
                         b.const("fc.bias", [6], dtype="BF16")])
    return b


# -- element-wise -----------------------------------------------------------

def _unary(name, op, shape, scale=2.0, **attrs):
    b = Builder(name, shape, scale=scale)
    b.op(op, op, ["x"], **attrs)
    return b


@case
def relu():
    return _unary("relu", "relu", [4, 4, 3])


@case
def relu6():  # inputs up to about +-16, so both clamps are hit
    return _unary("relu6", "relu6", [4, 4, 3], scale=5.0)


@case
def sigmoid():
    return _unary("sigmoid", "sigmoid", [4, 4, 3], scale=4.0)


@case
def tanh():
    return _unary("tanh", "tanh", [10], scale=3.0)


@case
def leaky_relu():
    return _unary("leaky_relu", "leaky_relu", [4, 4, 3], alpha=0.2)


@case
def leaky_relu_default():  # alpha left out: 0.01
    return _unary("leaky_relu_default", "leaky_relu", [20])


# the element-wise math ops: inputs in each function's domain, parameters
# other than their defaults where the op has any
@case
def neg():
    return _unary("neg", "neg", [4, 5])


@case
def abs():  # noqa: A001 (the op's name)
    return _unary("abs", "abs", [4, 5])


@case
def exp():
    return _unary("exp", "exp", [4, 5])


@case
def log():
    b = Builder("log", [4, 5])
    b.input = np.abs(b.input) + np.float32(0.05)
    b.op("log", "log", ["x"])
    return b


@case
def sqrt():
    b = Builder("sqrt", [4, 5])
    b.input = np.abs(b.input)
    b.op("sqrt", "sqrt", ["x"])
    return b


@case
def erf():
    return _unary("erf", "erf", [4, 4, 3])


@case
def hard_sigmoid():  # ONNX defaults alpha 0.2, beta 0.5; inputs reach both ends
    return _unary("hard_sigmoid", "hard_sigmoid", [4, 4, 3], scale=4.0)


@case
def hard_sigmoid_attrs():  # PyTorch's hardsigmoid: alpha 1/6
    return _unary("hard_sigmoid_attrs", "hard_sigmoid", [20], scale=5.0, alpha=1.0 / 6.0,
                  beta=0.5)


@case
def hard_swish():
    return _unary("hard_swish", "hard_swish", [4, 4, 3], scale=4.0)


@case
def elu():
    return _unary("elu", "elu", [4, 5], alpha=0.7)


@case
def selu():
    return _unary("selu", "selu", [4, 5])


@case
def clip():
    return _unary("clip", "clip", [4, 5], min=-0.5, max=1.25)


@case
def silu():
    return _unary("silu", "silu", [4, 4, 3], scale=4.0)


@case
def gelu():
    return _unary("gelu", "gelu", [4, 4, 3])


@case
def gelu_tanh():
    return _unary("gelu_tanh", "gelu_tanh", [4, 4, 3])


# -- pooling ------------------------------------------------------------------

@case
def max_pool2d():  # default strides = kernel
    b = Builder("max_pool2d", [6, 6, 3])
    b.op("max_pool2d", "pool", ["x"], kernel=[2, 2])
    return b


@case
def max_pool2d_pads():  # padded, strides differ from the kernel
    b = Builder("max_pool2d_pads", [7, 7, 2])
    b.op("max_pool2d", "pool", ["x"], kernel=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    return b


@case
def max_pool2d_asym():  # all-negative input: padding must not act as 0
    b = Builder("max_pool2d_asym", [6, 7, 2],
                data=-np.abs(rng_for("max_pool2d_asym").standard_normal([BATCH, 6, 7, 2])
                             ).astype(np.float32) - 0.5)
    b.op("max_pool2d", "pool", ["x"], kernel=[2, 3], strides=[1, 2], pads=[1, 0, 0, 1])
    return b


@case
def avg_pool2d():
    b = Builder("avg_pool2d", [6, 6, 3])
    b.op("avg_pool2d", "pool", ["x"], kernel=[2, 2])
    return b


@case
def avg_pool2d_pads():  # padding not counted: edge windows average fewer cells
    b = Builder("avg_pool2d_pads", [7, 7, 2], scale=1.0)
    b.input = b.input + np.float32(3.0)  # an offset makes counting errors visible
    b.op("avg_pool2d", "pool", ["x"], kernel=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    return b


@case
def avg_pool2d_asym():
    b = Builder("avg_pool2d_asym", [5, 6, 2])
    b.input = b.input + np.float32(2.0)
    b.op("avg_pool2d", "pool", ["x"], kernel=[2, 3], strides=[2, 1], pads=[1, 0, 0, 2])
    return b


@case
def global_avg_pool():
    b = Builder("global_avg_pool", [5, 6, 4])
    b.op("global_avg_pool", "gap", ["x"])
    return b


# -- shapes -------------------------------------------------------------------

@case
def flatten():
    b = Builder("flatten", [2, 3, 4])
    b.op("flatten", "flat", ["x"])
    return b


@case
def reshape():
    b = Builder("reshape", [2, 3, 4])
    b.op("reshape", "rs", ["x"], shape=[-1, 6, 4])
    return b


@case
def reshape_2d_to_4d():
    b = Builder("reshape_2d_to_4d", [24])
    b.op("reshape", "rs", ["x"], shape=[-1, 2, 3, 4])
    return b


# -- binary ---------------------------------------------------------------------

@case
def add_const_fixed_batch():  # b: a constant of a's full shape
    b = Builder("add_const_fixed_batch", [4, 4, 2], fixed_batch=True)
    b.op("add", "add", ["x", b.const("add.b", [BATCH, 4, 4, 2])])
    return b


@case
def add_bcast():  # b: [C] broadcast over the last axis
    b = Builder("add_bcast", [4, 5, 3])
    b.op("add", "add", ["x", b.const("add.b", [3])])
    return b


@case
def add_bcast_2d_relu6():
    b = Builder("add_bcast_2d_relu6", [8], scale=4.0)
    b.op("add", "add", ["x", b.const("add.b", [8], 2.0)], activation="relu6")
    return b


@case
def add_residual():  # two activations: conv output + graph input, relu
    b = Builder("add_residual", [5, 5, 3])
    c = b.op("conv2d", "conv", ["x", b.const("conv.weight", [3, 3, 3, 3], 0.3),
                                b.const("conv.bias", [3], 0.3)], pads=[1, 1, 1, 1])
    b.op("add", "add", [c, "x"], activation="relu")
    return b


@case
def mul_const_fixed_batch():
    b = Builder("mul_const_fixed_batch", [3, 4, 2], fixed_batch=True)
    b.op("mul", "mul", ["x", b.const("mul.b", [BATCH, 3, 4, 2])])
    return b


@case
def mul_bcast():
    b = Builder("mul_bcast", [4, 5, 3])
    b.op("mul", "mul", ["x", b.const("mul.b", [3])])
    return b


@case
def mul_se_broadcast():  # squeeze-excitation: [N, 1, 1, C] scales [N, H, W, C]
    b = Builder("mul_se_broadcast", [4, 4, 3])
    g = b.op("mean", "gap", ["x"], axes=[1, 2], keepdims=True)
    s = b.op("sigmoid", "gate", [g])
    b.op("mul", "scale", ["x", s])
    return b


@case
def add_bcast_first():  # the constant first and smaller: [4, 1] + [N, 4, 5]
    b = Builder("add_bcast_first", [4, 5])
    b.op("add", "add", [b.const("add.a", [4, 1]), "x"])
    return b


@case
def sub_bcast():
    b = Builder("sub_bcast", [4, 5, 3])
    b.op("sub", "sub", ["x", b.const("sub.b", [5, 1])])
    return b


@case
def div_bcast():
    b = Builder("div_bcast", [4, 5])
    b.op("div", "div", [b.const("div.a", [5]), "x"])
    return b


@case
def pow_scalar():  # x^2 with a scalar exponent, as LayerNorm's decomposition does
    b = Builder("pow_scalar", [4, 5])
    b.tensors["pow.e"] = np.array(2.0, np.float32)
    b.op("pow", "pow", ["x", "pow.e"])
    return b


@case
def min_max():
    b = Builder("min_max", [4, 5])
    lo = b.op("max", "max", ["x", b.const("max.b", [5])])
    b.op("min", "min", [lo, b.const("min.b", [4, 1], offset=1.0)])
    return b


@case
def prelu():  # one slope per channel
    b = Builder("prelu", [4, 4, 3])
    b.op("prelu", "prelu", ["x", b.const("prelu.slope", [3], 0.3)])
    return b


@case
def log_softmax():
    return _unary("log_softmax", "log_softmax", [4, 6], scale=3.0, axis=1)


@case
def reductions():  # sum over H, max over W (kept), min and L2 over channels
    b = Builder("reductions", [4, 5, 3])
    s = b.op("reduce_sum", "sum", ["x"], axes=[1], keepdims=True)
    m = b.op("reduce_max", "max", [s], axes=[2], keepdims=True)
    lo = b.op("reduce_min", "min", [m], axes=[3], keepdims=True)
    b.op("reduce_l2", "l2", [b.op("add", "join", [lo, s])], axes=[2, 3])
    return b


@case
def argmax_argmin():  # over W of clipped values, so that extremes tie: last max, first min
    b = Builder("argmax_argmin", [5, 6, 3])
    c = b.op("clip", "clip", ["x"], min=-0.5, max=0.5)
    hi = b.op("argmax", "argmax", [c], axes=[2], keepdims=True, select_last=True)
    lo = b.op("argmin", "argmin", [c], axes=[2], keepdims=True)
    b.op("sub", "diff", [hi, lo])
    return b


@case
def slice_steps():  # every second row backwards, channels 1..2, the batch whole
    b = Builder("slice_steps", [6, 5, 4])
    b.op("slice", "s", ["x"], shape=[-1, 3, 5, 2], starts=[0, 5, 0, 1], steps=[1, -2, 1, 1])
    return b


@case
def matmul_attention_scores():  # x [N, 4, 5] times its own transpose, then by a constant
    b = Builder("matmul_attention_scores", [4, 5])
    t = b.op("transpose", "t", ["x"], perm=[0, 2, 1])
    s = b.op("matmul", "scores", ["x", t])
    b.op("matmul", "mix", [s, b.const("mix.v", [4, 3])])
    return b


@case
def pad_modes():  # reflect past the edge, edge, then a constant with crops (any rank)
    b = Builder("pad_modes", [4, 3, 2])
    b.op("pad", "reflect", ["x"], pads_begin=[0, 5, 1, 0], pads_end=[0, 2, -1, 1],
         mode="reflect")
    b.op("pad", "edge", [b.last], pads_begin=[0, 0, 2, 1], pads_end=[0, 1, 0, 2], mode="edge")
    b.op("pad", "constant", [b.last], pads_begin=[0, -2, 1, 0], pads_end=[0, 1, -1, 0],
         value=-0.75)
    return b


@case
def pad_rank2_reflect_one():  # reflect of a one-element axis repeats it
    b = Builder("pad_rank2_reflect_one", [1])
    b.op("pad", "p", ["x"], pads_begin=[0, 3], pads_end=[0, 2], mode="reflect")
    return b


@case
def resize_nearest_half_pixel_ceil():  # NHWC, H up by 2, W down by 0.5 (ties 2o + 0.5)
    b = Builder("resize_nearest_half_pixel_ceil", [5, 8, 3])
    b.op("resize", "r", ["x"], shape=[-1, 10, 4, 3], scales=[1, 2, 0.5, 1],
         nearest="round_prefer_ceil")
    return b


@case
def resize_nearest_asymmetric_floor():  # ties o / 2 rounded down (the default rounding)
    b = Builder("resize_nearest_asymmetric_floor", [3, 4, 2])
    b.op("resize", "r", ["x"], shape=[-1, 6, 8, 5], coord="asymmetric")
    return b


@case
def resize_nearest_modes():  # align_corners with ceil, floor, tf_half_pixel_for_nn
    b = Builder("resize_nearest_modes", [5, 4, 3])
    b.op("resize", "r1", ["x"], shape=[-1, 7, 5, 3], coord="align_corners", nearest="ceil")
    b.op("resize", "r2", [b.last], shape=[-1, 4, 9, 3], coord="half_pixel", nearest="floor")
    b.op("resize", "r3", [b.last], shape=[-1, 3, 8, 2], coord="tf_half_pixel_for_nn")
    return b


@case
def resize_linear_half_pixel():  # N-D linear: H, W and C all resized (sizes)
    b = Builder("resize_linear_half_pixel", [4, 5, 3])
    b.op("resize", "r", ["x"], shape=[-1, 7, 3, 5], mode="linear")
    return b


@case
def resize_linear_align_corners():  # the real output height 0.6 * 4 = 2.4 (2 rows) divides
    b = Builder("resize_linear_align_corners", [4, 4, 2])
    b.op("resize", "r", ["x"], shape=[-1, 2, 9, 2], scales=[1, 0.6, 2.25, 1], mode="linear",
         coord="align_corners")
    return b


@case
def resize_linear_pytorch_half_pixel():  # an output extent of 1 reads coordinate -0.5
    b = Builder("resize_linear_pytorch_half_pixel", [4, 5, 3])
    b.op("resize", "r", ["x"], shape=[-1, 1, 8, 3], mode="linear", coord="pytorch_half_pixel")
    return b


@case
def resize_linear_asymmetric_rank3():  # [N, L, C] with L and C resized
    b = Builder("resize_linear_asymmetric_rank3", [5, 4])
    b.op("resize", "r", ["x"], shape=[-1, 8, 7], scales=[1, 1.7, 1.75], mode="linear",
         coord="asymmetric")
    return b


@case
def transpose_nhwc_to_nchw():
    b = Builder("transpose_nhwc_to_nchw", [4, 5, 3])
    b.op("transpose", "t", ["x"], perm=[0, 3, 1, 2])
    return b


@case
def transpose_channel_shuffle():  # ShuffleNet: [N, HW, 2, 3] -> [N, HW, 3, 2], then relu
    b = Builder("transpose_channel_shuffle", [6, 2, 3])
    t = b.op("transpose", "t", ["x"], perm=[0, 1, 3, 2])
    b.op("relu", "r", [t])
    return b


@case
def layer_norm():  # over the last axis, scale and bias, default epsilon
    b = Builder("layer_norm", [4, 6], scale=3.0)
    b.op("layer_norm", "ln", ["x", b.const("ln.scale", [6], 0.5, 1.0), b.const("ln.bias", [6], 0.3)])
    return b


@case
def layer_norm_axis1_nobias():  # over [H, W, C] of an NHWC tensor, no bias
    b = Builder("layer_norm_axis1_nobias", [3, 4, 2], scale=2.0)
    b.op("layer_norm", "ln", ["x", b.const("ln.scale", [3, 4, 2], 0.5, 1.0)], axis=1,
         epsilon=1e-3)
    return b


@case
def instance_norm():  # [N, H, W, C]: per sample and channel over H, W
    b = Builder("instance_norm", [4, 5, 3], scale=2.0)
    b.op("instance_norm", "in", ["x", b.const("in.scale", [3], 0.5, 1.0),
                                 b.const("in.bias", [3], 0.3)], epsilon=1e-3)
    return b


@case
def instance_norm_1d():  # [N, L, C]
    b = Builder("instance_norm_1d", [7, 2])
    b.op("instance_norm", "in", ["x", b.const("in.scale", [2], 0.5, 1.0),
                                 b.const("in.bias", [2], 0.3)])
    return b


@case
def cast_f16():  # rounds to float16 (to nearest, ties to even), overflow to infinity
    data = (rng_for("cast_f16").standard_normal([BATCH, 8]) * 1000).astype(np.float32)
    data[0, :4] = [70000.0, -1e5, 2049.0, 2051.0]  # overflow, ties between f16 neighbours
    b = Builder("cast_f16", [8], data=data)
    b.op("cast", "c", ["x"], to="F16")
    return b


@case
def cast_i8():  # truncates toward zero; every value inside [-128, 127]
    data = rng_for("cast_i8").uniform(-128.9, 127.9, [BATCH, 10]).astype(np.float32)
    data[0, :4] = [-0.5, 0.5, -128.9, 127.9]
    b = Builder("cast_i8", [10], data=data)
    b.op("cast", "c", ["x"], to="I8")
    return b


@case
def cast_bool():
    data = rng_for("cast_bool").integers(-1, 2, [BATCH, 6]).astype(np.float32)
    b = Builder("cast_bool", [6], data=data)
    b.op("cast", "c", ["x"], to="BOOL")
    return b


@case
def cast_ids_f32():  # I64 ids read as numbers: float32, rounded to nearest above 2^24
    ids = rng_for("cast_ids_f32").integers(-1000, 1000, [BATCH, 4]).astype(np.int64)
    ids[0, :3] = [2**24 + 1, 2**40 + 3, -(2**30) - 1]
    b = Builder("cast_ids_f32", [4], dtype="I64", data=ids)
    c = b.op("cast", "c", ["x"], to="F32")
    b.op("mul", "scale", [c, b.const("scale.b", [4], 0.5, 1.0)])
    return b


@case
def input_u8():  # a declared U8 input: uint8 data fed as float, exactly
    data = rng_for("input_u8").integers(0, 256, [BATCH, 4, 4, 1]).astype(np.uint8)
    b = Builder("input_u8", [4, 4, 1], dtype="U8", data=data)
    b.op("max_pool2d", "pool", ["x"], kernel=[2, 2])
    b.op("flatten", "flat", [b.last])
    b.op("dense", "fc", [b.last, b.const("fc.weight", [3, 4], 0.01)])
    return b


@case
def mul_two_relu():  # x * sigmoid(x) (two activations), relu clears the negatives
    b = Builder("mul_two_relu", [4, 4, 3], scale=2.0)
    s = b.op("sigmoid", "sig", ["x"])
    b.op("mul", "mul", ["x", s], activation="relu")
    return b


@case
def concat_last():  # default axis -1, three operands
    b = Builder("concat_last", [3, 4, 2])
    r = b.op("relu", "relu", ["x"])
    t = b.op("tanh", "tanh", ["x"])
    b.op("concat", "cat", ["x", r, t])
    return b


@case
def concat_axis1():
    b = Builder("concat_axis1", [3, 4, 2])
    s = b.op("sigmoid", "sig", ["x"])
    b.op("concat", "cat", ["x", s], axis=1)
    return b


@case
def concat_2d():
    b = Builder("concat_2d", [5])
    f = b.op("dense", "fc", ["x", b.const("fc.weight", [3, 5]), b.const("fc.bias", [3])])
    b.op("concat", "cat", [f, "x"], axis=-1)
    return b


# -- softmax, batch_norm, embedding, mean -----------------------------------------

@case
def softmax():  # default axis -1
    return _unary("softmax", "softmax", [10], scale=3.0)


@case
def softmax_4d():
    return _unary("softmax_4d", "softmax", [3, 4, 5], scale=3.0, axis=-1)


@case
def softmax_axis1():
    return _unary("softmax_axis1", "softmax", [4, 5], scale=3.0, axis=1)


def _bn(name, shape, **attrs):
    b = Builder(name, shape)
    c = shape[-1]
    gamma = b.const("bn.gamma", [c], 0.5, 1.0)
    beta = b.const("bn.beta", [c], 0.5)
    mean = b.const("bn.mean", [c], 0.5)
    var = "bn.var"
    b.tensors[var] = (np.abs(b.rng.standard_normal(c)) + 0.05).astype(np.float32)
    b.op("batch_norm", "bn", ["x", gamma, beta, mean, var], **attrs)
    return b


@case
def batch_norm():
    return _bn("batch_norm", [4, 4, 5], epsilon=1e-3)


@case
def batch_norm_2d():  # default epsilon 1e-5
    return _bn("batch_norm_2d", [6])


def _embedding(name, np_dtype, dtype):
    ids = rng_for(name).integers(0, 10, [BATCH, 5]).astype(np_dtype)
    ids[0, 0], ids[1, 1] = 0, 9  # first and last rows of the table
    b = Builder(name, [5], dtype=dtype, data=ids)
    b.op("embedding", "emb", ["x", b.const("emb.table", [10, 4])])
    return b


@case
def embedding():
    return _embedding("embedding", np.int64, "I64")


@case
def embedding_i32():
    return _embedding("embedding_i32", np.int32, "I32")


def _bag(name, mode):
    ids = rng_for(name).integers(0, 10, [BATCH, 5]).astype(np.int64)
    ids[0, 0], ids[1, 1], ids[2, 2] = 0, 9, ids[2, 3]  # end rows, a repeat
    b = Builder(name, [5], dtype="I64", data=ids)
    b.op("embedding_bag", "bag", ["x", b.const("bag.table", [10, 4])], mode=mode)
    return b


@case
def embedding_bag_sum():
    return _bag("embedding_bag_sum", "sum")


@case
def embedding_bag_mean():
    return _bag("embedding_bag_mean", "mean")


@case
def embedding_bag_max():
    return _bag("embedding_bag_max", "max")


@case
def mean_hw():
    b = Builder("mean_hw", [4, 5, 3])
    b.op("mean", "mean", ["x"], axes=[1, 2])
    return b


@case
def mean_hw_keepdims():
    b = Builder("mean_hw_keepdims", [4, 5, 3])
    b.op("mean", "mean", ["x"], axes=[1, 2], keepdims=True)
    return b


@case
def mean_last():
    b = Builder("mean_last", [4, 6])
    b.op("mean", "mean", ["x"], axes=[-1], keepdims=False)
    return b


# -- a chain of many ops ----------------------------------------------------------

@case
def all_ops():
    b = Builder("all_ops", [8, 8, 3])
    c1 = b.op("conv2d", "conv1", ["x", b.const("conv1.weight", [6, 3, 3, 3], 0.4),
                                  b.const("conv1.bias", [6], 0.2)],
              pads=[1, 1, 1, 1], activation="relu")
    bn = b.op("batch_norm", "bn", [c1, b.const("bn.gamma", [6], 0.2, 1.0),
                                   b.const("bn.beta", [6], 0.3), b.const("bn.mean", [6], 0.3),
                                   b.const("bn.var", [6], 0.1, 1.0)])
    lr = b.op("leaky_relu", "lrelu", [bn], alpha=0.1)
    mp = b.op("max_pool2d", "pool1", [lr], kernel=[2, 2])
    dw = b.op("conv2d", "dw", [mp, b.const("dw.weight", [6, 3, 3, 1], 0.5),
                               b.const("dw.bias", [6], 0.2)], pads=[1, 1, 1, 1], groups=6)
    r6 = b.op("relu6", "relu6", [dw])
    ad = b.op("add", "res", [r6, mp], activation="relu")
    sg = b.op("sigmoid", "sig", [ad])
    sw = b.op("mul", "swish", [ad, sg])
    mc = b.op("mul", "scale", [sw, b.const("scale.b", [6], 0.5, 1.0)])
    rl = b.op("relu", "relu", [mc])
    cat = b.op("concat", "cat", [rl, ad], axis=-1)
    ap = b.op("avg_pool2d", "pool2", [cat], kernel=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    mn = b.op("mean", "mean", [ap], axes=[1], keepdims=True)
    fl = b.op("flatten", "flat", [mn])
    d1 = b.op("dense", "fc1", [fl, b.const("fc1.weight", [16, 48], 0.3),
                               b.const("fc1.bias", [16], 0.1)], activation="relu")
    th = b.op("tanh", "tanh", [d1])
    ac = b.op("add", "shift", [th, b.const("shift.b", [16], 0.5)])
    rs = b.op("reshape", "rs", [ac], shape=[-1, 4, 4])
    sm = b.op("softmax", "sm1", [rs], axis=1)
    f2 = b.op("reshape", "rs2", [sm], shape=[-1, 16])
    gp = b.op("global_avg_pool", "gap", [ap])
    cc = b.op("concat", "cat2", [f2, gp], axis=-1)
    d2 = b.op("dense", "fc2", [cc, b.const("fc2.weight", [5, 28], 0.3)])
    b.op("softmax", "sm2", [d2])
    return b


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Write tests/fixtures/ops.")
    default = os.path.normpath(os.path.join(here, "..", "tests", "fixtures", "ops"))
    ap.add_argument("--out", default=default)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = []
    for fn in CASES:
        b = fn()
        assert b.name == fn.__name__, fn.__name__
        b.write(args.out)
        names.append(b.name)
    with open(os.path.join(args.out, "manifest.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    biggest = max(os.path.getsize(os.path.join(args.out, n + ext))
                  for n in names for ext in (".safetensors", ".input.npy", ".expected.npy"))
    print("wrote %d cases to %s (largest file %d bytes)" % (len(names), args.out, biggest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
