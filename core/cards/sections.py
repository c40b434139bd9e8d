"""The parts of a model card, computed from numbers (numpy only: the Evaluate Lambda uses them too)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from core.cards.card import (
    ClassChange,
    ClassMetrics,
    Comparison,
    Confusion,
    ConfusionExample,
    DataSummary,
    GoldenSection,
    Latency,
    Metrics,
    ReliabilityBin,
    ServingCost,
    TopConfusion,
)

TOP_CONFUSIONS = 10
EXAMPLES_PER_CONFUSION = 3
LATENCY_SAMPLE = 200  # single-headline predictions timed for the serving cost
VALIDATION_KEYS = (
    "n", "accuracy", "macro_f1", "top3_accuracy", "ece", "headline_only_accuracy", "headline_only_macro_f1",
    "n_train", "n_validation", "temperature", "training_seconds",
)  # fmt: skip


def metrics(report: Mapping) -> Metrics:
    """The summary of a core.model.evaluation report (or of a step's MetricSummary)."""
    return Metrics.model_validate({key: report.get(key) for key in Metrics.model_fields} | {"n": report["n"]})


def validation(metrics_json: Mapping) -> dict[str, float | int | None] | None:
    """What training measured on its held-out calibration slice (metrics.json), without the internals."""
    picked = {key: metrics_json[key] for key in VALIDATION_KEYS if key in metrics_json}
    return picked or None


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int) -> list[ReliabilityBin]:
    """Equal-width bins of the top-class confidence, as core.model.evaluation's ECE bins them (a confidence
    on an edge goes to the lower bin), with each bin's count, mean confidence and accuracy."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    confidence_sum = np.bincount(which, weights=confidence, minlength=bins)
    correct_sum = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    return [
        ReliabilityBin(
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
            count=int(count[i]),
            mean_confidence=float(confidence_sum[i] / count[i]) if count[i] else None,
            accuracy=float(correct_sum[i] / count[i]) if count[i] else None,
        )
        for i in range(bins)
    ]


def golden_section(records: Sequence[Mapping], proba: np.ndarray, classes: Sequence[str], *,
                   scored_by: str) -> GoldenSection:
    """The golden-set part of a card from the model's probabilities on the golden records: the metrics of
    core.model.evaluation, the whole confusion matrix, the reliability bins and the most frequent confusions
    with the headlines the model was most sure of."""
    from core.model.evaluation import ECE_BINS, evaluate
    from core.model.manifest import data_fingerprint

    classes = [str(c) for c in classes]
    truth = [str(record["category"]) for record in records]
    report = evaluate(truth, proba, classes, top_confusions=TOP_CONFUSIONS)
    proba = np.asarray(proba, dtype=np.float64)
    top = np.argmax(proba, axis=1) if len(truth) else np.zeros(0, dtype=np.int64)
    predicted = [classes[i] for i in top]
    confidence = proba[np.arange(len(truth)), top] if len(truth) else np.zeros(0)
    labels = sorted(set(truth) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    cells = np.array([index[t] * k + index[p] for t, p in zip(truth, predicted, strict=True)], dtype=np.int64)
    matrix = np.bincount(cells, minlength=k * k).reshape(k, k) if k else np.zeros((0, 0), dtype=np.int64)
    correct = np.array([t == p for t, p in zip(truth, predicted, strict=True)], dtype=bool)

    confusions = []
    for pair in report["confusion_pairs"]:
        rows = [i for i, (t, p) in enumerate(zip(truth, predicted, strict=True))
                if (t, p) == (pair["true"], pair["predicted"])]
        rows.sort(key=lambda i: -confidence[i])
        examples = [
            ConfusionExample(headline=str(records[i].get("headline") or ""), confidence=float(confidence[i]))
            for i in rows[:EXAMPLES_PER_CONFUSION]
        ]
        confusions.append(TopConfusion(**pair, examples=examples))
    return GoldenSection(
        **metrics(report).model_dump(),
        scored_by=scored_by,
        data_fingerprint=data_fingerprint(records),
        per_class={label: ClassMetrics(**row) for label, row in report["per_class"].items()},
        confusion=Confusion(labels=labels, matrix=matrix.tolist()),
        reliability=reliability_bins(confidence, correct, ECE_BINS),
        top_confusions=confusions,
    )


def data_from_manifest(manifest: Mapping) -> DataSummary | None:
    """What a model directory's manifest says of its training data (no sources: it does not record them)."""
    data = manifest.get("data")
    if not isinstance(data, Mapping):
        return None
    return DataSummary(
        n_records=data.get("n_records"),
        categories=dict(data.get("categories") or {}),
        fingerprint=data.get("fingerprint"),
    )


