"""The status of one retraining run (the admin API's train status route): its execution, current step,
training job and outcome."""

from __future__ import annotations

import json
import logging
import re

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import InvalidInput, NotFound
from core.retraining.executions import iso_time, settings_with_state_machine, training_job_name
from core.retraining.steps import RetrainingState
from core.settings import Settings

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def execution_arn(settings: Settings, name: str) -> str:
    prefix, _, machine = settings.state_machine_arn.rpartition(":stateMachine:")
    if not machine:
        raise InvalidInput("STATE_MACHINE_ARN is not a state machine ARN")
    return f"{prefix}:execution:{machine}:{name}"


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
    output = json.loads(described.get("output") or "null")
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
    state = RetrainingState.model_validate(output) if output else None  # only a succeeded run has output
    outcome = state.outcome.model_dump() if state and state.outcome else None
    return {
        "job_id": job_id,
        "status": described["status"],
        "current_step": current_step,
        "started_at": iso_time(described.get("startDate")),
        "stopped_at": iso_time(described.get("stopDate")),
        "training_job": training_job,
        "outcome": outcome,
        "error": error,
    }
