#!/usr/bin/python3
"""Train the demo Fashion-MNIST CNN and write quanta's bundled model and data.

Usage (from the repository root, Debian's python3 with torch and numpy):

    /usr/bin/python3 scripts/train_fmnist.py
        [--data /usr/share/datasets/fashion-mnist] [--out models]
        [--epochs 5] [--seed 20240601] [--checkpoint PATH]

Writes, under --out (default models/):

    fmnist-cnn.safetensors             the float model (scripts/export_torch.py)
    fmnist-cnn.reference.json          PyTorch's accuracy (full 10k test set
                                       and the bundled 1000) and its argmax
                                       predictions for the bundled 1000 images
    data/fmnist-test-1000-images-idx3-ubyte.gz   first 1000 test images
    data/fmnist-test-1000-labels-idx1-ubyte.gz   their labels
    data/fmnist-calib-1000-images-idx3-ubyte.gz  1000 TRAINING images, a
    data/fmnist-calib-1000-labels-idx1-ubyte.gz  fixed-seed random selection
                                                 (for calibration), + labels
    data/fmnist-test-1000-logits.npy   PyTorch float32 logits [1000, 10] of
                                       the bundled test images

Network (NCHW in PyTorch, exported as NHWC):
    conv3x3(1->32, pad 1) relu maxpool2 conv3x3(32->64, pad 1) relu maxpool2
    flatten dense(3136->128) relu dense(128->10)
Input: raw pixels p in [0, 255] are fed as (p/255 - MEAN) / STD, which is the
model file's normalize block {"scale": 1/255, "mean": [MEAN], "std": [STD]}.

Training is deterministic for a given seed on a given machine: torch seeds,
deterministic algorithms, 2 threads, a seeded shuffle. With --checkpoint the
trained state dict is saved there, and reused (no training) if it exists.
All output files are byte-identical across runs with the same weights.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quanta_format as qf  # noqa: E402

MEAN = 0.2860
STD = 0.3530
SCALE = 1.0 / 255.0
BATCH = 128


class FmnistCnn(nn.Module):
    """The demo CNN; every layer is one that export_torch supports."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc2(x)


def to_input(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], normalized as in the file."""
    x = images_u8.astype(np.float32) * np.float32(SCALE)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x[:, None, :, :].copy())


def load(data_dir, kind):
    images = qf.read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % kind))
    labels = qf.read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % kind))
    return images, labels


def train(model, images, labels, epochs, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    x_all = to_input(images)
    y_all = torch.from_numpy(labels.astype(np.int64))
    n = len(y_all)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss = lossf(model(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print("epoch %d: loss %.4f (%.0f s)" % (epoch + 1, total / n, time.time() - t0),
              flush=True)


@torch.no_grad()
def logits_of(model, images):
    model.eval()
    out = []
    for i in range(0, len(images), 500):
        out.append(model(to_input(images[i:i + 500])))
    return torch.cat(out).numpy().astype(np.float32)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "models")))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--checkpoint", help="save/reuse the trained state dict here")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)

    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")

    model = FmnistCnn()
    if args.checkpoint and os.path.exists(args.checkpoint):
        model.load_state_dict(torch.load(args.checkpoint))
        print("loaded %s" % args.checkpoint)
    else:
        train(model, train_x, train_y, args.epochs, args.seed)
        if args.checkpoint:
            torch.save(model.state_dict(), args.checkpoint)
    model.eval()

    logits = logits_of(model, test_x)
    pred = logits.argmax(axis=1)
    correct = int((pred == test_y).sum())
    correct_1k = int((pred[:1000] == test_y[:1000]).sum())
    print("test top-1: %d/10000 = %.4f; bundled 1000: %d/1000 = %.3f"
          % (correct, correct / 10000, correct_1k, correct_1k / 1000))
    if correct < 9000:
        print("accuracy below 90%: train more (--epochs)", file=sys.stderr)
        return 1

    data_dir = os.path.join(args.out, "data")
    os.makedirs(data_dir, exist_ok=True)
    qf.write_idx_gz(os.path.join(data_dir, "fmnist-test-1000-images-idx3-ubyte.gz"),
                    test_x[:1000])
    qf.write_idx_gz(os.path.join(data_dir, "fmnist-test-1000-labels-idx1-ubyte.gz"),
                    test_y[:1000])
    rng = np.random.default_rng(args.seed)
    calib_idx = np.sort(rng.choice(len(train_y), size=1000, replace=False))
    qf.write_idx_gz(os.path.join(data_dir, "fmnist-calib-1000-images-idx3-ubyte.gz"),
                    train_x[calib_idx])
    qf.write_idx_gz(os.path.join(data_dir, "fmnist-calib-1000-labels-idx1-ubyte.gz"),
                    train_y[calib_idx])
    qf.write_npy(os.path.join(data_dir, "fmnist-test-1000-logits.npy"), logits[:1000])

    import export_torch
    normalize = {"scale": SCALE, "mean": [MEAN], "std": [STD]}
    model_path = os.path.join(args.out, "fmnist-cnn.safetensors")
    export_torch.export(model, (1, 28, 28), model_path, normalize=normalize,
                        name="fmnist-cnn", output_names=["logits"])

    # The exported file, run by the independent numpy reference of the spec,
    # must reproduce PyTorch's logits (checks the NCHW -> NHWC conversion).
    import quanta_ref
    graph, tensors, _ = qf.read_model(model_path)
    ref = quanta_ref.run_graph(graph, tensors, {"image": test_x[:1000]})["logits"]
    diff = float(np.max(np.abs(ref - logits[:1000].astype(np.float64))))
    print("numpy reference of the exported file vs PyTorch: max |diff| = %.3g" % diff)
    if diff > 1e-4:
        print("exported model disagrees with PyTorch", file=sys.stderr)
        return 1

    reference = {
        "model": "fmnist-cnn.safetensors",
        "framework": "pytorch %s, float32, eval mode" % torch.__version__.split("+")[0],
        "seed": args.seed,
        "epochs": args.epochs,
        "normalize": normalize,
        "test_10000": {"images": "t10k-images-idx3-ubyte.gz (Fashion-MNIST)",
                       "correct": correct, "total": 10000,
                       "accuracy": round(correct / 10000, 6)},
        "test_1000": {"images": "data/fmnist-test-1000-images-idx3-ubyte.gz",
                      "labels": "data/fmnist-test-1000-labels-idx1-ubyte.gz",
                      "correct": correct_1k, "total": 1000,
                      "accuracy": round(correct_1k / 1000, 6)},
        "calib_1000": {"images": "data/fmnist-calib-1000-images-idx3-ubyte.gz",
                       "note": "training images, indices drawn with numpy "
                               "default_rng(seed).choice(60000, 1000, replace=False), "
                               "sorted",
                       "indices": [int(i) for i in calib_idx]},
        "logits_1000": "data/fmnist-test-1000-logits.npy",
        "predictions_1000": [int(p) for p in pred[:1000]],
    }
    text = json.dumps(reference, indent=1)
    # one line per list of numbers
    text = re.sub(r"\[[^\[\]{}\"]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    with open(os.path.join(args.out, "fmnist-cnn.reference.json"), "w") as f:
        f.write(text + "\n")
    print("wrote %s and %s" % (model_path, data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
