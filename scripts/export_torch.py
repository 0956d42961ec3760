#!/usr/bin/python3
"""Convert a PyTorch model to a quanta model file (safetensors + graph).

Usage:

    /usr/bin/python3 scripts/export_torch.py MODEL.pt -o OUT.safetensors \\
        --input-shape 1x28x28 [options]

MODEL.pt is a whole pickled module (``torch.save(model, "MODEL.pt")``). If
its classes live in a Python file, pass ``--import FILE.py`` so that
unpickling finds them (plain nn.Sequential models need nothing).

Options:
    --input-shape CxHxW   shape of ONE sample, without the batch; a 3-D
                          shape is an image: PyTorch NCHW, written as the
                          NHWC graph input [-1, H, W, C]. Other ranks are
                          kept as they are (e.g. "16" for [N,16] token ids).
    --input-name NAME     graph input name (default "image")
    --input-dtype D       F32 (default), I64 or I32 (token ids for Embedding)
    --scale S --mean M[,M...] --std S[,S...]
                          the normalize block: integer data x is fed as
                          (x*S - M[c]) / S[c]. Give what the model was trained
                          with. Defaults for image inputs: scale 1/255, mean
                          0, std 1; --no-normalize leaves the block out (it is
                          left out by default for non-image inputs).
    --name NAME           graph name (default: the output file's stem)
    --output-name NAME    name of the graph output; repeat for several
                          (default "output", "output1", ...)
    --weight-dtype D      F32 (default), F16 or BF16 for float tensors
    --check               run the exported file through the numpy reference
                          (scripts/quanta_ref.py) on random data and compare
                          with PyTorch (fails above 1e-4 for F32 weights; with
                          F16/BF16 it only reports the rounding difference)

As a library:

    import export_torch
    export_torch.export(model, (1, 28, 28), "m.safetensors",
                        normalize={"scale": 1/255, "mean": [0.286], "std": [0.353]},
                        output_names=["logits"])

Supported (traced with torch.fx.symbolic_trace, so Sequential models and
simple residual models with +, torch.cat, ... work):

    nn.Conv2d (stride, padding incl. "same"/"valid", dilation, groups;
        zero padding mode; a ZeroPad2d / F.pad(constant 0) feeding only the
        conv is folded into its asymmetric pads)  -> conv2d, weight
        permuted [O,C/g,KH,KW] -> [O,KH,KW,C/g]
    nn.Linear -> dense (the first Linear after flattening a 4-D tensor gets
        its input columns permuted from (C,H,W) to (H,W,C) order)
    nn.ReLU / nn.ReLU6 / F.relu / F.relu6: fused into the "activation" of
        the conv2d, dense, add or mul before it when that is their only
        consumer, else relu / relu6 nodes
    nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.Softmax (and their functions)
    nn.MaxPool2d, nn.AvgPool2d (no ceil_mode; with padding, AvgPool2d needs
        count_include_pad=False), nn.AdaptiveAvgPool2d (1 followed by a
        flatten -> global_avg_pool; 1 otherwise -> mean keepdims; sizes that
        divide the input -> avg_pool2d)
    nn.Flatten / torch.flatten(x, 1) / x.view(x.size(0), -1) -> flatten
    other reshapes of non-image tensors -> reshape [-1, ...]
    nn.BatchNorm2d / nn.BatchNorm1d (on [N,C]) -> batch_norm
    +, torch.add, *, torch.mul (two activations of one shape, or an
        activation and a per-channel constant / scalar) -> add / mul
    torch.cat -> concat; x.mean / torch.mean over non-batch dims -> mean
    nn.Embedding -> embedding; nn.Dropout, nn.Identity -> dropped

The model is exported in eval mode. Anything else stops the export with a
message naming the layer.
"""

import argparse
import operator
import os
import sys

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quanta_format as qf  # noqa: E402

NCHW_TO_NHWC = [0, 3, 1, 2]  # PyTorch dim of a 4-D tensor -> quanta axis
TRACE_BATCH = 2


class ExportError(Exception):
    """The model uses something quanta cannot express."""


class _Value:
    """A graph value as the exporter tracks it.

    shape: the PyTorch shape (batch included) from shape propagation.
    nhwc: a 4-D PyTorch tensor, stored by quanta in NHWC order.
    perm: for a 2-D value made by flattening an NCHW tensor, the PyTorch
          column of each quanta column (None when the orders agree).
    pad:  (top, left, bottom, right) of a pending ZeroPad2d; the value name is
          then the unpadded source, and only a Conv2d may consume it.
    """

    def __init__(self, name, shape, nhwc=False, perm=None, producer=None, pad=None,
                 origin=None):
        self.name = name
        self.origin = origin  # the fx node whose result this is
        self.shape = list(shape)
        self.nhwc = nhwc
        self.perm = perm
        self.producer = producer
        self.pad = pad


