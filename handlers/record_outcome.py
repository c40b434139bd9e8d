"""RecordOutcomeFunction (state machine step): deploy, reject or record a failure; announce it on the bus."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from core.retraining import outcome as outcomes
from handlers.http_api import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    outcome = outcomes.record_outcome(event)
    metrics.add_metric(name=f"Retraining{outcome['status'].capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("retraining outcome", extra=outcome)
    return outcome
