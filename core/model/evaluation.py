"""Classification metrics from predicted probabilities (numpy only, usable in Lambda)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ECE_BINS = 15


def _check(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ValueError(f"proba must have shape (n, {len(classes)}), got {proba.shape}")
    if proba.shape[0] != len(y_true):
        raise ValueError(f"{len(y_true)} labels but {proba.shape[0]} rows of probabilities")
    return proba


def correct_vector(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Boolean per example: was the top prediction right (for paired tests such as McNemar)."""
    proba = _check(y_true, proba, classes)
    predicted = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)] if len(y_true) else []
    return np.array([p == t for p, t in zip(predicted, y_true, strict=True)], dtype=bool)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins (0, 1]."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    acc_sum = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    used = count > 0
    gap = np.abs(acc_sum[used] - conf_sum[used])  # = count * |acc - conf|
    return float(gap.sum() / len(confidence))


def evaluate(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str],
             top_confusions: int = 10) -> dict:
    """accuracy, macro_f1 (over labels seen in truth or predictions, as scikit-learn does),
    per_class P/R/F1/support, top3_accuracy, ece (15 bins), n,
    confusion_pairs (most frequent true -> predicted mistakes)."""
    classes = [str(c) for c in classes]
    y_true = [str(y) for y in y_true]
    proba = _check(y_true, proba, classes)
    n = len(y_true)
    if n == 0:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "top3_accuracy": 0.0, "ece": 0.0,
                "per_class": {}, "confusion_pairs": []}
    top = np.argmax(proba, axis=1)
    y_pred = [classes[i] for i in top]

    labels = sorted(set(y_true) | set(y_pred))
    index = {c: i for i, c in enumerate(labels)}
    t_idx = np.array([index[y] for y in y_true])
    p_idx = np.array([index[y] for y in y_pred])
    k = len(labels)
    confusion = np.bincount(t_idx * k + p_idx, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    correct = t_idx == p_idx

    class_index = {c: i for i, c in enumerate(classes)}
    true_col = np.array([class_index.get(y, -1) for y in y_true])
    k_top = min(3, len(classes))
    top3 = np.argpartition(-proba, k_top - 1, axis=1)[:, :k_top] if k_top else np.zeros((n, 0), int)
    in_top3 = (top3 == true_col[:, None]).any(axis=1) & (true_col >= 0)

    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:top_confusions]
    pairs = [
        {"true": labels[i // k], "predicted": labels[i % k], "count": int(off.flat[i])}
        for i in order if off.flat[i] > 0
    ]
    return {
        "n": n,
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1.mean()),
        "top3_accuracy": float(in_top3.mean()),
        "ece": expected_calibration_error(proba[np.arange(n), top], correct),
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion_pairs": pairs,
    }