class _Const:
    """A get_attr tensor or Python number, usable as an add/mul operand."""

    def __init__(self, value):
        self.value = value


_RELU_MODULES = (nn.ReLU,)
_UNARY_FUNCS = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6",
    torch.sigmoid: "sigmoid", torch.tanh: "tanh",
}
_UNARY_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ALIAS_MODULES = (nn.Dropout, nn.Dropout2d, nn.Identity)
_ADD = (operator.add, torch.add)
_MUL = (operator.mul, torch.mul)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class _Exporter:
    def __init__(self, model, sample_shape, input_name, input_dtype, weight_dtype):
        self.model = model
        self.sample_shape = list(sample_shape)
        self.input_name = input_name
        self.input_dtype = input_dtype
        self.weight_dtype = weight_dtype
        self.nodes = []
        self.tensors = {}
        self.vals = {}
        self.aliases = {}
        self.used_names = set()
        self.modules = dict(model.named_modules())

    # -- helpers --------------------------------------------------------
    def fail(self, n, msg):
        raise ExportError("node '%s' (%s): %s" % (n.name, _describe(self, n), msg))

    def shape_of(self, n):
        meta = n.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            self.fail(n, "has no single tensor output")
        return list(meta.shape)

    def unique(self, base):
        name = base
        k = 2
        while name in self.used_names or name + ".out" in self.used_names:
            name = "%s_%d" % (base, k)
            k += 1
        self.used_names.add(name)
        return name

    def add_tensor(self, name, array, is_float=True):
        arr = np.ascontiguousarray(array)
        base, k = name, 2
        while name in self.tensors or name in self.used_names:
            name = "%s_%d" % (base, k)
            k += 1
        self.used_names.add(name)
        if is_float:
            self.tensors[name] = qf.Tensor(arr.astype(np.float32), self.weight_dtype)
        else:
            self.tensors[name] = arr
        return name

    def param(self, prefix, what, t):
        return self.add_tensor("%s.%s" % (prefix, what), t.detach().cpu().numpy())

    def emit(self, n, op, inputs, attrs, shape, nhwc=False, perm=None):
        base = n.target if n.op == "call_module" else n.name
        name = self.unique(str(base))
        out = name + ".out"
        self.used_names.add(out)
        entry = qf.node(op, name, inputs, [out], **attrs)
        self.nodes.append(entry)
        v = _Value(out, shape, nhwc, perm, producer=len(self.nodes) - 1, origin=n)
        self.vals[n] = v
        return v

    def value(self, n, arg):
        if not isinstance(arg, torch.fx.Node):
            self.fail(n, "operand %r is not a tensor" % (arg,))
        v = self.vals.get(arg)
        if v is None:
            self.fail(n, "operand '%s' is not a tensor quanta computes" % arg.name)
        if isinstance(v, _Const):
            self.fail(n, "operand '%s' is a constant, which only add/mul accept" % arg.name)
        if v.pad is not None:
            self.fail(n, "ZeroPad2d/F.pad is supported only directly before a Conv2d")
        return v

    def axis(self, n, v, dim):
        rank = len(v.shape)
        d = dim + rank if dim < 0 else dim
        if not 0 <= d < rank:
            self.fail(n, "dim %d out of range" % dim)
        if d == 0:
            self.fail(n, "operating along the batch dimension is not supported")
        q = NCHW_TO_NHWC[d] if v.nhwc else d
        return -1 if q == rank - 1 else q

    def no_perm(self, n, v):
        if v.perm is not None:
            self.fail(n, "consumes a flattened NCHW tensor in a way that depends "
                         "on its element order (only Linear, element-wise ops, "
                         "BatchNorm1d and softmax can follow such a flatten)")

    # -- the walk -------------------------------------------------------
    def run(self):
        self.model.eval()
        gm = torch.fx.symbolic_trace(self.model)
        dt = {"F32": torch.float32, "I64": torch.int64, "I32": torch.int32}[self.input_dtype]
        example = torch.zeros([TRACE_BATCH] + self.sample_shape, dtype=dt)
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ExportError("the model must take exactly one input, not %d"
                              % len(placeholders))
        outputs = None
        for n in gm.graph.nodes:
            if n in self.aliases:
                self.vals[n] = self.aliases[n]
            elif n.op == "placeholder":
                shape = self.shape_of(n)
                self.used_names.add(self.input_name)
                self.vals[n] = _Value(self.input_name, shape, nhwc=len(shape) == 4)
            elif n.op == "get_attr":
                self.vals[n] = _Const(_fetch_attr(gm, n.target))
            elif n.op == "call_module":
                self.module(n, self.modules[n.target])
            elif n.op == "call_function":
                self.function(n)
            elif n.op == "call_method":
                self.method(n)
            elif n.op == "output":
                outs = n.args[0]
                outputs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        result = []
        for o in outputs:
            v = self.value(o, o)
            if v.perm is not None:
                raise ExportError("output '%s' is a flattened NCHW tensor whose element "
                                  "order differs in quanta (NHWC)" % o.name)
            if v.nhwc:
                print("export_torch: note: output '%s' is 4-D; quanta gives it as NHWC"
                      % o.name, file=sys.stderr)
            result.append(v.name)
        return result

    # -- modules --------------------------------------------------------
    def module(self, n, m):
        if isinstance(m, _ALIAS_MODULES):
            self.vals[n] = self.value(n, n.args[0])
        elif isinstance(m, nn.Conv2d):
            self.conv(n, m)
        elif isinstance(m, nn.Linear):
            self.linear(n, m)
        elif isinstance(m, nn.ReLU):
            self.activation(n, "relu")
        elif isinstance(m, nn.ReLU6):
            self.activation(n, "relu6")
        elif isinstance(m, nn.Hardtanh) and m.min_val == 0.0 and m.max_val == 6.0:
            self.activation(n, "relu6")
        elif isinstance(m, nn.Sigmoid):
            self.unary(n, "sigmoid")
        elif isinstance(m, nn.Tanh):
            self.unary(n, "tanh")
        elif isinstance(m, nn.LeakyReLU):
            self.unary(n, "leaky_relu", alpha=float(m.negative_slope))
        elif isinstance(m, nn.Softmax):
            self.softmax(n, m.dim)
        elif isinstance(m, nn.MaxPool2d):
            if m.return_indices:
                self.fail(n, "return_indices is not supported")
            self.pool(n, "max_pool2d", m.kernel_size, m.stride, m.padding,
                      m.dilation, m.ceil_mode)
        elif isinstance(m, nn.AvgPool2d):
            if m.divisor_override is not None:
                self.fail(n, "divisor_override is not supported")
            self.pool(n, "avg_pool2d", m.kernel_size, m.stride, m.padding, 1,
                      m.ceil_mode, m.count_include_pad)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            self.adaptive_avg(n, m.output_size)
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                self.fail(n, "only Flatten(start_dim=1, end_dim=-1) is supported")
            self.flatten(n)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            self.batch_norm(n, m)
        elif isinstance(m, nn.Embedding):
            self.embedding(n, m)
        elif isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):
            value = getattr(m, "value", 0.0)
            self.pad(n, list(m.padding), value)
        else:
            self.fail(n, "module type %s is not supported" % type(m).__name__)

    def conv(self, n, m):
        v = self.vals.get(n.args[0])
        pre = (0, 0, 0, 0)
        if isinstance(v, _Value) and v.pad is not None:
            pre = v.pad
        else:
            v = self.value(n, n.args[0])
        if not v.nhwc:
            self.fail(n, "Conv2d input must be 4-D")
        if m.padding_mode != "zeros":
            self.fail(n, "padding_mode '%s' is not supported" % m.padding_mode)
        kh, kw = m.kernel_size
        dh, dw = m.dilation
        if isinstance(m.padding, str):
            if m.padding == "valid":
                pads = [0, 0, 0, 0]
            else:  # "same": PyTorch puts the odd extra cell at the end
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        else:
            ph, pw = m.padding
            pads = [ph, pw, ph, pw]
        pads = [p + q for p, q in zip(pads, pre)]
        prefix = n.target
        w = m.weight.detach().permute(0, 2, 3, 1).contiguous()
        inputs = [v.name, self.param(prefix, "weight", w)]
        if m.bias is not None:
            inputs.append(self.param(prefix, "bias", m.bias))
        attrs = {"strides": list(m.stride), "pads": pads, "dilations": list(m.dilation),
                 "groups": m.groups, "activation": "none"}
        self.emit(n, "conv2d", inputs, attrs, self.shape_of(n), nhwc=True)

    def linear(self, n, m):
        v = self.value(n, n.args[0])
        if len(v.shape) != 2:
            self.fail(n, "Linear input must be 2-D [N, K], not %s" % v.shape)
        w = m.weight.detach().cpu().numpy()
        if v.perm is not None:
            w = w[:, v.perm]
        inputs = [v.name, self.add_tensor(n.target + ".weight", w)]
        if m.bias is not None:
            inputs.append(self.param(n.target, "bias", m.bias))
        self.emit(n, "dense", inputs, {"activation": "none"}, self.shape_of(n))

    def activation(self, n, kind):
        src = n.args[0] if n.args else n.kwargs.get("input")
        v = self.value(n, src)
        if v.producer is not None and _sole_use(src, v.origin):
            prev = self.nodes[v.producer]
            if (prev["op"] in ("conv2d", "dense", "add", "mul")
                    and prev.get("attrs", {}).get("activation", "none") == "none"):
                prev.setdefault("attrs", {})["activation"] = kind
                self.vals[n] = v
                return
        self.emit(n, kind, [v.name], {}, v.shape, v.nhwc, v.perm)

    def unary(self, n, op, **attrs):
        v = self.value(n, n.args[0] if n.args else n.kwargs.get("input"))
        self.emit(n, op, [v.name], attrs, v.shape, v.nhwc, v.perm)

    def softmax(self, n, dim):
        v = self.value(n, n.args[0] if n.args else n.kwargs.get("input"))
        if dim is None:
            self.fail(n, "softmax needs an explicit dim")
        ax = self.axis(n, v, dim)
        if v.perm is not None and ax != -1:
            self.no_perm(n, v)
        self.emit(n, "softmax", [v.name], {"axis": ax}, v.shape, v.nhwc, v.perm)

    def pool(self, n, op, kernel, stride, padding, dilation, ceil_mode,
             count_include_pad=False):
        v = self.value(n, n.args[0])
        if not v.nhwc:
            self.fail(n, "pooling input must be 4-D")
        kernel = _pair(kernel)
        stride = _pair(stride) if stride not in (None, ()) else kernel
        padding = _pair(padding)
        if _pair(dilation) != (1, 1):
            self.fail(n, "pooling with dilation is not supported")
        if ceil_mode:
            self.fail(n, "ceil_mode=True is not supported")
        if count_include_pad and any(padding):
            self.fail(n, "AvgPool2d with padding needs count_include_pad=False "
                         "(quanta does not count padding cells)")
        attrs = {"kernel": list(kernel), "strides": list(stride),
                 "pads": [padding[0], padding[1], padding[0], padding[1]]}
        self.emit(n, op, [v.name], attrs, self.shape_of(n), nhwc=True)

    def adaptive_avg(self, n, output_size):
        v = self.value(n, n.args[0])
        if not v.nhwc:
            self.fail(n, "AdaptiveAvgPool2d input must be 4-D")
        oh, ow = _pair(output_size)
        _, _, h, w = v.shape
        oh = h if oh is None else oh
        ow = w if ow is None else ow
        if (oh, ow) == (1, 1):
            users = list(n.users)
            if len(users) == 1 and _is_flatten(self, users[0]):
                out = self.emit(n, "global_avg_pool", [v.name], {},
                                [v.shape[0], v.shape[1]])
                self.aliases[users[0]] = out
            else:
                self.emit(n, "mean", [v.name], {"axes": [1, 2], "keepdims": True},
                          self.shape_of(n), nhwc=True)
        elif h % oh == 0 and w % ow == 0:
            k = [h // oh, w // ow]
            self.emit(n, "avg_pool2d", [v.name], {"kernel": k, "strides": k},
                      self.shape_of(n), nhwc=True)
        else:
            self.fail(n, "AdaptiveAvgPool2d output %s does not divide input %s"
                      % ([oh, ow], [h, w]))

    def flatten(self, n):
        v = self.value(n, n.args[0])
        shape = self.shape_of(n)
        if len(v.shape) <= 2:
            self.vals[n] = v
            return
        perm = None
        if v.nhwc:
            _, c, h, w = v.shape
            if c > 1 and h * w > 1:
                perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
        self.emit(n, "flatten", [v.name], {}, shape, perm=perm)

    def reshape(self, n):
        v = self.value(n, n.args[0])
        shape = self.shape_of(n)
        if len(shape) == 2 and len(v.shape) >= 2 and shape[0] == v.shape[0]:
            self.flatten(n)
            return
        if v.nhwc or len(shape) == 4:
            self.fail(n, "reshapes of 4-D (NCHW/NHWC) tensors other than flatten "
                         "are not supported")
        self.no_perm(n, v)
        if shape[0] != v.shape[0]:
            self.fail(n, "reshape must keep the batch dimension")
        self.emit(n, "reshape", [v.name], {"shape": [-1] + shape[1:]}, shape)

    def batch_norm(self, n, m):
        v = self.value(n, n.args[0])
        if isinstance(m, nn.BatchNorm2d) and not v.nhwc:
            self.fail(n, "BatchNorm2d input must be 4-D")
        if isinstance(m, nn.BatchNorm1d) and len(v.shape) != 2:
            self.fail(n, "BatchNorm1d is supported on [N, C] only")
        if m.running_mean is None:
            self.fail(n, "batch norm without running statistics is not supported")
        c = m.num_features
        gamma = m.weight.detach().numpy() if m.affine else np.ones(c, np.float32)
        beta = m.bias.detach().numpy() if m.affine else np.zeros(c, np.float32)
        mean = m.running_mean.detach().numpy()
        var = m.running_var.detach().numpy()
        parts = [gamma, beta, mean, var]
        if v.perm is not None:
            parts = [p[v.perm] for p in parts]
        names = [self.add_tensor("%s.%s" % (n.target, k), p)
                 for k, p in zip(("weight", "bias", "running_mean", "running_var"), parts)]
        self.emit(n, "batch_norm", [v.name] + names, {"epsilon": float(m.eps)},
                  v.shape, v.nhwc, v.perm)

    def embedding(self, n, m):
        v = self.value(n, n.args[0])
        if m.max_norm is not None:
            self.fail(n, "Embedding max_norm is not supported")
        if len(v.shape) != 2 or v.producer is not None:
            self.fail(n, "Embedding ids must be the [N, T] graph input")
        table = self.param(n.target, "weight", m.weight)
        self.emit(n, "embedding", [v.name, table], {}, self.shape_of(n))

    def pad(self, n, padding, value):
        v = self.value(n, n.args[0])
        if value != 0:
            self.fail(n, "only zero padding is supported")
        if not v.nhwc or len(padding) != 4 or min(padding) < 0:
            self.fail(n, "only non-negative 2-D padding of a 4-D tensor is supported")
        left, right, top, bottom = padding
        users = list(n.users)
        if not (len(users) == 1 and users[0].op == "call_module"
                and isinstance(self.modules[users[0].target], nn.Conv2d)):
            self.fail(n, "padding is supported only when a Conv2d alone consumes it")
        self.vals[n] = _Value(v.name, self.shape_of(n), True, None, None,
                              (top, left, bottom, right))

    # -- functions and methods ------------------------------------------
    def function(self, n):
        f = n.target
        if f in _UNARY_FUNCS:
            kind = _UNARY_FUNCS[f]
            if kind in ("relu", "relu6"):
                self.activation(n, kind)
            else:
                self.unary(n, kind)
        elif f is F.hardtanh and _arg(n, 1, "min_val", -1.0) == 0.0 \
                and _arg(n, 2, "max_val", 1.0) == 6.0:
            self.activation(n, "relu6")
        elif f is F.leaky_relu:
            self.unary(n, "leaky_relu", alpha=float(_arg(n, 1, "negative_slope", 0.01)))
        elif f in (F.softmax, torch.softmax):
            self.softmax(n, _arg(n, 1, "dim", None))
        elif f is F.dropout:
            self.vals[n] = self.value(n, n.args[0])
        elif f is torch.flatten:
            if _arg(n, 1, "start_dim", 0) != 1 or _arg(n, 2, "end_dim", -1) != -1:
                self.fail(n, "only torch.flatten(x, 1) is supported")
            self.flatten(n)
        elif f is torch.reshape:
            self.reshape(n)
        elif f in _ADD:
            if _arg(n, 2, "alpha", 1) != 1:
                self.fail(n, "torch.add with alpha is not supported")
            self.binary(n, "add")
        elif f in _MUL:
            self.binary(n, "mul")
        elif f is torch.cat:
            self.cat(n, _arg(n, 0, "tensors", None), _arg(n, 1, "dim", 0))
        elif f is torch.mean:
            self.mean(n, _arg(n, 1, "dim", None), _arg(n, 2, "keepdim", False))
        elif f is F.pad:
            mode = _arg(n, 2, "mode", "constant")
            if mode != "constant":
                self.fail(n, "F.pad mode '%s' is not supported" % mode)
            self.pad(n, list(_arg(n, 1, "pad", ())), _arg(n, 3, "value", 0.0) or 0.0)
        elif f is operator.getitem and self.vals.get(n.args[0]) is None:
            self.vals[n] = None  # x.size()[i]: a shape computation
        else:
            self.fail(n, "function %s is not supported" % getattr(f, "__name__", f))

    def method(self, n):
        name = n.target
        if name == "size":
            self.vals[n] = None  # only used for view/reshape shapes
        elif name in ("view", "reshape"):
            self.reshape(n)
        elif name == "flatten":
            if _arg(n, 1, "start_dim", 0) != 1 or _arg(n, 2, "end_dim", -1) != -1:
                self.fail(n, "only x.flatten(1) is supported")
            self.flatten(n)
        elif name in ("relu", "relu_"):
            self.activation(n, "relu")
        elif name in _UNARY_METHODS:
            self.unary(n, _UNARY_METHODS[name])
        elif name == "softmax":
            self.softmax(n, _arg(n, 1, "dim", None))
        elif name in ("add", "add_"):
            self.binary(n, "add")
        elif name in ("mul", "mul_"):
            self.binary(n, "mul")
        elif name == "mean":
            self.mean(n, _arg(n, 1, "dim", None), _arg(n, 2, "keepdim", False))
        elif name in ("contiguous", "clone", "detach"):
            self.vals[n] = self.value(n, n.args[0])
        else:
            self.fail(n, "tensor method .%s() is not supported" % name)

    def binary(self, n, op):
        a, b = n.args[0], n.args[1]
        va = self.vals.get(a) if isinstance(a, torch.fx.Node) else _Const(a)
        vb = self.vals.get(b) if isinstance(b, torch.fx.Node) else _Const(b)
        if isinstance(va, _Const) and not isinstance(vb, _Const):
            a, b, va, vb = b, a, vb, va  # add and mul commute
        va = self.value(n, a)
        if isinstance(vb, _Const):
            bname = self.constant_operand(n, va, vb.value)
            self.emit(n, op, [va.name, bname], {"activation": "none"},
                      va.shape, va.nhwc, va.perm)
            return
        vb = self.value(n, b)
        if va.shape != vb.shape or va.nhwc != vb.nhwc:
            self.fail(n, "operands must have one shape (%s and %s)" % (va.shape, vb.shape))
        if (va.perm is None) != (vb.perm is None) or (
                va.perm is not None and not np.array_equal(va.perm, vb.perm)):
            self.fail(n, "operands have different element orders")
        self.emit(n, op, [va.name, vb.name], {"activation": "none"},
                  va.shape, va.nhwc, va.perm)

    def constant_operand(self, n, v, value):
        """A constant broadcast per channel of v (PyTorch: [C,1,1] on NCHW,
        [K] on [N,K]) or a scalar, as a [C] tensor over quanta's last axis."""
        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) \
            else np.asarray(value, np.float32)
        channels = v.shape[1] if v.nhwc else v.shape[-1]
        squeezed = arr.reshape([d for d in arr.shape if d != 1]) if arr.size > 1 else arr
        if arr.size == 1:
            vec = np.full(channels, float(arr.reshape(())), np.float32)
        elif squeezed.shape == (channels,) and _broadcasts_per_channel(arr.shape, v):
            vec = squeezed.astype(np.float32)
        else:
            self.fail(n, "constant of shape %s is not per-channel for %s"
                      % (list(arr.shape), v.shape))
        if v.perm is not None:
            vec = vec[v.perm]
        base = n.args[1].target if isinstance(n.args[1], torch.fx.Node) \
            and n.args[1].op == "get_attr" else n.name + ".b"
        return self.add_tensor(str(base), vec)

    def cat(self, n, tensors, dim):
        vs = [self.value(n, t) for t in tensors]
        ax = self.axis(n, vs[0], dim)
        if any(v.nhwc != vs[0].nhwc or len(v.shape) != len(vs[0].shape) for v in vs):
            self.fail(n, "concatenated tensors must have one rank and layout")
        perm = None
        if any(v.perm is not None for v in vs):
            if len(vs[0].shape) != 2:
                self.fail(n, "unexpected flattened operand")
            parts, off = [], 0
            for v in vs:
                k = v.shape[1]
                parts.append((v.perm if v.perm is not None else np.arange(k)) + off)
                off += k
            perm = np.concatenate(parts)
        self.emit(n, "concat", [v.name for v in vs], {"axis": ax}, self.shape_of(n),
                  vs[0].nhwc, perm)

    def mean(self, n, dims, keepdim):
        v = self.value(n, n.args[0])
        self.no_perm(n, v)
        if dims is None:
            self.fail(n, "mean over every dimension (batch included) is not supported")
        dims = [dims] if isinstance(dims, int) else list(dims)
        rank = len(v.shape)
        axes = sorted(self.axis(n, v, d) % rank for d in dims)
        shape = self.shape_of(n)
        nhwc = v.nhwc and keepdim
        if v.nhwc and not keepdim:
            kept = [NCHW_TO_NHWC[d] for d in range(rank) if d not in
                    [(x + rank) % rank for x in dims]]
            if kept != sorted(kept):
                self.fail(n, "this mean leaves dims in an order NHWC cannot match")
        self.emit(n, "mean", [v.name], {"axes": axes, "keepdims": bool(keepdim)},
                  shape, nhwc)


