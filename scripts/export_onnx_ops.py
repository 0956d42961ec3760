#!/usr/bin/python3
"""Write tests/fixtures/onnx/ops/: small PyTorch modules exported to ONNX
(opset 13, dynamic batch) that exercise what the importer turns into
transposes, broadcasts and element-wise functions:

    se        squeeze-excitation: PReLU, a [N, C, 1, 1] gate (hardsigmoid)
              scaling [N, C, H, W], hardswish, flatten of an NCHW tensor
              as the output
    shuffle   ShuffleNet's channel split (Slice) and shuffle: view,
              transpose, view
    ln        LayerNorm over channels after a permute (exported as
              ReduceMean/Sub/Pow/Sqrt/Div), GELU (Erf), a MatMul on [N, H, W, C]
    mbconv    EfficientNet's block: SiLU (exported as x * Sigmoid(x)) after
              a conv with batch norm and after a depthwise conv, a
              squeeze-excitation gate (a Sigmoid that is not a SiLU)
    resample  zero Pad before a Conv and a MaxPool, Split of the channels,
              reflect and replicate Pad, nearest upsampling by 2 and
              bilinear resizing to a size (Resize)
    vit       a tiny vision transformer: 4x4 patches, a class token
              expanded to the batch (Shape/ConstantOfShape/Equal/Where/
              Expand) and concatenated, a position embedding, one
              pre-norm block with two-head attention written batch first
              (MatMul of activations, Softmax), GELU MLP, the head on x[:, 0]
              (Gather of an activation)
    conv1d    1-D windows on [N, C, L]: Conv1d (padding, stride, dilation,
              groups), MaxPool1d in ceil mode, AvgPool1d counting its
              padding and not, a mean over the length, a Linear
    poolpad   2-D average pools that count their padding
              (count_include_pad=True), with and without ceil mode elsewhere
    deconv    transposed convolutions: ConvTranspose2d with stride 2,
              padding 1 and output_padding 1, a grouped one with dilation 2,
              a 1x1 one with stride 2 (its pads crop), and a ConvTranspose1d
              after a reshape to [N, C, L]
    vit_mha   the same with torch's nn.MultiheadAttention (batch_first), as
              torchvision's vit_b_16 has it: its export moves the batch axis
              (Transpose to [L, N, D]) and merges it with the heads
              (Reshape to [L, N * H, D / H]) and with the tokens ([L * N, D])

For each: <name>.onnx, <name>.input.npy (float32 NCHW, 4 samples) and
<name>.output.npy (PyTorch's output). Random weights, seed 0.

Also refuse_<what>.onnx: one-node models (onnx.helper) that quanta import
must refuse with a one-line error naming what is missing.

Usage: /usr/bin/python3 scripts/export_onnx_ops.py [--out tests/fixtures/onnx/ops]
"""
import argparse
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
import torch.nn as nn
import torch.nn.functional as F


