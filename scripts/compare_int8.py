#!/usr/bin/python3
"""PyTorch side of scripts/compare_int8.sh (read its header first).

    compare_int8.py prepare OUT    train (once) and export the three models,
                                   run PyTorch float and FX int8 on the test set
    compare_int8.py s8weights IN.onnx OUT.onnx
                                   uint8 QDQ weights (q + 128) back to int8
    compare_int8.py table OUT VARIANTS.tsv
                                   print the Markdown table from OUT's predictions

Debian's interpreter: torch 1.13, onnx, numpy. Single-threaded and seeded, so
the same run gives the same models and numbers.

Models (inputs: pixels / 255, NCHW [N, 1, 28, 28], as scripts/export_onnx.py):
  residual, dwsep  scripts/export_onnx.py's classes, trained as it trains them
                   (same seeds, subset and epochs); the weights need not be the
                   fixtures' (other torch builds and CPUs round differently), so
                   the largest logit difference from tests/fixtures/onnx/ is shown
  mbv2             MobileNetV2-style: inverted residual blocks (1x1 expansion,
                   depthwise 3x3, linear 1x1 projection), batch norm, relu6,
                   trained here for one epoch on the same subset
PyTorch int8: torch.ao.quantization FX graph mode (prepare_fx / convert_fx) with
get_default_qconfig_mapping(ENGINE) (onednn: HistogramObserver activations,
per-channel symmetric weights), calibrated on the same 1,000 training images
quanta calibrates on, evaluated in PyTorch on the 10,000 test images.
"""
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_onnx as eo  # noqa: E402  (the fixture models and their training)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CALIB = os.path.join(ROOT, "models", "data", "fmnist-calib-1000-images-idx3-ubyte.gz")
ENGINE = os.environ.get("TORCH_ENGINE", "onednn")
MBV2_EPOCHS = 1


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---- the MobileNetV2-style network -----------------------------------------

class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + BN + relu6, depthwise 3x3 + BN + relu6,
    1x1 project + BN (linear); the input is added back when shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.skip else y


class MobileNetV2Small(nn.Module):
    """28x28 MobileNetV2: stem 3x3 conv stride 2, blocks (t, c, n, s) =
    (1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 1), (4, 48, 1, 1) (14x14 then
    7x7), 1x1 conv to 96, global average pool, linear 10."""

    CONFIG = [(1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 1), (4, 48, 1, 1)]

    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6()]
        cin = 16
        for t, c, n, s in self.CONFIG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, 96, 1, bias=False), nn.BatchNorm2d(96), nn.ReLU6(),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def train_mbv2(model, x, y, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(MBV2_EPOCHS):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


# ---- prepare: train, export, PyTorch float and int8 -------------------------

# name, class, opset, seed index (export_onnx.MODELS position for its models)
MODELS = [("residual", eo.Residual, 11, 1), ("dwsep", eo.DwSep, 13, 2),
          ("mbv2", MobileNetV2Small, 13, 100)]


def torch_int8(model, calib, example):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = ENGINE
    prepared = prepare_fx(model, get_default_qconfig_mapping(ENGINE), example_inputs=(example,))
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            prepared(calib[i:i + 100])
    return convert_fx(prepared)


def prepare(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    train_x, train_y = eo.load("train")
    test_x, _ = eo.load("t10k")
    rng = np.random.default_rng(20240611)
    subset = np.sort(rng.choice(len(train_y), size=eo.TRAIN_SUBSET, replace=False))
    tx, ty = eo.to_input(train_x[subset]), torch.from_numpy(train_y[subset])
    ex = eo.to_input(test_x)
    calib = eo.to_input(read_idx(CALIB))
    for name, cls, opset, seed in MODELS:
        t0 = time.time()
        weights = os.path.join(out, name + ".pt")
        torch.manual_seed(1000 + seed)
        model = cls()
        if os.path.exists(weights):
            model.load_state_dict(torch.load(weights))
            model.eval()
        else:
            if name == "mbv2":
                train_mbv2(model, tx, ty, seed=2000 + seed)
            else:
                eo.train(model, tx, ty, seed=2000 + seed)
            torch.save(model.state_dict(), weights + ".tmp")
            os.replace(weights + ".tmp", weights)
        eo.export(model, os.path.join(out, name + ".onnx"), opset, torch.zeros(1, 1, 28, 28),
                  "image")
        logits = eo.predict(model, ex).numpy()
        np.save(os.path.join(out, name + ".torch_float.npy"), logits.argmax(1).astype(np.int64))
        fixture = os.path.join(ROOT, "tests", "fixtures", "onnx", name + ".logits.npy")
        note = ""
        if os.path.exists(fixture):
            diff = float(np.abs(np.load(fixture) - logits[:1000]).max())
            note = " (max |logit - fixture's| %.2g)" % diff
        q = torch_int8(model, calib, calib[:1])
        with torch.no_grad():
            qpred = torch.cat([q(ex[i:i + 500]).argmax(1) for i in range(0, len(ex), 500)])
        np.save(os.path.join(out, name + ".torch_int8.npy"), qpred.numpy().astype(np.int64))
        print("compare_int8.py: %s ready in %.0f s%s" % (name, time.time() - t0, note),
              file=sys.stderr)


# ---- s8weights: ORT's QInt8 weights -----------------------------------------

def s8weights(src, dst):
    """`quanta export` writes uint8-activation models' conv/dense weights as
    uint8 q + 128, zero point 128 (ORT computes U8U8 exactly); ORT's
    quantize_static writes them as int8, zero point 0. Same real values:
    every constant uint8 input of a DequantizeLinear (only weights are
    constants) becomes int8 q - 128 with its zero point - 128."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(src)
    inits = {t.name: t for t in m.graph.initializer}
    done = set()
    for node in m.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        for name in (node.input[0], node.input[2] if len(node.input) > 2 else None):
            t = inits.get(name)
            if t is None or name in done or t.data_type != onnx.TensorProto.UINT8:
                continue
            a = numpy_helper.to_array(t).astype(np.int16) - 128
            t.CopyFrom(numpy_helper.from_array(a.astype(np.int8), name))
            done.add(name)
    if not done:
        sys.exit("compare_int8.py: %s has no uint8 weights" % src)
    onnx.save(m, dst + ".tmp")
    os.replace(dst + ".tmp", dst)


# ---- table -------------------------------------------------------------------

def load_pred(path):
    if path.endswith(".json"):
        with open(path) as f:
            return np.asarray(json.load(f)["predictions"], dtype=np.int64)
    a = np.load(path)
    return a.argmax(1) if a.ndim == 2 else a.astype(np.int64)


def table(out, variants_file):
    labels = read_idx(os.path.join(eo.DATASET, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    with open(variants_file) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    print("| model | variant | top-1 accuracy | agreement with float |")
    print("|---|---|---|---|")
    for model, variant, pred_file, ref_file in rows:
        p = load_pred(os.path.join(out, pred_file))
        if len(p) != len(labels):
            sys.exit("compare_int8.py: %s has %d predictions, %d labels"
                     % (pred_file, len(p), len(labels)))
        acc = 100.0 * float((p == labels).mean())
        if ref_file == "-":
            agree = "(float)"
        else:
            agree = "%.2f%%" % (100.0 * float((p == load_pred(os.path.join(out, ref_file))).mean()))
        print("| %s | %s | %.2f%% | %s |" % (model, variant, acc, agree))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "s8weights":
        s8weights(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: compare_int8.py prepare OUT | s8weights IN OUT | table OUT VARIANTS.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
