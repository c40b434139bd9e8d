"""The outcome steps (Deploy, Reject, RecordFailure) and manual deploys: the registry change, announced on the
event bus; each step releases the retraining lock its execution holds."""

from __future__ import annotations

import json
import logging

from core import aws_clients
from core.registry.versions import ModelRegistry
from core.retraining.executions import training_job_name
from core.retraining.steps import CandidateEvaluation, Deployed, Failed, Rejected, StepError
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EVENT_SOURCE = "ml-news-pipeline.retraining"


def publish_event(detail_type: str, detail: dict, settings: Settings) -> None:
    response = aws_clients.client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"event {detail_type} was not accepted: {response['Entries']}")


def deploy_candidate(
    evaluation: CandidateEvaluation,
    *,
    job_id: str,
    correlation_id: str | None,
    settings: Settings | None = None,
) -> Deployed:
    """The Deploy step: activate the candidate unless the active model changed since it was evaluated."""
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    deployed = registry.activate(
        evaluation.candidate_version,
        expected_revision=evaluation.active_revision,
        reason=f"promoted by retraining {job_id}",
    )
    outcome = Deployed(**deployed, reasons=evaluation.decision.reasons)
    golden = evaluation.golden.model_dump()
    _announce("ModelPromoted", outcome, job_id, correlation_id, settings, golden=golden)
    registry.release_retraining_lock(job_id)
    return outcome


def reject_candidate(
    evaluation: CandidateEvaluation,
    *,
    job_id: str,
    correlation_id: str | None,
    settings: Settings | None = None,
) -> Rejected:
    """The Reject step: mark the candidate rejected with the gate's reasons."""
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    # A retried Reject step (the state machine's Retry after a Lambda error) finds its own write done
    # and completes, event included, instead of failing the execution on the status condition.
    if registry.require(evaluation.candidate_version)["status"] != "rejected":
        registry.reject(evaluation.candidate_version, evaluation.decision.reasons)
    outcome = Rejected(version=evaluation.candidate_version, reasons=evaluation.decision.reasons)
    _announce("ModelRejected", outcome, job_id, correlation_id, settings)
    registry.release_retraining_lock(job_id)
    return outcome


def record_failure(
    error: StepError, *, job_id: str, correlation_id: str | None, settings: Settings | None = None
) -> Failed:
    """The RecordFailure step: announce what failed (the execution then fails). A candidate the run had
    already registered (Evaluate failed after registering it) is rejected with the failure as its reason,
    instead of staying a candidate forever."""
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    outcome = Failed(error=error.error, cause=error.cause[:2000])
    orphan = registry.version_for_training_job(training_job_name(settings, job_id))
    if orphan and registry.require(orphan)["status"] == "candidate":
        registry.reject(orphan, [f"not evaluated: retraining {job_id} failed with {error.error}"])
        logger.warning("rejected candidate %s: its retraining %s failed", orphan, job_id)
    _announce("RetrainingFailed", outcome, job_id, correlation_id, settings, rejected_candidate=orphan)
    registry.release_retraining_lock(job_id)
    return outcome


def _announce(detail_type: str, outcome, job_id: str, correlation_id: str | None, settings: Settings, **more):
    detail = {"job_id": job_id, "correlation_id": correlation_id, **outcome.model_dump(), **more}
    publish_event(detail_type, detail, settings)


def deploy_version(
    version: str,
    *,
    reason: str,
    allow_rejected: bool = False,
    correlation_id: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Manual promotion or rollback from the admin API, announced like an automatic one."""
    settings = settings or get_settings()
    deployed = ModelRegistry(settings).activate(version, reason=reason, allow_rejected=allow_rejected)
    publish_event("ModelDeployed", {**deployed, "reason": reason, "correlation_id": correlation_id}, settings)
    return deployed
