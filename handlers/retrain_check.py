"""RetrainCheckFunction: target of the EventBridge schedule; decides and maybe starts retraining."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from core.retraining import check
from core.retraining.steps import ScheduledCheck
from core.settings import function_settings
from handlers.observability import logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings("models_table", "artifacts_bucket", "stats_table", "state_machine_arn")


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScheduledCheck)
def lambda_handler(event: ScheduledCheck, context) -> dict:
    # The schedule's Input (template) is {"trigger": "schedule"}; the request id correlates the run.
    correlation_id = logger.get_correlation_id() or getattr(context, "aws_request_id", None)
    result = check.run_retrain_check(trigger=event.trigger, correlation_id=correlation_id, force=event.force)
    signals = result["signals"]
    if signals.get("live_accuracy") is not None:
        metrics.add_metric(name="ModelAccuracy", unit=MetricUnit.NoUnit, value=signals["live_accuracy"])
        # a property, not a dimension: the dashboard groups by it in Logs Insights at no metric cost
        metrics.add_metadata(key="model_version", value=signals.get("active_version") or "")
    if signals.get("drift_tvd") is not None:
        metrics.add_metric(name="PredictionDrift", unit=MetricUnit.NoUnit, value=signals["drift_tvd"])
    metrics.add_metric(name="RetrainStarted", unit=MetricUnit.Count, value=1 if result["execution"] else 0)
    logger.info("retrain check", extra={"retrain": result["retrain"], "reasons": result["reasons"]})
    return result
