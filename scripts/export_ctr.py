#!/usr/bin/python3
"""A DLRM-style click-through-rate model trained on synthetic clicks,
exported to ONNX for quanta (run with /usr/bin/python3: torch 1.13, onnx,
numpy).

The click generator (documented, seeded; nothing here is real data):
    USERS users and ITEMS items, K = 8 latent factors.
    user i: factor u_i ~ N(0, s^2 I_K) with s = K^-1/4 (so that <u, v> has
        variance about 1), bias b_i ~ N(0, 0.5^2);
    item j: one of CATS categories g(j) (uniform); factor
        v_j = (c_g(j) + e_j) / sqrt(2) with c_g, e_j ~ N(0, s^2 I_K), bias
        b_j ~ N(0, 0.5^2);
    user i's history pool: 16 distinct items drawn with probability
        proportional to exp(2 <u_i, v_j>); each impression shows HIST = 8 of
        them (a random subset, in random order): the "hist" bag;
    an impression: user i uniform, item j by popularity (Zipf-like,
        P(j) proportional to (r_j + 10)^-0.8 with r a random ranking), and
        four dense features: t uniform in [0, 1) (time of day) as
        sin(2 pi t), cos(2 pi t); pos, the slot on the page, uniform in
        {0, 1/9, ..., 1}; act ~ N(0, 1), the user's recent activity;
    click probability
        z = 2 <u_i, v_j> + 1.5 <h, v_j> + b_i + b_j
            + 0.5 sin(2 pi t) - 0.3 cos(2 pi t) - 1.2 pos + 0.3 act - 1.0
        p = sigmoid(z) = 1 / (1 + e^-z)
    where h is the mean of the factors of the impression's 8 history items;
    the click (the label) is Bernoulli(p).

Model (DLRM-style): three categorical features through nn.EmbeddingBag
tables of DIM = 32 columns, which hold most of the parameters:
    user [N, 1]  EmbeddingBag(USERS, 32, mode="sum")   (one id a bag)
    item [N, 1]  EmbeddingBag(ITEMS, 32, mode="sum")
    hist [N, 8]  EmbeddingBag(ITEMS, 32, mode="mean")  (multi-hot, fixed bags)
the dense features [N, 4] through a bottom MLP (4 -> 32 -> 32, ReLU), the
pairwise dot products of the four 32-vectors (6 of them: a batched matmul
and a Gather of the upper triangle), concatenated with the bottom MLP's
output (38 values) into a top MLP (38 -> 64 -> 32 -> 1, ReLU) and a sigmoid:
output "click" [N, 1], the click probability. Trained with Adam on binary
cross-entropy (on the logit), a few epochs on the CPU.

Writes into --out (default models/), PREFIX = ctr:
    PREFIX.onnx                opset 17, dynamic batch; inputs user, item,
                               hist (I64) and dense (F32)
    PREFIX.test.safetensors    TEST held-out impressions: user, item, hist
                               (I32: quanta widens them as it reads), dense
                               (F32) and labels (U8, the clicks)
    PREFIX.calib.safetensors   CALIB training impressions (no labels)
    PREFIX.probs.npy           PyTorch's click probabilities for the test set
Same arguments, same files (fixed seeds, single thread). Prints the test
AUC of the model and of the generator's own probabilities (the ceiling).

    scripts/export_ctr.py [--out models]
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quanta_format import write_safetensors  # noqa: E402

USERS, ITEMS, CATS, K, HIST, DIM = 4000, 5000, 40, 8, 8, 32
TRAIN, TEST, CALIB, EPOCHS = 600000, 4000, 512, 2


def generate(rng, n_total):
    """n_total impressions: user, item, hist (int64), dense (float32), the
    generator's click probability and the click (see the docstring)."""
    s = K ** -0.25
    u = rng.normal(0, s, (USERS, K))
    bu = rng.normal(0, 0.5, USERS)
    cat = rng.integers(0, CATS, ITEMS)
    c = rng.normal(0, s, (CATS, K))
    v = (c[cat] + rng.normal(0, s, (ITEMS, K))) / math.sqrt(2)
    bv = rng.normal(0, 0.5, ITEMS)
    affinity = 2 * u @ v.T
    affinity = np.exp(affinity - affinity.max(1, keepdims=True))
    affinity /= affinity.sum(1, keepdims=True)
    pool = np.stack([rng.choice(ITEMS, 16, replace=False, p=affinity[i]) for i in range(USERS)])
    rank = rng.permutation(ITEMS)
    pop = (rank + 10.0) ** -0.8
    pop /= pop.sum()

    user = rng.integers(0, USERS, n_total)
    item = rng.choice(ITEMS, n_total, p=pop)
    pick = np.argsort(rng.random((n_total, 16)), axis=1)[:, :HIST]
    hist = np.take_along_axis(pool[user], pick, axis=1)
    t = rng.random(n_total)
    pos = rng.integers(0, 10, n_total) / 9.0
    act = rng.normal(0, 1, n_total)
    dense = np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t), pos, act], 1)
    h = v[hist].mean(1)
    z = (2 * (u[user] * v[item]).sum(1) + 1.5 * (h * v[item]).sum(1) + bu[user] + bv[item]
         + 0.5 * dense[:, 0] - 0.3 * dense[:, 1] - 1.2 * pos + 0.3 * act - 1.0)
    p = 1 / (1 + np.exp(-z))
    click = (rng.random(n_total) < p).astype(np.int64)
    return (user[:, None].astype(np.int64), item[:, None].astype(np.int64),
            hist.astype(np.int64), dense.astype(np.float32), p, click)