def with_prepared_data(data: DataSummary | None, summary: Mapping) -> DataSummary:
    """`data` completed with what PrepareData knows (core.retraining.steps.DataSummary): where the records
    came from and how many of them are verified feedback."""
    data = data or DataSummary()
    n_train = int(summary.get("n_train") or 0)
    n_feedback = int(summary.get("n_feedback_train") or 0)
    version = summary.get("base_dataset_version")
    sources = [f"{summary['base_dataset']}" + (f" (version {version})" if version else "")]
    sources.append(f"verified user feedback: {n_feedback} records trained on")
    return data.model_copy(
        update={
            "sources": sources,
            "n_records": data.n_records if data.n_records is not None else n_train,
            "categories": data.categories or dict(summary.get("categories") or {}),
            "n_feedback": n_feedback,
            "feedback_share": n_feedback / n_train if n_train else None,
            "n_golden": summary.get("n_golden"),
        }
    )


def bundle_files(bundle: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in sorted(bundle.iterdir()) if path.is_file()}


def timed_load(path: Path):
    """The serving model at `path` and how long loading it took (seconds)."""
    from core.model.bundle import ServingModel

    start = time.perf_counter()
    model = ServingModel.load(path)
    return model, time.perf_counter() - start


def serving_cost(model, bundle: Path, items: Sequence, *, measured_in: str,
                 load_seconds: float | None = None) -> ServingCost:
    """Bundle size and, when there are `items`, the latency of predicting one headline at a time as the
    predict route does (top 3 and the explanation), after one warm-up call."""
    latency = None
    sample = list(items)[:LATENCY_SAMPLE]
    if sample:
        model.predict([sample[0]], top_k=3)
        seconds = []
        for item in sample:
            start = time.perf_counter()
            model.predict([item], top_k=3)
            seconds.append(time.perf_counter() - start)
        millis = np.array(seconds) * 1000.0
        latency = Latency(
            n=len(sample),
            p50_ms=float(np.percentile(millis, 50)),
            p95_ms=float(np.percentile(millis, 95)),
            max_ms=float(millis.max()),
        )
    files = bundle_files(bundle)
    return ServingCost(
        bundle_bytes=sum(files.values()),
        bundle_files=files,
        load_seconds=load_seconds,
        latency=latency,
        measured_in=measured_in,
    )


def comparison(*, active_version: str | None, golden_n: int, candidate: Mapping, active: Mapping | None,
               feedback_n: int = 0, feedback_candidate: Mapping | None = None,
               feedback_active: Mapping | None = None) -> Comparison:
    """The candidate against the active model from their core.model.evaluation reports on the same records;
    per-class F1 changes, largest drop first."""
    changes = []
    if active:
        before, after = active.get("per_class") or {}, candidate.get("per_class") or {}
        changes = sorted(
            (
                ClassChange(
                    category=category,
                    candidate_f1=after[category]["f1"],
                    active_f1=before[category]["f1"],
                    change=after[category]["f1"] - before[category]["f1"],
                )
                for category in sorted(set(before) & set(after))
            ),
            key=lambda change: (change.change, change.category),
        )

    def summary(report: Mapping | None) -> Metrics | None:
        return metrics(report) if report and report.get("n") else None

    return Comparison(
        active_version=active_version,
        golden_n=golden_n,
        candidate=metrics(candidate),
        active=summary(active),
        feedback_n=feedback_n,
        feedback_candidate=summary(feedback_candidate),
        feedback_active=summary(feedback_active),
        class_changes=changes,
    )
