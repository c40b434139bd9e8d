"""Scoring a model on records: core.model.evaluation's metrics, the summary kept in results, and the
per-record correctness the promotion gate's paired test needs."""

from __future__ import annotations

from core.retraining.steps import MetricSummary

SUMMARY_METRICS = ("n", "accuracy", "macro_f1", "top3_accuracy", "ece")


def score(model, records: list[dict]) -> tuple[dict, list[bool]]:
    """core.model.evaluation metrics of `model` on `records` and the per-record correctness (for paired
    tests)."""
    from core.model.evaluation import correct_vector, evaluate

    if not records:
        return {"n": 0}, []
    proba = model.predict_proba(records)
    labels = [record["category"] for record in records]
    metrics = evaluate(labels, proba, model.classes)
    correct = [bool(value) for value in correct_vector(labels, proba, model.classes)]
    return metrics, correct


def summarise(metrics: dict) -> MetricSummary:
    return {key: metrics[key] for key in SUMMARY_METRICS if key in metrics}
