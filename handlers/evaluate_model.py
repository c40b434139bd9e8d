"""EvaluateModelFunction: the state machine's Evaluate step and asynchronous evaluation runs.

Event actions (core.retraining.steps.EvaluateModelEvent): "evaluate_candidate" (state machine: register +
compare + decide) and "evaluate_version" (asynchronous run requested by POST /api/v1/model/evaluate).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from core.retraining import evaluate, evaluations
from core.retraining.steps import EvaluateCandidateStep, EvaluateModelEvent, EvaluateVersionRequest
from core.settings import function_settings
from handlers.observability import logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings("models_table", "artifacts_bucket", "data_bucket", "feedback_table")


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EvaluateModelEvent)
def lambda_handler(request: EvaluateCandidateStep | EvaluateVersionRequest, context) -> dict:
    if isinstance(request, EvaluateVersionRequest):
        return evaluations.evaluate_version(
            request.evaluation_id,
            request.version,
            feedback_days=request.feedback_days,
            created_at=request.created_at,
        )
    result = evaluate.evaluate_candidate(request.prepared, request.training)
    metrics.add_metric(
        name="CandidateAccuracy", unit=MetricUnit.NoUnit, value=result.golden.candidate["accuracy"]
    )
    logger.info("candidate evaluated", extra={"decision": result.decision.model_dump()})
    return result.model_dump(mode="json")
