"""RecordOutcomeFunction (state machine step): deploy, reject or record a failure; announce it on the bus."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from core.retraining import outcome as outcomes
from core.retraining.steps import DeployStep, OutcomeStep, RecordFailureStep, RejectStep
from core.settings import function_settings
from handlers.observability import logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings("models_table", "artifacts_bucket", "event_bus_name")


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=OutcomeStep)
def lambda_handler(step: DeployStep | RejectStep | RecordFailureStep, context) -> dict:
    run = {"job_id": step.execution_name, "correlation_id": step.correlation_id}
    match step:
        case DeployStep():
            outcome = outcomes.deploy_candidate(step.evaluation, **run)
        case RejectStep():
            outcome = outcomes.reject_candidate(step.evaluation, **run)
        case RecordFailureStep():
            outcome = outcomes.record_failure(step.error, **run)
    metrics.add_metric(name=f"Retraining{outcome.status.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("retraining outcome", extra=outcome.model_dump())
    return outcome.model_dump(mode="json")
