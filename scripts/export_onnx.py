#!/usr/bin/python3
"""Makes the ONNX fixtures of `quanta import` (tests/fixtures/onnx/).

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/export_onnx.py [--out tests/fixtures/onnx]

For each PyTorch model below: a short training (fixed seed, TRAIN_EPOCHS epochs over
a fixed subset of Fashion-MNIST training images), torch.onnx.export, and

    <name>.onnx             the exported model (batch axis dynamic)
    <name>.logits.npy       PyTorch float32 outputs [1000, 10] on the first
                            1000 test images (= models/data/fmnist-test-1000)
    <name>.reference.json   opset, input layout and normalization, PyTorch
                            top-1 correct count on those 1000 and on all 10k

Inputs are the pixels / 255 as float, NCHW [N, 1, 28, 28]; so the imported
model needs `--normalize 0.00392156862745098` to read U8 image files.

Also hand-made broken files, bad-*.onnx, for the error paths of the importer
(written from bytes, not through onnx, so they stay broken).
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATASET = "/usr/share/datasets/fashion-mnist"
SCALE = 1.0 / 255.0
TRAIN_SUBSET = 30000
TRAIN_EPOCHS = 3


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    x = read_idx(os.path.join(DATASET, split + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATASET, split + "-labels-idx1-ubyte.gz"))
    return x, y.astype(np.int64)


def to_input(images):
    return torch.from_numpy(images.astype(np.float32) * np.float32(SCALE)).unsqueeze(1)


# ---- the models -----------------------------------------------------------

class CnnBn(nn.Module):
    """(a) conv + batch norm + relu + max pool, twice; flattened by
    x.view(x.size(0), -1) (a Shape/Gather/Unsqueeze/Concat chain in ONNX)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.view(x.size(0), -1))


class Residual(nn.Module):
    """(b) a residual block with adds; strided conv; mean over H, W
    (ReduceMean); exported at opset 11."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 12, 3, padding=1)
        self.c1 = nn.Conv2d(12, 12, 3, padding=1)
        self.b1 = nn.BatchNorm2d(12)
        self.c2 = nn.Conv2d(12, 12, 3, padding=1)
        self.b2 = nn.BatchNorm2d(12)
        self.down = nn.Conv2d(12, 24, 3, stride=2, padding=1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.max_pool2d(x, 2)
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        x = F.relu(x + y)
        x = F.relu(self.down(x))
        return self.fc(x.mean(dim=(2, 3)))


class DwSep(nn.Module):
    """(c) depthwise separable convs, average pool, global average pool."""

    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = nn.Conv2d(16, 32, 1)
        self.pool = nn.AvgPool2d(2)
        self.dw2 = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.pw2 = nn.Conv2d(32, 32, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.c0(x))
        x = F.relu(self.pw(F.relu(self.dw(x))))
        x = self.pool(x)
        x = F.relu(self.pw2(F.relu(self.dw2(x))))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


class Mlp(nn.Module):
    """(d) an MLP with batch norm, relu6 (Clip) and tanh, and a last layer
    written as matmul + add (MatMul, Add in ONNX); exported at opset 17."""

    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(784, 48)
        self.bn = nn.BatchNorm1d(48)
        self.fc2 = nn.Linear(48, 32)
        self.w = nn.Parameter(torch.randn(32, 10) * 0.2)
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = F.relu6(self.bn(self.fc1(self.flat(x))))
        x = torch.tanh(self.fc2(x))
        return torch.matmul(x, self.w) + self.b


class OpsMix(nn.Module):
    """(e) untrained: 5x5 conv with padding 2 + leaky relu, average pool with
    padding (not counted), sigmoid and tanh branches concatenated on the
    channels, mean with keepdim, flatten, dense, softmax."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 6, 5, padding=2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.c2 = nn.Conv2d(12, 8, 3, stride=2, dilation=1, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.leaky_relu(self.c(x), 0.1)
        x = self.pool(x)
        x = torch.cat([torch.sigmoid(x), torch.tanh(x)], dim=1)
        x = self.c2(x).mean(dim=(2, 3), keepdim=True)
        return F.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class Shapes(nn.Module):
    """(f) untrained: layout bookkeeping -- Transposes around a softmax, an
    Unsqueeze/Squeeze pair, max pool with ceil_mode, relu6 after relu;
    exported at opset 11 (Squeeze/Unsqueeze axes as attributes)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        x = F.relu6(self.c(x))
        x = F.softmax(x.permute(0, 2, 3, 1), dim=-1).permute(0, 3, 1, 2)
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)
        x = x.unsqueeze(2).squeeze(2)
        return self.fc(torch.flatten(x, 1))


class Embed(nn.Module):
    """(g) untrained: token ids [N, 8] -> embedding (Gather) -> mean over
    the tokens (ReduceMean) -> dense; the input is embed.input.npy."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


