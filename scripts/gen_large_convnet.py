#!/usr/bin/python3
"""Benchmark models with random weights (fixed seed), for scripts/bench.sh.

Run with Debian's interpreter (numpy):

    /usr/bin/python3 scripts/gen_large_convnet.py [--out build/bench]

writes, in --out (not committed; regenerate at will, same bytes each time):

    large-convnet.safetensors   input [N, 32, 32, 3] F32 (fed as is)
                                conv 3x3 32        (pad 1, relu)  32x32x32
                                conv 3x3 64  s2    (pad 1, relu)  16x16x64
                                conv 3x3 128 s2    (pad 1, relu)   8x8x128
                                conv 3x3 256 s2    (pad 1, relu)   4x4x256
                                global_avg_pool                    256
                                dense 10                           logits
                                about 30 MOP per sample (2 per multiply-add)
    large-convnet-calib.npy     [--calib, 32, 32, 3] F32 calibration samples
    dense-1024.safetensors      input [N, 1024] F32 -> dense 1024 -> 1024:
                                2 * 1024 * 1024 = 2.1 MOP per sample; the
                                GEMM that the %-of-peak figures use
    dense-1024-calib.npy        [--calib, 1024] F32 calibration samples

Weights are He-normal (std sqrt(2 / fan_in)) so that activations keep
their scale through the relus; biases are small. Calibration samples are
standard normal, the distribution the benchmark's synthetic input imitates
(quanta bench feeds uniform [-1, 1) floats).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quanta_format as qf  # noqa: E402

SEED = 20240611


def he_normal(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def small_bias(rng, n):
    return (rng.standard_normal(n) * 0.01).astype(np.float32)


def large_convnet(rng):
    """The graph and tensors of the large conv net (NHWC, OHWI weights)."""
    layers = [  # name, in channels, out channels, stride
        ("conv1", 3, 32, 1),
        ("conv2", 32, 64, 2),
        ("conv3", 64, 128, 2),
        ("conv4", 128, 256, 2),
    ]
    tensors = {}
    nodes = []
    x = "image"
    for name, cin, cout, stride in layers:
        w, b = name + ".weight", name + ".bias"
        tensors[w] = he_normal(rng, (cout, 3, 3, cin), 9 * cin)
        tensors[b] = small_bias(rng, cout)
        out = name + ".out"
        nodes.append(qf.node("conv2d", name, [x, w, b], [out], strides=[stride, stride],
                             pads=[1, 1, 1, 1], activation="relu"))
        x = out
    nodes.append(qf.node("global_avg_pool", "gap", [x], ["gap.out"]))
    tensors["fc.weight"] = he_normal(rng, (10, 256), 256)
    tensors["fc.bias"] = small_bias(rng, 10)
    nodes.append(qf.node("dense", "fc", ["gap.out", "fc.weight", "fc.bias"], ["logits"]))
    graph = qf.make_graph("large-convnet", [qf.graph_input("image", [-1, 32, 32, 3])],
                          ["logits"], nodes)
    return graph, tensors


def dense_1024(rng):
    tensors = {"fc.weight": he_normal(rng, (1024, 1024), 1024),
               "fc.bias": small_bias(rng, 1024)}
    graph = qf.make_graph("dense-1024", [qf.graph_input("x", [-1, 1024])], ["y"],
                          [qf.node("dense", "fc", ["x", "fc.weight", "fc.bias"], ["y"])])
    return graph, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/bench", help="output folder (default build/bench)")
    ap.add_argument("--calib", type=int, default=128,
                    help="calibration samples per model (default 128)")
    args = ap.parse_args()
    if args.calib < 1:
        ap.error("--calib must be >= 1")
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    meta = {"origin": "scripts/gen_large_convnet.py (random weights, seed %d)" % SEED}

    for name, build, sample_shape in (("large-convnet", large_convnet, (32, 32, 3)),
                                      ("dense-1024", dense_1024, (1024,))):
        graph, tensors = build(rng)
        path = os.path.join(args.out, name + ".safetensors")
        size = qf.write_model(path, graph, tensors, meta)
        calib = rng.standard_normal((args.calib,) + sample_shape).astype(np.float32)
        calib_path = os.path.join(args.out, name + "-calib.npy")
        qf.write_npy(calib_path, calib)
        print("%s: %d bytes; %s: %s F32" % (path, size, calib_path, list(calib.shape)))


if __name__ == "__main__":
    main()
