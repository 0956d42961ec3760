#!/usr/bin/python3
"""Two small conv nets with batch norm, for measuring the graph optimizer
(quanta inspect --optimized) against ONNX Runtime; random weights and
batch-norm statistics, fixed seed, 32x32 RGB input:

  resnet-bn   stem conv-bn-relu, three residual blocks (conv-bn-relu-conv-bn,
              add, relu), global average pool, linear: every batch_norm
              follows a conv (the optimizer folds it) and most relus too
  dense-bn    DenseNet-style: six layers of bn-relu-conv3x3 whose output is
              concatenated to their input, then bn-relu, pool, linear: the
              batch norms read a concat (nothing to fold into; int8 runs
              them as 1x1 depthwise convs)

Writes OUT/NAME.safetensors (scripts/export_torch.py), OUT/NAME.onnx (NCHW,
dynamic batch, opset 13, for scripts/bench_ort.js --shape 3,32,32) and
OUT/bn-calib.npy (64 random NHWC samples for quanta quantize --data).

Usage: /usr/bin/python3 scripts/gen_bn_nets.py --out DIR
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch  # noqa: E402


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(c)
        self.a1 = nn.ReLU()
        self.c2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(c)
        self.a2 = nn.ReLU()

    def forward(self, x):
        y = self.a1(self.b1(self.c1(x)))
        return self.a2(self.b2(self.c2(y)) + x)


class ResNetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(32)
        self.act = nn.ReLU()
        self.l1 = Block(32)
        self.down = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.bnd = nn.BatchNorm2d(64)
        self.actd = nn.ReLU()
        self.l2 = Block(64)
        self.l3 = Block(64)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.l1(self.act(self.bn(self.stem(x))))
        x = self.l3(self.l2(self.actd(self.bnd(self.down(x)))))
        return self.fc(self.flat(self.pool(x)))


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(self.relu(self.bn(x)))], 1)


class DenseBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.l = nn.Sequential(*[DenseLayer(32 + 16 * i, 16) for i in range(6)])
        self.bn = nn.BatchNorm2d(128)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.l(self.stem(x))))
        return self.fc(self.flat(self.pool(x)))


def randomize_bn(model):
    """Statistics away from the identity, so folding has work to do."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, cls in (("resnet-bn", ResNetBN), ("dense-bn", DenseBN)):
        torch.manual_seed(0)
        model = cls()
        randomize_bn(model)
        model.eval()
        export_torch.export(model, (3, 32, 32), os.path.join(a.out, name + ".safetensors"),
                            output_names=["logits"])
        torch.onnx.export(model, torch.zeros(1, 3, 32, 32), os.path.join(a.out, name + ".onnx"),
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
    rng = np.random.default_rng(2)
    np.save(os.path.join(a.out, "bn-calib.npy"), rng.random((64, 32, 32, 3), dtype=np.float32))


if __name__ == "__main__":
    main()
