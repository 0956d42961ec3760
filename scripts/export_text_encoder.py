#!/usr/bin/python3
"""A small BERT-style text encoder trained on Debian's man pages, exported to
ONNX for quanta (run with /usr/bin/python3: torch 1.13, onnx, numpy).

Task: from the first tokens of a man page, tell its kind:
    0 user command (man1), 1 programming interface (man2, man3),
    2 file format or overview (man4, man5, man7), 3 administration (man8).
The .TH line (which names the section) and comment lines are dropped.
A quarter of the samples keep only their first 8 to SEQ-2 words (a random
length), so that padding and the attention mask matter.

Tokenizer: roff text lowercased, split into words of [a-z0-9_]; each word
hashed (crc32) into ids [2, VOCAB); 0 is padding, 1 the leading [CLS] token.

Model: token + learned position embeddings, LayerNorm, LAYERS encoder layers
(multi-head self-attention with an attention mask, GELU feed-forward,
post-LayerNorm residuals, as BERT), a pooler on the first token
(dense + tanh) and a linear classifier. Inputs "ids" and "mask" (int64
[N, SEQ], mask 1 for tokens and 0 for padding), output "logits" [N, 4].
The attention is written out (matmuls and softmax, mask as
(1 - mask) * -10000 added to the scores, as BERT does); --mha exports the
same weights through nn.MultiheadAttention instead (key_padding_mask).

Writes into --out (default models/), PREFIX being text-bert or, with
--tiny, text-bert-tiny (the test fixture):
    PREFIX.onnx         opset 17, dynamic batch
    PREFIX.op14.onnx    (with --tiny or --op14) opset 14
    PREFIX.mha.onnx     (with --mha) the nn.MultiheadAttention form
    PREFIX.test.safetensors   ids (I32), mask and labels (U8) of the test split
    PREFIX.calib.safetensors  ids and mask of training samples for calibration
(the data files hold narrower integers than the model's I64 inputs: quanta
widens them as it reads, and the files stay small enough to bundle)
    PREFIX.logits.npy   PyTorch's logits for the test split
Same arguments, same files (fixed seeds, single thread).

    scripts/export_text_encoder.py [--out models] [--tiny] [--mha] [--op14]
"""
import argparse
import gzip
import os
import re
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quanta_format import write_safetensors  # noqa: E402

MAN = "/usr/share/man"
CLASSES = {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2, "7": 2, "8": 3}

FULL = dict(vocab=1024, seq=64, hidden=128, heads=4, ffn=256, layers=2,
            per_class=700, test=400, calib=256, epochs=4)
TINY = dict(vocab=128, seq=16, hidden=32, heads=2, ffn=64, layers=2,
            per_class=150, test=64, calib=32, epochs=10)

ESCAPE = re.compile(r"\\(f[BIRP1-4]|f\[[A-Z]*\]|\(..|\[[^\]]*\]|s[-+]?\d|.)")
WORD = re.compile(r"[a-z0-9_]+")


def page_words(path, limit):
    """The first limit words of a gzip roff page, or None for a .so link."""
    words = []
    with gzip.open(path, "rt", errors="replace") as f:
        for line in f:
            if line.startswith(".so ") and not words:
                return None
            if line.startswith(('.\\"', "'\\\"", '\\"', ".TH")):
                continue
            if line.startswith((".", "'")):
                parts = line.split(None, 1)
                line = parts[1] if len(parts) > 1 else ""
            words.extend(WORD.findall(ESCAPE.sub(" ", line).lower()))
            if len(words) >= limit:
                break
    return words[:limit]


def encode(words, cfg):
    ids = [1] + [2 + zlib.crc32(w.encode()) % (cfg["vocab"] - 2) for w in words]
    ids = ids[:cfg["seq"]]
    mask = [1] * len(ids) + [0] * (cfg["seq"] - len(ids))
    ids = ids + [0] * (cfg["seq"] - len(ids))
    return ids, mask


def corpus(cfg, rng):
    """Up to per_class pages per class (pages with fewer than 8 words are
    skipped), shuffled; returns ids, mask (int64 [N, SEQ]) and labels."""
    by_class = {c: [] for c in range(4)}
    for sec, c in sorted(CLASSES.items()):
        d = os.path.join(MAN, "man" + sec)
        if os.path.isdir(d):
            by_class[c] += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".gz")]
    ids, mask, labels = [], [], []
    for c in range(4):
        paths = by_class[c]
        order = rng.permutation(len(paths))
        taken = 0
        for k in order:
            if taken == cfg["per_class"]:
                break
            words = page_words(paths[k], cfg["seq"] - 1)
            if not words or len(words) < 8:
                continue
            if rng.random() < 0.25:
                words = words[:rng.integers(8, cfg["seq"] - 1)]
            i, m = encode(words, cfg)
            ids.append(i)
            mask.append(m)
            labels.append(c)
            taken += 1
    perm = rng.permutation(len(labels))
    return (np.array(ids, np.int64)[perm], np.array(mask, np.int64)[perm],
            np.array(labels, np.int64)[perm])