class SE(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.squeeze = nn.Conv2d(8, 4, 1)
        self.expand = nn.Conv2d(4, 8, 1)
        self.prelu = nn.PReLU(8)

    def forward(self, x):
        y = self.prelu(self.conv(x))
        w = y.mean((2, 3), keepdim=True)
        w = F.hardsigmoid(self.expand(torch.relu(self.squeeze(w))))
        return F.hardswish(y * w).flatten(1)


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.mix = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = self.conv(x)
        a, b = y.chunk(2, dim=1)  # Slice along the channels
        y = torch.cat((a, torch.relu(b)), 1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.mix(y)[:, :, 1::2, :].flatten(1)  # a strided Slice


class LN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.conv(x).permute(0, 2, 3, 1)
        return self.fc(F.gelu(self.norm(y))).mean((1, 2))


class MBConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.expand = nn.Conv2d(3, 8, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.squeeze = nn.Conv2d(8, 2, 1)
        self.excite = nn.Conv2d(2, 8, 1)
        self.project = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = F.silu(self.bn(self.expand(x)))
        y = F.silu(self.dw(y))
        w = torch.sigmoid(self.excite(F.silu(self.squeeze(y.mean((2, 3), keepdim=True)))))
        return self.project(y * w).flatten(1)


class Resample(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.mix = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        y = torch.relu(self.conv(F.pad(x, (1, 1, 1, 1))))  # the Conv's padding
        y = F.max_pool2d(F.pad(y, (1, 0, 1, 0)), 2, stride=1)  # the MaxPool's padding
        a, b = torch.split(y, [4, 4], dim=1)
        a = self.conv2(F.pad(a, (1, 2, 0, 1), mode="reflect"))  # [N, 4, 5, 7]
        b = F.interpolate(b, scale_factor=2, mode="nearest")  # [N, 4, 12, 12]
        b = F.interpolate(b, size=(5, 7), mode="bilinear", align_corners=False)
        y = F.pad(torch.cat((a, b), 1), (1, 1, 1, 1), mode="replicate")
        return self.mix(y).flatten(1)


def refusals(out):
    """One-node models with a batch of any size the importer must refuse."""
    def model(name, node, inits, opset=13, shape=("N", 3, 4, 4)):
        g = helper.make_graph([node], name,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="export_onnx_ops.py")
        onnx.save(m, os.path.join(out, "refuse_%s.onnx" % name))

    f32, i64 = np.float32, np.int64
    model("split_batch", helper.make_node("Split", ["x"], ["y", "z"], axis=0), {})
    model("pad_batch", helper.make_node("Pad", ["x", "p"], ["y"]),
          {"p": np.array([1, 0, 0, 0, 0, 0, 0, 0], i64)})
    model("pad_wrap", helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap"),
          {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], i64)})
    model("resize_cubic", helper.make_node("Resize", ["x", "", "s"], ["y"], mode="cubic"),
          {"s": np.array([1, 1, 2, 2], f32)})
    model("resize_batch", helper.make_node("Resize", ["x", "", "s"], ["y"]),
          {"s": np.array([2, 1, 2, 2], f32)})
    model("resize_antialias",
          helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear", antialias=1),
          {"s": np.array([1, 1, 0.5, 0.5], f32)}, opset=18)
    model("resize_policy",
          helper.make_node("Resize", ["x", "", "", "z"], ["y"], axes=[2, 3],
                           keep_aspect_ratio_policy="not_larger"),
          {"z": np.array([2, 3], i64)}, opset=18)


class ViT(nn.Module):
    def __init__(self, dim=8, heads=2, patch=4, size=8, classes=5):
        super().__init__()
        self.heads = heads
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        n = (size // patch) ** 2
        self.class_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.5)
        self.ln1 = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        n = x.shape[0]
        x = self.patch(x).flatten(2).transpose(1, 2)  # [N, L, D]
        if hasattr(self, "mha"):
            x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos
            h = self.ln1(x)
            x = x + self.mha(h, h, h, need_weights=False)[0]
            x = x + self.mlp(self.ln2(x))
            return self.head(x[:, 0])
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos
        L, D = x.shape[1], x.shape[2]
        h = self.ln1(x)
        split = lambda t: t.reshape(n, L, self.heads, D // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        a = torch.softmax(q @ k.transpose(-2, -1) / (D // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(n, L, D))
        x = x + self.mlp(self.ln2(x))
        return self.head(x[:, 0])


class FlatMix(nn.Module):
    """A flattened NCHW tensor (whose columns quanta keeps in NHWC order)
    concatenated with its relu and a pooled vector before a Linear,
    reshaped to [N, C, H*W] and summed, sliced and split: every column read
    in ONNX order."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.fc = nn.Linear(2 * 4 * 36 + 4, 5)

    def forward(self, x):
        h = self.conv(x)
        f = h.flatten(1)
        c = torch.cat([f, torch.relu(f), h.mean((2, 3))], 1)
        a, b = torch.split(f, [100, 44], 1)
        return torch.cat([self.fc(c), f.view(-1, 4, 36).sum(2), f[:, 5:13], b[:, :3] - a[:, :3]],
                         1)


class Conv1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(3, 8, 3, padding=1)
        self.c2 = nn.Conv1d(8, 8, 3, stride=2, dilation=2, groups=2, padding=2)
        self.c3 = nn.Conv1d(8, 6, 1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = F.max_pool1d(self.c2(h), 3, stride=2, ceil_mode=True)
        h = F.avg_pool1d(h, 3, stride=1, padding=1, count_include_pad=True)
        h = F.avg_pool1d(h, 2, stride=1, padding=1, count_include_pad=False)
        return self.fc(self.c3(h).mean(2))


class PoolPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        h = F.avg_pool2d(self.conv(x), 3, stride=1, padding=1, count_include_pad=True)
        h = F.avg_pool2d(h, 2, stride=2, ceil_mode=True, count_include_pad=True)
        return self.fc(h.flatten(1))


class Deconv(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1, output_padding=1)
        self.grouped = nn.ConvTranspose2d(6, 4, 3, dilation=2, groups=2, padding=2)
        self.point = nn.ConvTranspose2d(4, 4, 1, stride=2, padding=1, bias=False)
        self.line = nn.ConvTranspose1d(4, 2, 4, stride=3, padding=1)

    def forward(self, x):
        h = torch.relu(self.up(x))
        h = torch.relu(self.grouped(h))
        h = self.point(h)
        return self.line(h.flatten(2))


class ViTMHA(ViT):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "onnx", "ops"))
    ap.add_argument("--only", help="write only this model (and no refusals)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, cls in (("se", SE), ("shuffle", Shuffle), ("ln", LN), ("mbconv", MBConv),
                      ("resample", Resample), ("vit", ViT), ("vit_mha", ViTMHA),
                      ("flatmix", FlatMix), ("conv1d", Conv1D), ("poolpad", PoolPad),
                      ("deconv", Deconv)):
        if args.only and name != args.only:
            continue
        torch.manual_seed(0)
        model = cls().eval()
        size = 8 if name.startswith("vit") else 6
        x = torch.randn(4, 3, 20) if name == "conv1d" else torch.randn(4, 3, size, size)
        with torch.no_grad():
            y = model(x)
        torch.onnx.export(model, x[:1], os.path.join(args.out, name + ".onnx"),
                          opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        np.save(os.path.join(args.out, name + ".input.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(args.out, name + ".output.npy"), y.numpy().astype(np.float32))
        print("wrote", name)
    if not args.only:
        refusals(args.out)
        print("wrote the refusals")


if __name__ == "__main__":
    main()
