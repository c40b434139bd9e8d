"""Scoring a model on records: core.model.evaluation's metrics, the summary kept in results, the per-record
correctness the promotion gate's paired test needs and the probabilities the model card's golden-set part is
computed from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.retraining.steps import MetricSummary

if TYPE_CHECKING:
    import numpy as np

SUMMARY_METRICS = ("n", "accuracy", "macro_f1", "top3_accuracy", "ece")


@dataclass(frozen=True)
class Scored:
    metrics: dict  # core.model.evaluation.evaluate's report ({"n": 0} for no records)
    correct: list[bool]  # per record: was the top category right
    proba: np.ndarray | None  # (records, classes); None for no records


def score_records(model, records: list[dict]) -> Scored:
    from core.model.evaluation import correct_vector, evaluate

    if not records:
        return Scored({"n": 0}, [], None)
    proba = model.predict_proba(records)
    labels = [record["category"] for record in records]
    correct = [bool(value) for value in correct_vector(labels, proba, model.classes)]
    return Scored(evaluate(labels, proba, model.classes), correct, proba)


def score(model, records: list[dict]) -> tuple[dict, list[bool]]:
    """core.model.evaluation metrics of `model` on `records` and the per-record correctness (for paired
    tests)."""
    scored = score_records(model, records)
    return scored.metrics, scored.correct


def summarise(metrics: dict) -> MetricSummary:
    return {key: metrics[key] for key in SUMMARY_METRICS if key in metrics}