class Layer(nn.Module):
    def __init__(self, cfg, mha):
        super().__init__()
        h = cfg["hidden"]
        self.heads = cfg["heads"]
        self.q = nn.Linear(h, h)
        self.k = nn.Linear(h, h)
        self.v = nn.Linear(h, h)
        self.o = nn.Linear(h, h)
        self.ln1 = nn.LayerNorm(h, eps=1e-12)
        self.ff1 = nn.Linear(h, cfg["ffn"])
        self.ff2 = nn.Linear(cfg["ffn"], h)
        self.ln2 = nn.LayerNorm(h, eps=1e-12)
        self.mha = None
        if mha:
            self.mha = nn.MultiheadAttention(h, self.heads, batch_first=True)

    def use_mha(self):
        """Copies q, k, v, o into the nn.MultiheadAttention form."""
        with torch.no_grad():
            self.mha.in_proj_weight.copy_(torch.cat([self.q.weight, self.k.weight, self.v.weight]))
            self.mha.in_proj_bias.copy_(torch.cat([self.q.bias, self.k.bias, self.v.bias]))
            self.mha.out_proj.weight.copy_(self.o.weight)
            self.mha.out_proj.bias.copy_(self.o.bias)

    def attention(self, x, bias):
        n, s, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(n, s, self.heads, d).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / (d ** 0.5) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o(ctx.transpose(1, 2).reshape(n, s, h))

    def forward(self, x, bias, pad):
        if self.mha is not None:
            a = self.mha(x, x, x, key_padding_mask=pad, need_weights=False)[0]
        else:
            a = self.attention(x, bias)
        x = self.ln1(x + a)
        return self.ln2(x + self.ff2(torch.nn.functional.gelu(self.ff1(x))))


class Encoder(nn.Module):
    def __init__(self, cfg, mha=False):
        super().__init__()
        h = cfg["hidden"]
        self.tok = nn.Embedding(cfg["vocab"], h)
        self.pos = nn.Embedding(cfg["seq"], h)
        self.register_buffer("pos_ids", torch.arange(cfg["seq"]).unsqueeze(0))
        self.ln = nn.LayerNorm(h, eps=1e-12)
        self.layers = nn.ModuleList([Layer(cfg, mha) for _ in range(cfg["layers"])])
        self.pool = nn.Linear(h, h)
        self.cls = nn.Linear(h, 4)
        self.mha = mha

    def forward(self, ids, mask):
        x = self.ln(self.tok(ids) + self.pos(self.pos_ids))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        pad = mask == 0 if self.mha else None
        for layer in self.layers:
            x = layer(x, bias, pad)
        return self.cls(torch.tanh(self.pool(x[:, 0])))


def train(model, ids, mask, labels, cfg):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    x, m, y = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    g = torch.Generator().manual_seed(1)
    for epoch in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(len(y), generator=g)
        total = 0.0
        for i in range(0, len(y), 32):
            b = perm[i:i + 32]
            loss = nn.functional.cross_entropy(model(x[b], m[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        print(f"epoch {epoch + 1}: loss {total / len(y):.4f}", file=sys.stderr)
    model.eval()


def export(model, path, ids, mask, opset):
    torch.onnx.export(model, (torch.from_numpy(ids[:2]), torch.from_numpy(mask[:2])), path,
                      opset_version=opset, input_names=["ids", "mask"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "batch"}, "mask": {0: "batch"},
                                    "logits": {0: "batch"}},
                      do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models")
    ap.add_argument("--tiny", action="store_true", help="the small test fixture")
    ap.add_argument("--mha", action="store_true", help="also the nn.MultiheadAttention form")
    ap.add_argument("--op14", action="store_true", help="also opset 14 (always with --tiny)")
    args = ap.parse_args()
    cfg = TINY if args.tiny else FULL
    prefix = os.path.join(args.out, "text-bert-tiny" if args.tiny else "text-bert")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    ids, mask, labels = corpus(cfg, rng)
    nt = cfg["test"]
    test = (ids[:nt], mask[:nt], labels[:nt])
    tr = (ids[nt:], mask[nt:], labels[nt:])
    print(f"{len(labels)} pages: {len(tr[2])} train, {nt} test; class counts "
          f"{np.bincount(labels, minlength=4).tolist()}", file=sys.stderr)

    model = Encoder(cfg)
    train(model, *tr, cfg)
    with torch.no_grad():
        logits = model(torch.from_numpy(test[0]), torch.from_numpy(test[1])).numpy()
    acc = float((logits.argmax(1) == test[2]).mean())
    print(f"test accuracy {acc:.4f}", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    export(model, prefix + ".onnx", *test[:2], 17)
    if args.tiny or args.op14:
        export(model, prefix + ".op14.onnx", *test[:2], 14)
    if args.mha:
        alt = Encoder(cfg, mha=True)
        alt.load_state_dict(model.state_dict(), strict=False)
        for layer in alt.layers:
            layer.use_mha()
        alt.eval()
        with torch.no_grad():
            diff = (alt(torch.from_numpy(test[0]), torch.from_numpy(test[1])).numpy() - logits)
        print(f"mha form: max |difference| {np.abs(diff).max():.2e}", file=sys.stderr)
        export(alt, prefix + ".mha.onnx", *test[:2], 17)
    write_safetensors(prefix + ".test.safetensors",
                      {"ids": test[0].astype(np.int32), "mask": test[1].astype(np.uint8),
                       "labels": test[2].astype(np.uint8)})
    nc = cfg["calib"]
    write_safetensors(prefix + ".calib.safetensors", {"ids": tr[0][:nc].astype(np.int32),
                                                      "mask": tr[1][:nc].astype(np.uint8)})
    np.save(prefix + ".logits.npy", logits.astype(np.float32))


if __name__ == "__main__":
    main()
