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
    vit       a tiny vision transformer: 4x4 patches, a class token
              expanded to the batch (Shape/ConstantOfShape/Equal/Where/
              Expand) and concatenated, a position embedding, one
              pre-norm block with two-head attention written batch first
              (MatMul of activations, Softmax), GELU MLP, the head on x[:, 0]
              (Gather of an activation)
    vit_mha   the same with torch's nn.MultiheadAttention (batch_first), as
              torchvision's vit_b_16 has it: its export moves the batch axis
              (Transpose to [L, N, D]) and merges it with the heads
              (Reshape to [L, N * H, D / H]) and with the tokens ([L * N, D])

For each: <name>.onnx, <name>.input.npy (float32 NCHW, 4 samples) and
<name>.output.npy (PyTorch's output). Random weights, seed 0.

Usage: /usr/bin/python3 scripts/export_onnx_ops.py [--out tests/fixtures/onnx/ops]
"""
import argparse
import os

import numpy as np
import torch
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


class ViTMHA(ViT):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "onnx", "ops"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, cls in (("se", SE), ("shuffle", Shuffle), ("ln", LN), ("vit", ViT),
                      ("vit_mha", ViTMHA)):
        torch.manual_seed(0)
        model = cls().eval()
        size = 8 if name.startswith("vit") else 6
        x = torch.randn(4, 3, size, size)
        with torch.no_grad():
            y = model(x)
        torch.onnx.export(model, x[:1], os.path.join(args.out, name + ".onnx"),
                          opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        np.save(os.path.join(args.out, name + ".input.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(args.out, name + ".output.npy"), y.numpy().astype(np.float32))
        print("wrote", name)


if __name__ == "__main__":
    main()
