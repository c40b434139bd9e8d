"""EvaluateModelFunction: the state machine's Evaluate step and asynchronous evaluation runs.

Event actions: "evaluate_candidate" (state machine: register + compare + decide) and "evaluate_version"
(asynchronous run requested by POST /api/v1/model/evaluate).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from core.retraining import evaluate, evaluations
from handlers.http_api import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    action = event.get("action")
    if action == "evaluate_candidate":
        result = evaluate.evaluate_candidate(event)
        metrics.add_metric(
            name="CandidateAccuracy", unit=MetricUnit.NoUnit, value=result["golden"]["candidate"]["accuracy"]
        )
        logger.info("candidate evaluated", extra={"decision": result["decision"]})
        return result
    if action == "evaluate_version":
        return evaluations.evaluate_version(event)
    raise ValueError(f"unknown action {action!r}; expected evaluate_candidate or evaluate_version")
