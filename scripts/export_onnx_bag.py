#!/usr/bin/python3
"""ONNX fixtures of nn.EmbeddingBag for quanta import (tests/fixtures/onnx):

textbag: a text classifier, EmbeddingBag(200, 32, mode="mean") over fixed
    bags of 12 token ids -> Linear(32, 16) -> ReLU -> Linear(16, 4), trained
    on a synthetic task (each class has 20 keyword tokens; a sample holds 4
    of its class's keywords among 8 random tokens). textbag.input.npy holds
    500 held-out samples, textbag.logits.npy PyTorch's logits for them.
bag_<mode>_<form>: EmbeddingBag(20, 4) alone, modes sum/mean/max, fixed bags
    (ids [N, 3]) or ids [7] with offsets [N]; bag_psw_fixed: sum with
    per-sample weights. <name>.ids.npy (.offsets.npy, .weights.npy) and
    <name>.expected.npy.
loop_sum: a Loop with a loop-carried sum (not a bag), which import refuses.

torch.onnx.export writes each EmbeddingBag as a Loop over the bags
(opsets 13 to 17). Run with /usr/bin/python3 (torch 1.13):
    scripts/export_onnx_bag.py [--out tests/fixtures/onnx]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn


class TextBag(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(200, 32, mode="mean")
        self.fc1 = nn.Linear(32, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, ids):
        return self.fc2(torch.relu(self.fc1(self.bag(ids))))


class Bag(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 4, mode=mode)

    def forward(self, ids, offsets=None, weights=None):
        return self.bag(ids, offsets, per_sample_weights=weights)


def text_data(rng, n):
    y = rng.integers(0, 4, size=n)
    x = rng.integers(80, 200, size=(n, 12))
    for i in range(n):
        pos = rng.choice(12, size=4, replace=False)
        x[i, pos] = y[i] * 20 + rng.integers(0, 20, size=4)
    return x.astype(np.int64), y


def export(model, path, args, names, dynamic, opset):
    torch.onnx.export(model, args, path, opset_version=opset, input_names=names,
                      output_names=["y"], dynamic_axes=dynamic, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/onnx")
    out = ap.parse_args().out
    torch.manual_seed(12)
    torch.set_num_threads(1)
    rng = np.random.default_rng(12)

    model = TextBag()
    tx, ty = text_data(rng, 4000)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(5):
        for i in range(0, len(ty), 100):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(torch.from_numpy(tx[i:i + 100])),
                                               torch.from_numpy(ty[i:i + 100]))
            loss.backward()
            opt.step()
    model.eval()
    ex, ey = text_data(rng, 500)
    with torch.no_grad():
        logits = model(torch.from_numpy(ex)).numpy()
    print("textbag accuracy %.3f" % (logits.argmax(1) == ey).mean())
    export(model, os.path.join(out, "textbag.onnx"), (torch.zeros(1, 12, dtype=torch.int64),),
           ["ids"], {"ids": {0: "N"}, "y": {0: "N"}}, 13)
    np.save(os.path.join(out, "textbag.input.npy"), ex)
    np.save(os.path.join(out, "textbag.labels.npy"), ey.astype(np.int64))
    np.save(os.path.join(out, "textbag.logits.npy"), logits.astype(np.float32))

    ids2 = np.array([[1, 2, 3], [4, 19, 6], [7, 7, 0], [5, 11, 13]], dtype=np.int64)
    ids1 = np.array([1, 2, 3, 4, 19, 6, 7], dtype=np.int64)
    offsets = np.array([0, 2, 2, 5], dtype=np.int64)   # an empty bag: zeros
    weights = np.linspace(-1, 2, 12).astype(np.float32).reshape(4, 3)
    cases = [("sum", "fixed", 13), ("mean", "fixed", 15), ("max", "fixed", 17),
             ("sum", "offsets", 13), ("mean", "offsets", 17), ("psw", "fixed", 13)]
    for mode, form, opset in cases:
        name = "bag_%s_%s" % (mode, form)
        m = Bag("sum" if mode == "psw" else mode).eval()
        if form == "fixed":
            args, names = [torch.from_numpy(ids2)], ["ids"]
            dyn = {"ids": {0: "N"}, "y": {0: "N"}}
            if mode == "psw":
                args += [None, torch.from_numpy(weights)]
                names = ["ids", "weights"]
                dyn["weights"] = {0: "N"}
        else:
            args, names = [torch.from_numpy(ids1), torch.from_numpy(offsets)], ["ids", "offsets"]
            dyn = {"offsets": {0: "B"}, "y": {0: "B"}}
        with torch.no_grad():
            y = m(*args).numpy()
        export(m, os.path.join(out, name + ".onnx"), tuple(args), names, dyn, opset)
        np.save(os.path.join(out, name + ".ids.npy"), ids2 if form == "fixed" else ids1)
        if form == "offsets":
            np.save(os.path.join(out, name + ".offsets.npy"), offsets)
        if mode == "psw":
            np.save(os.path.join(out, name + ".weights.npy"), weights)
        np.save(os.path.join(out, name + ".expected.npy"), y.astype(np.float32))
        print(name, "opset", opset, y.shape)
    loop_sum(out)


def loop_sum(out):
    import onnx
    from onnx import TensorProto, helper
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "x"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1, 4])])
    const = [helper.make_node("Constant", [], ["n"],
                              value=helper.make_tensor("n", TensorProto.INT64, [], [3])),
             helper.make_node("Constant", [], ["t"],
                              value=helper.make_tensor("t", TensorProto.BOOL, [], [1]))]
    g = helper.make_graph(const + [helper.make_node("Loop", ["n", "t", "x"], ["y"], body=body)],
                          "loop_sum", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="export_onnx_bag.py")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "loop_sum.onnx"))


if __name__ == "__main__":
    main()
