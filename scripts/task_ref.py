#!/usr/bin/python3
"""Reference values for the task metrics of tests/unit/test_report.c
(quanta eval on binary and regression outputs), computed without the C
code's formulas where possible:

- AUC by its definition: the share of (positive, negative) pairs whose
  positive scores higher, ties counting a half (the C code sums ranks);
- log loss as scikit-learn's log_loss: probabilities (the logistic function
  of logits) clipped to [1e-15, 1 - 1e-15], mean of -y ln p - (1-y) ln(1-p);
- MSE and MAE per element, cosine similarity per sample then averaged (a
  zero vector: 1 against a zero vector, else 0), SQNR in dB.

Scores go through float32 first, as quanta's outputs do.
Usage: /usr/bin/python3 scripts/task_ref.py
"""
import numpy as np

EPS = 1e-15

BIN_SCORES = [0.9, 0.8, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3, 0.3, 0.2, 0.0, 1.0]
BIN_LABELS = [1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1]
LOGITS = [2.5, -1.0, 0.0, 40.0, -40.0, 3.0, 0.25]
LOGIT_LABELS = [1, 0, 1, 1, 0, 0, 1]
REF = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 0.5, 2.0], [0.0, 0.0, 0.0]]
TEST = [[1.5, 1.0, 3.0], [0.0, 0.0, 0.0], [1.0, -0.5, -2.0], [0.25, 0.0, 0.0]]


def auc(scores, labels):
    s = np.asarray(scores, dtype=np.float32).astype(np.float64)
    y = np.asarray(labels)
    pos, neg = s[y == 1], s[y == 0]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def log_loss(probs, labels):
    p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def sigmoid(z):
    z = np.asarray(z, dtype=np.float32).astype(np.float64)
    return 1.0 / (1.0 + np.exp(-z))


def errors(ref, test):
    r = np.asarray(ref, dtype=np.float32).astype(np.float64)
    t = np.asarray(test, dtype=np.float32).astype(np.float64)
    mse = float(np.mean((t - r) ** 2))
    mae = float(np.mean(np.abs(t - r)))
    cos = []
    for a, b in zip(r, t):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos.append(1.0 if na == 0 and nb == 0 else 0.0 if na == 0 or nb == 0
                   else float(a @ b / (na * nb)))
    sqnr = 10 * np.log10(np.sum(r ** 2) / np.sum((r - t) ** 2))
    return mse, mae, float(np.mean(cos)), float(sqnr)


def main():
    p = np.asarray(BIN_SCORES, dtype=np.float32).astype(np.float64)
    print(f"binary probabilities: auc {auc(BIN_SCORES, BIN_LABELS)!r}"
          f" logloss {log_loss(p, BIN_LABELS)!r}")
    print(f"logits: auc {auc(LOGITS, LOGIT_LABELS)!r}"
          f" logloss {log_loss(sigmoid(LOGITS), LOGIT_LABELS)!r}")
    mse, mae, cos, sqnr = errors(REF, TEST)
    print(f"errors: mse {mse!r} mae {mae!r} cosine {cos!r} sqnr_db {sqnr!r}")


if __name__ == "__main__":
    main()