class Rgb(nn.Module):
    """(h) untrained, three input channels, so NCHW and NHWC differ: conv
    with stride 2, dilated conv, flatten into a dense layer
    (whose columns the importer reorders); the input is rgb.input.npy,
    NCHW [200, 3, 8, 8] floats."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 5, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(5, 6, 3, padding=2, dilation=2)
        self.fc = nn.Linear(6 * 4 * 4, 7)

    def forward(self, x):
        x = self.c2(F.relu(self.c1(x)))
        return self.fc(x.reshape(x.shape[0], -1))


class Legacy(nn.Module):
    """(i) untrained, for the opsets before 11 (exported at 9 and at 10):
    Clip with min/max attributes (torch writes relu6 as Relu then
    Clip(max=6)), batch norm, depthwise conv, average pool behind a Pad,
    Flatten + Gemm, tanh, and Softmax with the old whole-row semantics."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 8, 3, padding=1)
        self.b = nn.BatchNorm2d(8)
        self.d = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8 * 7 * 7, 16)
        self.fc2 = nn.Linear(16, 10)
        with torch.no_grad():
            self.b.running_mean.uniform_(-0.5, 0.5)
            self.b.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b(self.c(x))), 2)
        x = F.avg_pool2d(F.relu6(self.d(x)), 2)
        x = torch.tanh(self.fc(torch.flatten(x, 1)))
        return F.softmax(self.fc2(x), dim=1)


MODELS = [
    # name, class, opset, trained
    ("cnn_bn", CnnBn, 13, True),
    ("residual", Residual, 11, True),
    ("dwsep", DwSep, 13, True),
    ("mlp", Mlp, 17, True),
    ("ops_mix", OpsMix, 13, False),
    ("shapes", Shapes, 11, False),
    ("embed", Embed, 13, False),
    ("rgb", Rgb, 13, False),
    ("legacy9", Legacy, 9, False),
    ("legacy10", Legacy, 10, False),
]


def train(model, x, y, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(TRAIN_EPOCHS):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def predict(model, x):
    with torch.no_grad():
        return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])


def export(model, path, opset, dummy, input_name):
    torch.onnx.export(model, dummy, path, opset_version=opset, input_names=[input_name],
                      output_names=["logits"],
                      dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


# ---- broken files ---------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def text(number, s):
    return field(number, 2, s.encode())


def tiny_model(op_type, opset=13):
    """A one-node model: image [N, 4] -> op -> out."""
    def value_info(name):
        dims = field(1, 2, text(2, "N")) + field(1, 2, field(1, 0, varint(4)))
        tensor = field(1, 0, varint(1)) + field(2, 2, dims)
        return text(1, name) + field(2, 2, field(1, 2, tensor))
    node = text(1, "x") + text(2, "y") + text(3, "the_node") + text(4, op_type)
    graph = (field(1, 2, node) + text(2, "g") + field(11, 2, value_info("x")) +
             field(12, 2, value_info("y")))
    opset_id = text(1, "") + field(2, 0, varint(opset))
    return field(1, 0, varint(8)) + field(8, 2, opset_id) + field(7, 2, graph)


def write_bad(out):
    good = tiny_model("Relu")
    bad = {
        # cut inside the graph message
        "bad-truncated.onnx": good[:len(good) // 2],
        # graph (field 7) as a varint instead of a message
        "bad-wiretype.onnx": field(1, 0, varint(8)) + field(7, 0, varint(5)),
        # a length that runs past the end of the file
        "bad-length.onnx": (field(1, 0, varint(8)) + varint(7 << 3 | 2) + varint(1 << 20) +
                              b"\x0a\x00"),
        # a group (wire type 3), which ONNX never uses
        "bad-group.onnx": field(1, 0, varint(8)) + varint(5 << 3 | 3) + varint(5 << 3 | 4),
        # a varint of eleven bytes
        "bad-varint.onnx": field(1, 0, b"\xff" * 10 + b"\x01"),
        # a well-formed model with an operator quanta lacks
        "bad-unsupported-op.onnx": tiny_model("Det"),
        # a well-formed model of an opset outside 6..18
        "bad-opset.onnx": tiny_model("Relu", opset=5),
    }
    for name, data in bad.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "relu4.onnx"), "wb") as f:
        f.write(good)