def _arg(n, index, key, default):
    if len(n.args) > index:
        return n.args[index]
    return n.kwargs.get(key, default)


def _sole_use(src, origin):
    """True when origin's result reaches src through single-use aliases
    (dropout, identity, ...) and src has one user: nothing else reads it."""
    cur = src
    while True:
        if len(cur.users) != 1:
            return False
        if cur is origin:
            return True
        if not cur.args or not isinstance(cur.args[0], torch.fx.Node):
            return False
        cur = cur.args[0]


def _fetch_attr(gm, target):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _broadcasts_per_channel(shape, v):
    """True when a PyTorch constant of this shape varies only along v's
    channel dim (dim 1 of NCHW, last dim otherwise)."""
    rank = len(v.shape)
    shape = [1] * (rank - len(shape)) + list(shape)
    chan = 1 if v.nhwc else rank - 1
    return all(d == 1 for i, d in enumerate(shape) if i != chan)


def _is_flatten(ex, n):
    if n.op == "call_module":
        m = ex.modules[n.target]
        return isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1
    if n.op == "call_function" and n.target is torch.flatten:
        return _arg(n, 1, "start_dim", 0) == 1 and _arg(n, 2, "end_dim", -1) == -1
    if n.op == "call_method" and n.target == "flatten":
        return _arg(n, 1, "start_dim", 0) == 1 and _arg(n, 2, "end_dim", -1) == -1
    if (n.op == "call_method" and n.target in ("view", "reshape")) or \
            (n.op == "call_function" and n.target is torch.reshape):
        meta = n.meta.get("tensor_meta")
        return meta is not None and len(meta.shape) == 2 and meta.shape[0] == TRACE_BATCH
    return False


