#!/usr/bin/python3
"""Exports a float quanta model to ONNX through PyTorch, for comparing
quanta with ONNX Runtime in scripts/bench.sh.

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/export_bench_onnx.py MODEL.safetensors OUT.onnx

The graph is rebuilt as a PyTorch module with the same weights, in
PyTorch's own layout: 4-D activations NCHW (the ONNX input of an NHWC
quanta input [N, H, W, C] is [N, C, H, W]), conv weights OHWI -> OIHW, and
a dense after a flatten of an NHWC tensor gets its weight columns permuted
to NCHW order, so the ONNX graph computes what the quanta model computes
(as the model trained by scripts/train_fmnist.py did before
scripts/export_torch.py wrote it). The batch axis is dynamic. Inputs are
taken as already normalized floats (quanta's "normalize" is not exported).

Supported ops: conv2d, dense, relu, relu6, sigmoid, tanh, max_pool2d,
avg_pool2d (symmetric pads), global_avg_pool, flatten, softmax (last
axis). Anything else fails with a message naming the node.

--check N runs N random samples through the exported module and through
the numpy reference of the spec (scripts/quanta_ref.py) when it can, and
prints the largest difference.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quanta_format as qf  # noqa: E402


class Unsupported(Exception):
    pass


def _pads(attrs, node):
    t, l, b, r = attrs.get("pads", [0, 0, 0, 0])
    if t != b or l != r:
        raise Unsupported("node '%s': asymmetric pads %s" % (node["name"], [t, l, b, r]))
    return (t, l)


class QuantaModule(nn.Module):
    """Runs a quanta graph's nodes in order on NCHW tensors."""

    def __init__(self, graph, tensors):
        super().__init__()
        self.graph = graph
        self.steps = []
        self.params = nn.ParameterDict()
        rank = {i["name"]: len(i["shape"]) for i in graph["inputs"]}
        nhwc = {}  # value -> (H, W, C) of the 4-D tensor a flatten came from

        def param(name, array):
            key = name.replace(".", "_")
            self.params[key] = nn.Parameter(torch.from_numpy(np.ascontiguousarray(array)),
                                            requires_grad=False)
            return key

        for n in graph["nodes"]:
            op, a, ins, out = n["op"], n.get("attrs", {}), n["inputs"], n["outputs"][0]
            act = a.get("activation", "none")
            if op == "conv2d":
                w = tensors[ins[1]].astype(np.float32).transpose(0, 3, 1, 2)
                b = tensors[ins[2]].astype(np.float32) if len(ins) > 2 else None
                step = dict(kind="conv", w=param(ins[1], w),
                            b=param(ins[2], b) if b is not None else None,
                            stride=tuple(a.get("strides", [1, 1])), padding=_pads(a, n),
                            dilation=tuple(a.get("dilations", [1, 1])),
                            groups=a.get("groups", 1))
                rank[out] = 4
            elif op == "dense":
                w = tensors[ins[1]].astype(np.float32)
                if ins[0] in nhwc:
                    h, wd, c = nhwc[ins[0]]
                    w = w.reshape(-1, h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
                b = tensors[ins[2]].astype(np.float32) if len(ins) > 2 else None
                step = dict(kind="dense", w=param(ins[1], w),
                            b=param(ins[2], b) if b is not None else None)
                rank[out] = 2
            elif op in ("relu", "relu6", "sigmoid", "tanh"):
                step = dict(kind="unary")
                act = op
                rank[out] = rank[ins[0]]
            elif op in ("max_pool2d", "avg_pool2d"):
                k = tuple(a["kernel"])
                step = dict(kind=op, kernel=k, stride=tuple(a.get("strides", list(k))),
                            padding=_pads(a, n))
                rank[out] = 4
            elif op == "global_avg_pool":
                step = dict(kind="gap")
                rank[out] = 2
            elif op == "flatten":
                if rank[ins[0]] == 4:
                    shape = self._shape_of(ins[0])
                    nhwc[out] = tuple(shape[1:])
                step = dict(kind="flatten")
                rank[out] = 2
            elif op == "softmax":
                if a.get("axis", -1) not in (-1, rank[ins[0]] - 1) or rank[ins[0]] == 4:
                    raise Unsupported("node '%s': softmax over axis %s" % (n["name"], a))
                step = dict(kind="softmax")
                rank[out] = rank[ins[0]]
            else:
                raise Unsupported("node '%s': op '%s' is not exported" % (n["name"], op))
            for v in ins[1:]:
                if v in nhwc:
                    raise Unsupported("node '%s': flattened value as parameter" % n["name"])
            if ins[0] in nhwc and op != "dense":
                raise Unsupported("node '%s' (%s) reads a flattened NHWC tensor; only dense "
                                  "can" % (n["name"], op))
            step.update(op=op, x=ins[0], out=out, act=act)
            self.steps.append(step)

    def _shape_of(self, value):
        """Per-sample NHWC shape of a value, by running shapes forward."""
        shapes = {i["name"]: [1] + i["shape"][1:] for i in self.graph["inputs"]}
        x = {k: torch.zeros(v) for k, v in shapes.items()}
        x = {k: (v.permute(0, 3, 1, 2) if v.dim() == 4 else v) for k, v in x.items()}
        with torch.no_grad():
            env = self._run(x, stop=value)
        t = env[value]
        return [1, t.shape[2], t.shape[3], t.shape[1]]

    def _run(self, env, stop=None):
        p = self.params
        for s in self.steps:
            if stop is not None and stop in env:
                break
            x = env[s["x"]]
            k = s["kind"]
            if k == "conv":
                y = F.conv2d(x, p[s["w"]], p[s["b"]] if s["b"] else None, s["stride"],
                             s["padding"], s["dilation"], s["groups"])
            elif k == "dense":
                y = F.linear(x, p[s["w"]], p[s["b"]] if s["b"] else None)
            elif k == "unary":
                y = x
            elif k == "max_pool2d":
                y = F.max_pool2d(x, s["kernel"], s["stride"], s["padding"])
            elif k == "avg_pool2d":
                y = F.avg_pool2d(x, s["kernel"], s["stride"], s["padding"],
                                 count_include_pad=False)
            elif k == "gap":
                y = x.mean(dim=(2, 3))
            elif k == "flatten":
                y = torch.flatten(x, 1)
            else:  # softmax
                y = torch.softmax(x, dim=-1)
            act = s["act"]
            if act == "relu":
                y = torch.relu(y)
            elif act == "relu6":
                y = torch.clamp(y, 0.0, 6.0)
            elif act == "sigmoid":
                y = torch.sigmoid(y)
            elif act == "tanh":
                y = torch.tanh(y)
            env[s["out"]] = y
        return env

    def forward(self, *inputs):
        env = {i["name"]: t for i, t in zip(self.graph["inputs"], inputs)}
        env = self._run(env)
        outs = [env[o] for o in self.graph["outputs"]]
        return outs[0] if len(outs) == 1 else tuple(outs)


def export(model_path, onnx_path, check=0):
    graph, tensors, _ = qf.read_model(model_path)
    for name, t in tensors.items():
        if t.dtype.kind != "f":
            raise Unsupported("%s: tensor '%s' is %s; export a float model" %
                              (model_path, name, t.dtype))
    module = QuantaModule(graph, tensors).eval()
    examples, names, axes = [], [], {}
    for i in graph["inputs"]:
        if i["dtype"] != "F32":
            raise Unsupported("input '%s' is %s; only F32 inputs are exported" %
                              (i["name"], i["dtype"]))
        shape = [2] + i["shape"][1:]
        if len(shape) == 4:
            shape = [shape[0], shape[3], shape[1], shape[2]]
        examples.append(torch.zeros(shape))
        names.append(i["name"])
        axes[i["name"]] = {0: "batch"}
    for o in graph["outputs"]:
        axes[o] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(module, tuple(examples), onnx_path, input_names=names,
                          output_names=list(graph["outputs"]), dynamic_axes=axes,
                          opset_version=13, do_constant_folding=True)
    if check:
        rng = np.random.default_rng(1)
        xs = [rng.uniform(-1, 1, [check] + list(e.shape[1:])).astype(np.float32)
              for e in examples]
        with torch.no_grad():
            y = module(*[torch.from_numpy(x) for x in xs]).numpy()
        try:
            import quanta_ref
            nhwc = [x.transpose(0, 2, 3, 1) if x.ndim == 4 else x for x in xs]
            ref = quanta_ref.run_graph(graph, tensors, dict(zip(names, nhwc)))
            ref = ref[graph["outputs"][0]] if isinstance(ref, dict) else ref
            print("%s: max |torch - quanta_ref| = %.3g" %
                  (onnx_path, float(np.max(np.abs(y - ref)))))
        except (ImportError, AttributeError, TypeError) as e:
            print("%s: no numpy reference to check against (%s)" % (onnx_path, e))
    return onnx_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("onnx")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="compare N random samples with the numpy reference")
    args = ap.parse_args()
    try:
        export(args.model, args.onnx, args.check)
    except (Unsupported, qf.FormatError, KeyError) as e:
        print("export_bench_onnx: %s" % e, file=sys.stderr)
        return 1
    print("%s -> %s" % (args.model, args.onnx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