def write_opset18(out):
    """ops_mix at opset 18, which torch 1.13 cannot export: ReduceMean takes
    its axes as an input there. Same outputs as ops_mix (its logits and
    reference serve both)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(out, "ops_mix.onnx"))
    m.opset_import[0].version = 18
    for n in m.graph.node:
        if n.op_type == "ReduceMean":
            axes = [a for a in n.attribute if a.name == "axes"][0]
            values = list(axes.ints)
            n.attribute.remove(axes)
            m.graph.initializer.append(
                numpy_helper.from_array(np.array(values, dtype=np.int64), "reduce_axes"))
            n.input.append("reduce_axes")
    onnx.save(m, os.path.join(out, "ops_mix18.onnx"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "fixtures", "onnx"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)

    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    rng = np.random.default_rng(20240611)
    subset = np.sort(rng.choice(len(train_y), size=TRAIN_SUBSET, replace=False))
    tx, ty = to_input(train_x[subset]), torch.from_numpy(train_y[subset])
    ex = to_input(test_x)

    for i, (name, cls, opset, trained) in enumerate(MODELS):
        torch.manual_seed(1000 + i)
        model = cls()
        if trained:
            train(model, tx, ty, seed=2000 + i)
        model.eval()
        path = os.path.join(args.out, name + ".onnx")
        if name in ("embed", "rgb"):
            rng = np.random.default_rng(7)
            if name == "embed":
                data = rng.integers(0, 50, size=(1000, 8)).astype(np.int64)
                dummy, input_name = torch.zeros(1, 8, dtype=torch.int64), "ids"
            else:
                data = rng.standard_normal((200, 3, 8, 8)).astype(np.float32)
                dummy, input_name = torch.zeros(1, 3, 8, 8), "image"
            np.save(os.path.join(args.out, name + ".input.npy"), data)
            out = predict(model, torch.from_numpy(data)).numpy()
            export(model, path, opset, dummy, input_name)
            write_npy(os.path.join(args.out, name + ".logits.npy"), out)
            ref = {"model": name + ".onnx", "opset": opset, "trained": False,
                   "input": {"name": input_name, "shape": [-1] + list(data.shape[1:]),
                             "file": name + ".input.npy"},
                   "output": "logits", "torch_version": torch.__version__}
            with open(os.path.join(args.out, name + ".reference.json"), "w") as f:
                json.dump(ref, f, indent=1)
                f.write("\n")
            print("%-9s opset %2d  %6d bytes" % (name, opset, os.path.getsize(path)))
            continue
        out = predict(model, ex).numpy()
        pred = out.argmax(axis=1)
        correct = int((pred == test_y).sum())
        correct_1k = int((pred[:1000] == test_y[:1000]).sum())
        export(model, path, opset, torch.zeros(1, 1, 28, 28), "image")
        write_npy(os.path.join(args.out, name + ".logits.npy"), out[:1000])
        ref = {
            "model": name + ".onnx",
            "opset": opset,
            "trained": trained,
            "input": {"name": "image", "shape": [-1, 1, 28, 28], "layout": "nchw",
                      "normalize_scale": SCALE},
            "output": "logits",
            "images_1000": "first 1000 of t10k-images-idx3-ubyte.gz "
                           "(= models/data/fmnist-test-1000-images-idx3-ubyte.gz)",
            "pytorch_correct_1000": correct_1k,
            "pytorch_correct_10000": correct,
            "torch_version": torch.__version__,
        }
        with open(os.path.join(args.out, name + ".reference.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        print("%-9s opset %2d  %6d bytes  top-1 %4d/1000  %5d/10000"
              % (name, opset, os.path.getsize(path), correct_1k, correct))
    write_opset18(args.out)
    write_bad(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
