"""EvaluateModelFunction: the state machine's Evaluate step and asynchronous evaluation runs.

Event actions (core.retraining.steps.EvaluateModelEvent): "evaluate_candidate" (state machine: register +
compare + decide) and "evaluate_version" (asynchronous run requested by POST /api/v1/model/evaluate).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from core.retraining import evaluate, evaluations
from core.retraining.steps import EvaluateCandidateStep, EvaluateModelEvent, EvaluateVersionRequest
from handlers.http_api import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EvaluateModelEvent)
def lambda_handler(request: EvaluateCandidateStep | EvaluateVersionRequest, context) -> dict:
    if isinstance(request, EvaluateVersionRequest):
        return evaluations.evaluate_version(
            request.evaluation_id, request.version, feedback_days=request.feedback_days
        )
    result = evaluate.evaluate_candidate(request.prepared, request.training)
    metrics.add_metric(
        name="CandidateAccuracy", unit=MetricUnit.NoUnit, value=result.golden.candidate["accuracy"]
    )
    logger.info("candidate evaluated", extra={"decision": result.decision.model_dump()})
    return result.model_dump(mode="json")
