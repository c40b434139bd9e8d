"""The Evaluate step: register the trained candidate, score it and the active model on the same golden
holdout and recent golden feedback, and decide on promotion (policies)."""

from __future__ import annotations

import logging

from core.registry.versions import ModelRegistry, utc_now
from core.retraining.golden import golden_feedback, read_golden
from core.retraining.policies import PromotionPolicy, promotion_decision
from core.retraining.scoring import score, summarise
from core.retraining.steps import (
    CandidateEvaluation,
    PreparedData,
    PromotionDecision,
    ScoredPair,
    TrainingResult,
)
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


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
    result = CandidateEvaluation(
        candidate_version=candidate["version"],
        active_version=pointer["active_version"] if pointer else None,
        active_revision=int(pointer["revision"]) if pointer else 0,
        golden=ScoredPair(
            n=len(golden),
            candidate=summarise(candidate_golden),
            active=summarise(active_golden) if active_golden else None,
        ),
        feedback=ScoredPair(
            n=len(recent),
            candidate=summarise(candidate_feedback),
            active=summarise(active_feedback) if active_feedback else None,
        ),
        decision=PromotionDecision.model_validate(decision),
        evaluated_at=utc_now(),
    )
    registry.record_evaluation(
        candidate["version"],
        {**result.model_dump(mode="json"), "golden_per_class": candidate_golden.get("per_class", {})},
    )
    return result
