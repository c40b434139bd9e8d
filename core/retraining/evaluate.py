"""The Evaluate step: register the trained candidate, score it and the active model on the same golden
holdout and recent golden feedback, decide on promotion (policies) and add the golden-set part, the
comparison and the decision to the candidate's model card."""

from __future__ import annotations

import logging

from core.registry.versions import ModelRegistry, utc_now
from core.retraining.golden import golden_feedback, read_golden
from core.retraining.policies import PromotionPolicy, promotion_decision
from core.retraining.scoring import Scored, score_records, summarise
from core.retraining.steps import (
    CandidateEvaluation,
    PreparedData,
    PromotionDecision,
    ScoredPair,
    TrainingResult,
)
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)
SCORED_BY = "the Evaluate step (the figures the gate used)"


def evaluate_candidate(
    prepared: PreparedData, training: TrainingResult, settings: Settings | None = None
) -> CandidateEvaluation:
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    data_summary = prepared.data_summary.model_dump()
    candidate = registry.register_training_output(
        training.s3_model_artifacts,
        training_job=training.training_job_name,
        training_distribution=data_summary["categories"],
        data_summary=data_summary,
    )
    pointer = registry.active_pointer()
    golden = read_golden(prepared.golden_uri)
    recent = golden_feedback(settings)
    candidate_model = registry.load_model(candidate["version"])
    candidate_golden = score_records(candidate_model, golden)
    candidate_feedback = score_records(candidate_model, recent)
    active_golden = active_feedback = None
    if pointer:
        active_model = registry.load_model(pointer["active_version"])
        active_golden = score_records(active_model, golden)
        active_feedback = score_records(active_model, recent)
    decision = promotion_decision(
        candidate_golden.metrics,
        active_golden.metrics if active_golden else None,
        candidate_correct=candidate_golden.correct,
        active_correct=active_golden.correct if active_golden else None,
        policy=PromotionPolicy.from_settings(settings),
    )
    result = CandidateEvaluation(
        candidate_version=candidate["version"],
        active_version=pointer["active_version"] if pointer else None,
        active_revision=int(pointer["revision"]) if pointer else 0,
        golden=ScoredPair(
            n=len(golden),
            candidate=summarise(candidate_golden.metrics),
            active=summarise(active_golden.metrics) if active_golden else None,
        ),
        feedback=ScoredPair(
            n=len(recent),
            candidate=summarise(candidate_feedback.metrics),
            active=summarise(active_feedback.metrics) if active_feedback else None,
        ),
        decision=PromotionDecision.model_validate(decision),
        evaluated_at=utc_now(),
    )
    registry.record_evaluation(
        candidate["version"],
        {**result.model_dump(mode="json"), "golden_per_class": candidate_golden.metrics.get("per_class", {})},
    )
    _add_to_card(registry, result, golden, candidate_model, candidate_golden, active_golden,
                 candidate_feedback, active_feedback, data_summary)  # fmt: skip
    return result


def _add_to_card(registry: ModelRegistry, result: CandidateEvaluation, golden: list[dict], candidate_model,
                 candidate_golden: Scored, active_golden: Scored | None, candidate_feedback: Scored,
                 active_feedback: Scored | None, data_summary: dict) -> None:
    """The candidate's card gets the golden-set figures the gate used, the comparison and the decision (the
    pictures the training job drew from its copy of the same golden set stay)."""
    from core.cards import build, sections

    card, _ = registry.card(result.candidate_version)
    golden_part = sections.golden_section(
        golden, candidate_golden.proba, candidate_model.classes, scored_by=SCORED_BY
    )
    comparison = sections.comparison(
        active_version=result.active_version,
        golden_n=len(golden),
        candidate=candidate_golden.metrics,
        active=active_golden.metrics if active_golden else None,
        feedback_n=len(candidate_feedback.correct),
        feedback_candidate=candidate_feedback.metrics,
        feedback_active=active_feedback.metrics if active_feedback else None,
    )
    card = build.with_evaluation(
        card, golden=golden_part, comparison=comparison, decision=result.decision.model_dump(mode="json"),
        decided_at=result.evaluated_at, data_summary=data_summary,
    )  # fmt: skip
    registry.record_card(result.candidate_version, card)
