"""Starting retraining executions and reporting their status (the admin API's train routes)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import Conflict, InvalidInput, NotFound
from core.registry.versions import ModelRegistry
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def current_time() -> datetime:
    return datetime.now(UTC)


def parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


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


def execution_arn(settings: Settings, name: str) -> str:
    prefix, _, machine = settings.state_machine_arn.rpartition(":stateMachine:")
    if not machine:
        raise InvalidInput("STATE_MACHINE_ARN is not a state machine ARN")
    return f"{prefix}:execution:{machine}:{name}"


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
    execution_input = {
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "trigger": trigger,
        "reasons": reasons,
        "include_feedback": bool(include_feedback),
        "hyperparameters": {key: value for key, value in (hyperparameters or {}).items()},
        "requested_at": now.isoformat(timespec="seconds"),
    }
    # The RUNNING check above is a read; the lock makes "one at a time" hold when two starters race.
    registry = ModelRegistry(settings)
    registry.acquire_retraining_lock(name, settings.retraining_lock_seconds, now)
    try:
        response = aws_clients.client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(execution_input)
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
        "input": execution_input,
    }


def execution_status(job_id: str, settings: Settings | None = None) -> dict:
    settings = settings_with_state_machine(settings)
    if not _JOB_ID.match(job_id):
        raise NotFound(f"no retraining job {job_id!r}")
    sfn = aws_clients.client("stepfunctions")
    arn = execution_arn(settings, job_id)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound"):
            raise NotFound(f"no retraining job {job_id!r}") from error
        raise
    output = json.loads(described.get("output") or "null") or {}
    current_step = None
    try:
        history = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
        entered = [event for event in history if event["type"].endswith("StateEntered")]
        if entered:
            current_step = max(entered, key=lambda event: event["id"])["stateEnteredEventDetails"]["name"]
    except ClientError as error:
        logger.warning("no history for %s: %s", job_id, error)
    training_job = None
    job_name = training_job_name(settings, job_id)
    try:
        job = aws_clients.client("sagemaker").describe_training_job(TrainingJobName=job_name)
        training_job = {
            "name": job_name,
            "status": job.get("TrainingJobStatus"),
            "secondary_status": job.get("SecondaryStatus"),
            "failure_reason": job.get("FailureReason"),
            "billable_seconds": job.get("BillableTimeInSeconds"),
        }
    except ClientError:
        training_job = None  # not created yet (or prepare failed)
    error = None
    if described["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
        error = {"error": described.get("error"), "cause": described.get("cause")}
    outcome = output.get("outcome") if isinstance(output, dict) else None
    return {
        "job_id": job_id,
        "status": described["status"],
        "current_step": current_step,
        "started_at": _iso(described.get("startDate")),
        "stopped_at": _iso(described.get("stopDate")),
        "training_job": training_job,
        "outcome": outcome,
        "error": error,
    }


def _iso(value) -> str | None:
    parsed = parse_time(value)
    return parsed.isoformat(timespec="seconds") if parsed else None
