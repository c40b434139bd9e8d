"""Assembling a card: from a model directory (the training job, `mlnews card`, registration), from a registry
item that has none stored (versions registered before cards existed), and the Evaluate step's additions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.cards import sections
from core.cards.card import Decision, ModelCard, Source


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def card_for_model_dir(
    model_dir: Path,
    *,
    source: Source = "model directory",
    measured_in: str,
    golden_records: Sequence[Mapping] | None = None,
    scored_by: str = "",
    model=None,
    load_seconds: float | None = None,
) -> ModelCard:
    """What a model directory tells: its manifest and validation figures, the bundle's size and, given golden
    records, the golden-set part and the latency measured on their headlines. `model` (with its
    `load_seconds`) is the directory's serving model when the caller has loaded it already."""
    from core.model.bundle_format import bundle_dir
    from core.registry.archives import read_manifest, read_metrics

    if model is None:
        model, load_seconds = sections.timed_load(model_dir)
    manifest = read_manifest(model_dir)
    golden = None
    if golden_records:
        proba = model.predict_proba(list(golden_records))
        golden = sections.golden_section(golden_records, proba, model.classes, scored_by=scored_by)
    return ModelCard(
        source=source,
        bundle_version=str(model.version),
        sha256=model.sha256,
        created_at=manifest.get("created_at"),
        updated_at=now(),
        classes=list(model.classes),
        text_fields=list(manifest.get("text_fields") or model.text_fields),
        hyperparameters=manifest.get("hyperparameters") or {},
        data=sections.data_from_manifest(manifest),
        validation=sections.validation(read_metrics(model_dir)),
        golden=golden,
        serving_cost=sections.serving_cost(
            model, bundle_dir(model_dir), golden_records or [], measured_in=measured_in,
            load_seconds=load_seconds,
        ),
    )


def card_from_registry_item(item: Mapping) -> ModelCard:
    """A card from what the registry item alone knows (no card was stored for this version)."""
    from core.cards.card import DataSummary

    data = DataSummary(categories=dict(item.get("training_distribution") or {}))
    summary = item.get("data_summary") or {}
    if summary.get("base_dataset"):
        data = sections.with_prepared_data(data, summary)
    evaluation = item.get("evaluation") or {}
    decision = evaluation.get("decision")
    card = ModelCard(
        version=item["version"],
        bundle_version=item.get("bundle_version"),
        sha256=item.get("sha256"),
        source="training" if item.get("source") == "training" else "manual",
        training_job=item.get("training_job") or None,
        created_at=item.get("created_at"),
        classes=list(item.get("classes") or []),
        hyperparameters=item.get("hyperparameters") or {},
        data=data,
        validation=sections.validation(item.get("metrics") or {}),
        decision=Decision(**decision, decided_at=evaluation.get("evaluated_at")) if decision else None,
    )
    golden = evaluation.get("golden") or {}
    if golden.get("candidate"):
        card.comparison = sections.comparison(
            active_version=evaluation.get("active_version"),
            golden_n=int(golden.get("n") or 0),
            candidate={**golden["candidate"], "per_class": evaluation.get("golden_per_class") or {}},
            active=golden.get("active"),
        )
    return card


def with_evaluation(card: ModelCard, *, golden, comparison, decision: Mapping, decided_at: str,
                    data_summary: Mapping) -> ModelCard:
    """The Evaluate step's part: where the data came from, the golden-set figures the gate used, the
    comparison with the active model and the gate's decision."""
    return card.model_copy(
        update={
            "data": sections.with_prepared_data(card.data, data_summary),
            "golden": golden,
            "comparison": comparison,
            "decision": Decision(**decision, decided_at=decided_at),
            "updated_at": now(),
        }
    )