class CTR(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.EmbeddingBag(USERS, DIM, mode="sum")
        self.item = nn.EmbeddingBag(ITEMS, DIM, mode="sum")
        self.hist = nn.EmbeddingBag(ITEMS, DIM, mode="mean")
        self.bottom = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, DIM), nn.ReLU())
        self.top = nn.Sequential(nn.Linear(DIM + 6, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                 nn.Linear(32, 1))
        for bag in (self.user, self.item, self.hist):
            nn.init.normal_(bag.weight, 0, 0.1)
        rows, cols = torch.triu_indices(4, 4, offset=1)
        self.register_buffer("pairs", rows * 4 + cols)

    def logit(self, user, item, hist, dense):
        d = self.bottom(dense)
        t = torch.stack([d, self.user(user), self.item(item), self.hist(hist)], 1)
        dots = torch.bmm(t, t.transpose(1, 2)).flatten(1)
        return self.top(torch.cat([d, dots.index_select(1, self.pairs)], 1))

    def forward(self, user, item, hist, dense):
        return torch.sigmoid(self.logit(user, item, hist, dense))


def auc(score, label):
    """The Mann-Whitney AUC (ties share their mean rank)."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1 = label.sum()
    n0 = len(label) - n1
    return (ranks[label == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    user, item, hist, dense, p, click = generate(rng, TRAIN + TEST)
    tr = slice(TEST, None)
    te = slice(0, TEST)
    print(f"{TRAIN} training and {TEST} test impressions, click rate {click.mean():.3f}; "
          f"generator's own test AUC {auc(p[te], click[te]):.4f}", file=sys.stderr)

    test = [torch.from_numpy(a[te]) for a in (user, item, hist, dense)]
    model = CTR()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = [torch.from_numpy(a[tr]) for a in (user, item, hist, dense)]
    y = torch.from_numpy(click[tr]).float()
    g = torch.Generator().manual_seed(1)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(TRAIN, generator=g)
        total = 0.0
        for i in range(0, TRAIN, 512):
            b = perm[i:i + 512]
            loss = nn.functional.binary_cross_entropy_with_logits(
                model.logit(*(a[b] for a in x)).squeeze(1), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            val = model(*test)[:, 0].numpy()
        print(f"epoch {epoch + 1}: log loss {total / TRAIN:.4f}, test AUC {auc(val, click[te]):.4f}",
              file=sys.stderr)

    with torch.no_grad():
        probs = model(*test).numpy()
    print(f"test AUC {auc(probs[:, 0], click[te]):.4f}", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    prefix = os.path.join(args.out, "ctr")
    names = ["user", "item", "hist", "dense"]
    torch.onnx.export(model, tuple(a[:2] for a in test), prefix + ".onnx", opset_version=17,
                      input_names=names, output_names=["click"],
                      dynamic_axes={n: {0: "batch"} for n in names + ["click"]},
                      do_constant_folding=True)

    def tensors(s):
        return {"user": user[s].astype(np.int32), "item": item[s].astype(np.int32),
                "hist": hist[s].astype(np.int32), "dense": dense[s]}
    write_safetensors(prefix + ".test.safetensors",
                      {**tensors(te), "labels": click[te].astype(np.uint8)})
    write_safetensors(prefix + ".calib.safetensors", tensors(slice(TEST, TEST + CALIB)))
    np.save(prefix + ".probs.npy", probs.astype(np.float32))


if __name__ == "__main__":
    main()
