#!/usr/bin/python3
"""Exports torchvision classification models to ONNX for scripts/model_zoo.sh.

Run with Debian's interpreter (torch 1.13, torchvision 0.14, onnx, numpy):

    /usr/bin/python3 scripts/export_zoo.py [--out build/zoo] [--opset 13]
                                           [--calib 64] [--bn-stats init|data]
                                           [MODEL ...]

MODEL defaults to all of MODELS below. No pretrained weights are at hand, so
every model gets torchvision's own random initialization under
torch.manual_seed(0) (weights=None), in eval mode. googlenet is built with
aux_logits=False (the auxiliary classifiers only run in training mode
anyway) and init_weights=True (torchvision's truncated-normal init, which is
what it falls back to with a warning when init_weights is left unset).
vit_b_16's classifier head is initialized to zeros by torchvision (its
output would be all zeros), so it is given nn.Linear's default random
initialization instead (reset_parameters, after the rest, same seed).

Batch norm (--bn-stats): "init" (default) keeps torchvision's running
statistics (mean 0, variance 1), so every batch norm is nearly the identity
and the activations of most of these random networks shrink layer after
layer (outputs near 1e-9 for mobilenet_v2, 1e-14 for efficientnet_b0): the
network damps a perturbation of its input; googlenet's features reach 1e-11
and shufflenet_v2's vanish too, so their outputs are the classifier's bias,
whatever the input. "data" re-estimates the running
mean and variance of every batch-norm layer (cumulative average, one pass in
training mode over --bn-samples samples of their own seed, weights
unchanged), so every normalized activation has about zero mean and unit
variance, as in a trained network; random networks normalized that way
amplify a perturbation layer after layer (mobilenet_v2: 40 dB of input
noise leaves 13 dB at the output), which caps the SQNR any int8 model of
them can reach. noise40_sqnr_db in export.json measures that.

For each model, in OUT/<model>/:

    model.onnx        torch.onnx.export at --opset, input "image"
                      [N, 3, 224, 224] and output "logits" [N, 1000] with a
                      dynamic batch axis, constant folding on
    inputs.npy        16 samples, float32 NCHW [16, 3, 224, 224]
    outputs.npy       PyTorch's float32 outputs for them [16, 1000]
    calib.npy         --calib further samples, float32 NCHW, for calibration
    export.json       opset, seed, torch and torchvision versions, seconds,
                      and noise40_sqnr_db: the SQNR of PyTorch's outputs when
                      Gaussian noise at 40 dB SNR is added to the 16 inputs
                      (how much the float network itself amplifies a small
                      perturbation; int8 rounding of the input alone is of
                      that order, so an int8 model can hardly do better)

Samples look like normalized images: smooth random color fields (a coarse
8x8 grid of uniform [0, 1] pixels, bilinearly upsampled, plus a little
per-pixel noise, clipped to [0, 1]), then normalized with the ImageNet mean
and std that torchvision's transforms use. inputs.npy and calib.npy come
from different seeds and are the same for every model.

torch 1.13 exports opsets 7 to 17; opset 18 needs a newer torch.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

MODELS = [
    "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
    "squeezenet1_1", "shufflenet_v2_x1_0", "googlenet", "densenet121", "mnasnet0_5",
    "regnet_x_400mf", "alexnet", "vgg11_bn", "convnext_tiny", "vit_b_16",
]
# extra constructor arguments (besides weights=None)
KWARGS = {
    "googlenet": {"aux_logits": False, "init_weights": True},
}
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZE = 224
INPUT_SEED = 11
CALIB_SEED = 12
BN_SEED = 13
NOISE_SEED = 14


def images(n, seed):
    """n normalized image-like samples, float32 NCHW [n, 3, SIZE, SIZE]."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((n, 3, 8, 8), dtype=np.float32))
    x = F.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False).numpy()
    x = x + 0.05 * rng.standard_normal(x.shape, dtype=np.float32)
    x = np.clip(x, 0.0, 1.0)
    x = (x - MEAN[None, :, None, None]) / STD[None, :, None, None]
    return np.ascontiguousarray(x, dtype=np.float32)


def build(name, bn_stats, bn_samples):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **KWARGS.get(name, {}))
    if name.startswith("vit_"):
        model.heads.head.reset_parameters()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if bn_stats == "data" and norms:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
        model.train()
        x = images(bn_samples, BN_SEED)
        with torch.no_grad():
            for i in range(0, len(x), 16):
                model(torch.from_numpy(x[i:i + 16]))
    model.eval()
    return model


def predict(model, x):
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i:i + 4])) for i in range(0, len(x), 4)]).numpy()


def export(name, out, inputs, calib, args, t0):
    model = build(name, args.bn_stats, args.bn_samples)
    logits = predict(model, inputs)
    rng = np.random.default_rng(NOISE_SEED)
    noise = rng.standard_normal(inputs.shape, dtype=np.float32) * np.sqrt(np.mean(inputs ** 2))
    noisy = predict(model, inputs + noise * np.float32(10 ** (-40 / 20)))
    noise40 = 10 * np.log10(np.sum(logits.astype(np.float64) ** 2) / np.sum((noisy - logits) ** 2.0))
    path = os.path.join(out, "model.onnx")
    torch.onnx.export(model, torch.from_numpy(inputs[:1]), path, opset_version=args.opset,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    np.save(os.path.join(out, "inputs.npy"), inputs)
    np.save(os.path.join(out, "outputs.npy"), np.ascontiguousarray(logits, dtype=np.float32))
    np.save(os.path.join(out, "calib.npy"), calib)
    info = {"model": name, "opset": args.opset, "seed": 0, "kwargs": KWARGS.get(name, {}),
            "bn_stats": args.bn_stats, "bn_samples": args.bn_samples, "bn_seed": BN_SEED,
            "input": {"name": "image", "shape": [-1, 3, SIZE, SIZE], "layout": "nchw"},
            "samples": args.samples, "calib_samples": args.calib,
            "input_seed": INPUT_SEED, "calib_seed": CALIB_SEED,
            "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            "max_abs_output": float(np.abs(logits).max()), "noise40_sqnr_db": float(noise40),
            "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(out, "export.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print("%-19s opset %2d  %10d bytes  max|out| %.4g  40 dB input noise: %.1f dB  %.1f s"
          % (name, args.opset, os.path.getsize(path), info["max_abs_output"], noise40,
             info["seconds"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS, metavar="MODEL")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "build", "zoo"))
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--bn-stats", choices=["init", "data"], default="init")
    ap.add_argument("--bn-samples", type=int, default=64)
    args = ap.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error("unknown model %s (known: %s)" % (", ".join(unknown), " ".join(MODELS)))
    torch.set_num_threads(1)

    inputs = images(args.samples, INPUT_SEED)
    calib = images(args.calib, CALIB_SEED)
    failed = 0
    for name in args.models:
        t0 = time.time()
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        for old in ("model.onnx", "export.err", "export.json"):
            if os.path.exists(os.path.join(out, old)):
                os.remove(os.path.join(out, old))
        try:
            export(name, out, inputs, calib, args, t0)
        except Exception as e:  # keep going; model_zoo.sh reports it
            failed += 1
            msg = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0] if str(e).strip() else "")
            with open(os.path.join(out, "export.err"), "w") as f:
                f.write(msg + "\n")
            print("%-19s opset %2d  export failed: %s" % (name, args.opset, msg))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
