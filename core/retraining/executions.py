"""Starting retraining executions (one at a time) and listing them; the names of executions' training jobs."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import Conflict
from core.registry.versions import ModelRegistry
from core.retraining.steps import ExecutionInput
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def current_time() -> datetime:
    return datetime.now(UTC)


def parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def iso_time(value) -> str | None:
    """A Step Functions time (datetime or ISO string) as ISO 8601 to the second, UTC when it had no zone."""
    parsed = parse_time(value)
    return parsed.isoformat(timespec="seconds") if parsed else None


def settings_with_state_machine(settings: Settings | None) -> Settings:
    """Settings of a caller that starts or reads retraining executions (fails fast without the ARN)."""
    settings = settings or get_settings()
    settings.require("state_machine_arn")
    return settings


def training_job_name(settings: Settings, execution_name: str) -> str:
    """The SageMaker training job of an execution: PrepareData names it, the status route looks it up.
    SageMaker allows letters, digits and inner hyphens, at most 63 characters."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", f"{settings.training_job_prefix}-{execution_name}")
    return name[:63].rstrip("-")


def list_executions(settings: Settings, status: str | None = None, limit: int = 100) -> list[dict]:
    kwargs = {"stateMachineArn": settings.state_machine_arn, "maxResults": limit}
    if status:
        kwargs["statusFilter"] = status
    executions = aws_clients.client("stepfunctions").list_executions(**kwargs)["executions"]
    return sorted(executions, key=lambda item: parse_time(item["startDate"]), reverse=True)


def start_retraining(
    *,
    trigger: str,
    reasons: list[str],
    include_feedback: bool = True,
    hyperparameters: dict | None = None,
    correlation_id: str | None = None,
    name: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """Start one retraining execution; Conflict if one is running or `name` was already used."""
    settings = settings_with_state_machine(settings)
    now = now or current_time()
    running = list_executions(settings, status="RUNNING")
    if running:
        raise Conflict(
            f"retraining execution {running[0]['name']} is still running",
            details={"job_id": running[0]["name"]},
        )
    name = name or f"train-{now:%Y%m%d%H%M%S}"
    execution_input = ExecutionInput(
        correlation_id=correlation_id or str(uuid.uuid4()),
        trigger=trigger,
        reasons=reasons,
        include_feedback=include_feedback,
        hyperparameters=hyperparameters or {},
        requested_at=now.isoformat(timespec="seconds"),
    )
    # The RUNNING check above is a read; the lock makes "one at a time" hold when two starters race.
    registry = ModelRegistry(settings)
    registry.acquire_retraining_lock(name, settings.retraining_lock_seconds, now)
    try:
        response = aws_clients.client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn, name=name, input=execution_input.model_dump_json()
        )
    except ClientError as error:
        registry.release_retraining_lock(name)
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            raise Conflict(f"retraining execution {name} already exists", details={"job_id": name}) from error
        raise
    return {
        "job_id": name,
        "execution_arn": response["executionArn"],
        "status": "RUNNING",
        "input": execution_input.model_dump(mode="json"),
    }
