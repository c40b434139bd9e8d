"""Asynchronous evaluation runs of any version (the admin API's evaluate routes): request, run, read back."""

from __future__ import annotations

import json
import logging
import re
import uuid

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import NotFound
from core.registry.versions import ModelRegistry, utc_now
from core.retraining.golden import golden_feedback, golden_records
from core.retraining.scoring import score
from core.retraining.steps import EvaluateVersionRequest
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

_EVALUATION_ID = re.compile(r"^[0-9a-f]{32}$")


def request_evaluation(
    version: str | None,
    *,
    feedback_days: int | None = None,
    correlation_id: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Record a pending evaluation and hand it to the evaluation function asynchronously."""
    settings = settings or get_settings()
    settings.require("evaluate_function_name", "artifacts_bucket")
    registry = ModelRegistry(settings)
    if version is None:
        pointer = registry.active_pointer()
        if not pointer:
            raise NotFound("no active model to evaluate; pass a version")
        version = pointer["active_version"]
    registry.require(version)
    evaluation_id = uuid.uuid4().hex
    record = {
        "evaluation_id": evaluation_id,
        "version": version,
        "status": "pending",
        "created_at": utc_now(),
    }
    _put_evaluation(settings, record)
    request = EvaluateVersionRequest(
        evaluation_id=evaluation_id,
        version=version,
        feedback_days=feedback_days,
        correlation_id=correlation_id,
        created_at=record["created_at"],
    )
    aws_clients.client("lambda").invoke(
        FunctionName=settings.evaluate_function_name,
        InvocationType="Event",
        Payload=request.model_dump_json().encode(),
    )
    return record


def _evaluation_key(evaluation_id: str) -> str:
    return f"evaluations/{evaluation_id}.json"


def _put_evaluation(settings: Settings, record: dict) -> None:
    aws_clients.client("s3").put_object(
        Bucket=settings.artifacts_bucket,
        Key=_evaluation_key(record["evaluation_id"]),
        Body=json.dumps(record).encode(),
        ContentType="application/json",
    )


def get_evaluation(evaluation_id: str, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    if not _EVALUATION_ID.match(evaluation_id):
        raise NotFound(f"no evaluation {evaluation_id!r}")
    try:
        body = (
            aws_clients.client("s3")
            .get_object(Bucket=settings.artifacts_bucket, Key=_evaluation_key(evaluation_id))["Body"]
            .read()
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise NotFound(f"no evaluation {evaluation_id!r}") from error
        raise
    return json.loads(body)


def evaluate_version(
    evaluation_id: str,
    version: str,
    *,
    feedback_days: int | None = None,
    created_at: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Asynchronous evaluation run: records completed metrics or the failure in the evaluation record, which
    keeps the time it was requested (`created_at`)."""
    settings = settings or get_settings()
    record = {
        "evaluation_id": evaluation_id,
        "version": version,
        "status": "running",
        "created_at": created_at or utc_now(),
    }
    _put_evaluation(settings, record)
    try:
        model = ModelRegistry(settings).load_model(version)
        golden_metrics, _ = score(model, golden_records(settings))
        feedback_metrics, _ = score(model, golden_feedback(settings, feedback_days))
        record.update(status="completed", golden=golden_metrics, feedback=feedback_metrics)
    except Exception as error:  # recorded for the caller; an async retry would fail the same way
        logger.exception("evaluation %s failed", evaluation_id)
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["completed_at"] = utc_now()
    _put_evaluation(settings, record)
    return record