def _describe(ex, n):
    if n.op == "call_module":
        return type(ex.modules[n.target]).__name__
    return getattr(n.target, "__name__", str(n.target))


def export(model, example_input_shape, path, normalize="default", name=None,
           output_names=None, input_name="image", input_dtype="F32",
           weight_dtype="F32", metadata=None):
    """Exports model to a quanta model file at path; returns the graph dict.

    example_input_shape: one sample's PyTorch shape WITHOUT the batch, e.g.
    (1, 28, 28) for NCHW images (graph input [-1, 28, 28, 1]).
    normalize: {"scale": s, "mean": [...], "std": [...]}, None for no block,
    or "default" (scale 1/255, mean [0], std [1] for image inputs, none
    otherwise). output_names: names for the graph outputs.
    """
    if input_dtype not in ("F32", "I64", "I32"):
        raise ExportError("input dtype must be F32, I64 or I32")
    if weight_dtype not in ("F32", "F16", "BF16"):
        raise ExportError("weight dtype must be F32, F16 or BF16")
    sample = [int(d) for d in example_input_shape]
    ex = _Exporter(model, sample, input_name, input_dtype, weight_dtype)
    with torch.no_grad():
        outs = ex.run()
    if output_names is None:
        output_names = ["output"] + ["output%d" % i for i in range(1, len(outs))]
    output_names = list(output_names)
    if len(output_names) != len(outs):
        raise ExportError("%d output names for %d outputs" % (len(output_names), len(outs)))
    rename = {}
    for old, new in zip(outs, output_names):
        if old == input_name:
            raise ExportError("the model returns its input unchanged")
        if new != old and (new in ex.used_names or new in rename.values()):
            raise ExportError("output name '%s' is already used" % new)
        rename[old] = new
    for nd in ex.nodes:
        nd["inputs"] = [rename.get(x, x) for x in nd["inputs"]]
        nd["outputs"] = [rename.get(x, x) for x in nd["outputs"]]
    if len(sample) == 3:
        c, h, w = sample
        in_shape = [-1, h, w, c]
    else:
        in_shape = [-1] + sample
    if normalize == "default":
        normalize = {"scale": 1.0 / 255.0, "mean": [0.0], "std": [1.0]} \
            if len(sample) == 3 and input_dtype == "F32" else None
    if name is None:
        name = os.path.splitext(os.path.basename(path))[0]
    graph = qf.make_graph(name, [qf.graph_input(input_name, in_shape, input_dtype, normalize)],
                          [rename[o] for o in outs], ex.nodes)
    meta = {"quanta.exporter": "scripts/export_torch.py"}
    meta.update(metadata or {})
    qf.write_model(path, graph, ex.tensors, meta)
    return graph


