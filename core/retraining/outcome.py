"""The outcome steps: deploy, reject or record a failure, announced on the event bus; manual deploys."""

from __future__ import annotations

import json
import logging

from core import aws_clients
from core.errors import InvalidInput
from core.registry.versions import ModelRegistry
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


def record_outcome(event: dict, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    action = event.get("action")
    common = {"job_id": event.get("execution_name"), "correlation_id": event.get("correlation_id")}
    registry = ModelRegistry(settings)
    if action == "deploy":
        evaluation = event["evaluation"]
        deployed = registry.activate(
            evaluation["candidate_version"],
            expected_revision=evaluation["active_revision"],
            reason=f"promoted by retraining {common['job_id']}",
        )
        outcome = {"status": "deployed", **deployed, "reasons": evaluation["decision"]["reasons"]}
        publish_event("ModelPromoted", {**common, **outcome, "golden": evaluation.get("golden")}, settings)
    elif action == "reject":
        evaluation = event["evaluation"]
        # A retried Reject step (the state machine's Retry after a Lambda error) finds its own write done
        # and completes, event included, instead of failing the execution on the status condition.
        if registry.require(evaluation["candidate_version"])["status"] != "rejected":
            registry.reject(evaluation["candidate_version"], evaluation["decision"]["reasons"])
        outcome = {
            "status": "rejected",
            "version": evaluation["candidate_version"],
            "reasons": evaluation["decision"]["reasons"],
        }
        publish_event("ModelRejected", {**common, **outcome}, settings)
    elif action == "failure":
        error = event.get("error") or {}
        outcome = {
            "status": "failed",
            "error": str(error.get("Error", "unknown")),
            "cause": str(error.get("Cause", ""))[:2000],
        }
        publish_event("RetrainingFailed", {**common, **outcome}, settings)
    else:
        raise InvalidInput(f"unknown outcome action {action!r}")
    if common["job_id"]:
        registry.release_retraining_lock(common["job_id"])
    return outcome


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
