"""Evaluation: the Evaluate step (candidate vs active on the golden set) and asynchronous evaluation runs."""

from __future__ import annotations

import json
import logging

from core import aws_clients
from core.feedback import history
from core.registry.artifacts import split_s3_uri
from core.registry.versions import ModelRegistry, utc_now
from core.retraining.policies import (
    PromotionPolicy,
    promotion_decision,
)
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SUMMARY_METRICS = ("n", "accuracy", "macro_f1", "top3_accuracy", "ece")


def read_jsonl_s3(uri: str) -> list[dict]:
    bucket, key = split_s3_uri(uri)
    body = aws_clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line) for line in body.splitlines() if line.strip()]


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


def summarise(metrics: dict) -> dict:
    return {key: metrics[key] for key in SUMMARY_METRICS if key in metrics}


def golden_feedback(settings: Settings, days: int | None = None) -> list[dict]:
    from core.data.splits import is_golden

    recent = history.recent_feedback(days or settings.feedback_eval_days, settings)
    return [item for item in recent if is_golden(item, settings.golden_fraction)]


def evaluate_candidate(event: dict, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    prepared, training = event["prepared"], event["training"]
    candidate = registry.register_training_output(
        training["S3ModelArtifacts"],
        training_job=training["TrainingJobName"],
        training_distribution=prepared["data_summary"].get("categories"),
        data_summary=prepared["data_summary"],
    )
    pointer = registry.active_pointer()
    golden = read_jsonl_s3(prepared["golden_uri"])
    recent = golden_feedback(settings)
    candidate_model = registry.load_model(candidate["version"])
    candidate_golden, candidate_correct = score(candidate_model, golden)
    candidate_feedback, _ = score(candidate_model, recent)
    active_golden = active_correct = active_feedback = None
    if pointer:
        active_model = registry.load_model(pointer["active_version"])
        active_golden, active_correct = score(active_model, golden)
        active_feedback, _ = score(active_model, recent)
    decision = promotion_decision(
        candidate_golden,
        active_golden,
        candidate_correct=candidate_correct,
        active_correct=active_correct,
        policy=PromotionPolicy.from_settings(settings),
    )
    result = {
        "candidate_version": candidate["version"],
        "active_version": pointer["active_version"] if pointer else None,
        "active_revision": int(pointer["revision"]) if pointer else 0,
        "golden": {
            "n": len(golden),
            "candidate": summarise(candidate_golden),
            "active": summarise(active_golden) if active_golden else None,
        },
        "feedback": {
            "n": len(recent),
            "candidate": summarise(candidate_feedback),
            "active": summarise(active_feedback) if active_feedback else None,
        },
        "decision": decision,
        "evaluated_at": utc_now(),
    }
    registry.record_evaluation(
        candidate["version"], {**result, "golden_per_class": candidate_golden.get("per_class", {})}
    )
    return result