def check(model, example_input_shape, path, input_dtype="F32", batch=3, seed=0):
    """Runs the exported file with scripts/quanta_ref.py on random float data
    (or random ids) and returns the max |difference| from PyTorch."""
    import quanta_ref
    graph, tensors, _ = qf.read_model(path)
    rng = np.random.default_rng(seed)
    shape = [batch] + list(example_input_shape)
    if input_dtype == "F32":
        x = rng.standard_normal(shape).astype(np.float32)
        feed = x.transpose(0, 2, 3, 1) if len(shape) == 4 else x
    else:
        v = next(m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding))
        x = rng.integers(0, v, shape).astype(np.int64)
        feed = x
    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    refs = ref if isinstance(ref, (tuple, list)) else [ref]
    got = quanta_ref.run_graph(graph, tensors, {graph["inputs"][0]["name"]: feed})
    worst = 0.0
    for r, name in zip(refs, graph["outputs"]):
        r = r.numpy().astype(np.float64)
        if r.ndim == 4:
            r = r.transpose(0, 2, 3, 1)
        worst = max(worst, float(np.max(np.abs(r - got[name]))))
    return worst


def _floats(text):
    return [float(x) for x in text.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert a pickled PyTorch module to a quanta model file.",
        epilog="See the module docstring (head scripts/export_torch.py) for details.")
    ap.add_argument("model", help="torch.save(model) file")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--input-shape", required=True, help="one sample, e.g. 1x28x28 (CxHxW)")
    ap.add_argument("--input-name", default="image")
    ap.add_argument("--input-dtype", default="F32", choices=["F32", "I64", "I32"])
    ap.add_argument("--scale", type=float)
    ap.add_argument("--mean", type=_floats)
    ap.add_argument("--std", type=_floats)
    ap.add_argument("--no-normalize", action="store_true")
    ap.add_argument("--name")
    ap.add_argument("--output-name", action="append")
    ap.add_argument("--weight-dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--import", dest="imports", action="append", default=[],
                    help="Python file defining the model's classes")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)

    import runpy
    main_mod = sys.modules["__main__"]
    for py in args.imports:
        for k, val in runpy.run_path(py).items():
            if not k.startswith("__"):
                setattr(main_mod, k, val)
    try:
        shape = [int(d) for d in args.input_shape.lower().split("x")]
    except ValueError:
        ap.error("--input-shape: expected dimensions like 1x28x28")
    try:
        model = torch.load(args.model, map_location="cpu")
    except (AttributeError, ModuleNotFoundError) as e:
        print("export_torch: %s: cannot unpickle the model (%s); pass the file that "
              "defines its classes with --import FILE.py" % (args.model, e), file=sys.stderr)
        return 1
    if not isinstance(model, nn.Module):
        ap.error("%s: not a pickled nn.Module (save with torch.save(model, path))"
                 % args.model)
    if args.no_normalize:
        normalize = None
    elif args.scale is None and args.mean is None and args.std is None:
        normalize = "default"
    else:
        normalize = {"scale": args.scale if args.scale is not None else 1.0 / 255.0,
                     "mean": args.mean or [0.0], "std": args.std or [1.0]}
    try:
        export(model, shape, args.output, normalize=normalize, name=args.name,
               output_names=args.output_name, input_name=args.input_name,
               input_dtype=args.input_dtype, weight_dtype=args.weight_dtype)
    except ExportError as e:
        print("export_torch: %s: %s" % (args.model, e), file=sys.stderr)
        return 1
    print("wrote %s (%d bytes)" % (args.output, os.path.getsize(args.output)))
    if args.check:
        diff = check(model, shape, args.output, args.input_dtype)
        print("numpy reference vs PyTorch: max |diff| = %.3g" % diff)
        tol = 1e-4 if args.weight_dtype == "F32" else float("inf")
        if diff > tol:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
