"""PrepareDataFunction (state machine step): training channel, golden holdout and sourcedir for training."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser import event_parser

from core.retraining import prepare
from core.retraining.steps import PrepareDataStep
from core.settings import function_settings
from handlers.observability import logger, tracer

# What this function cannot work without, checked at its cold start.
function_settings("data_bucket", "artifacts_bucket", "feedback_table", "stats_table")


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PrepareDataStep)
def lambda_handler(step: PrepareDataStep, context) -> dict:
    prepared = prepare.prepare_data(
        step.execution_name, include_feedback=step.include_feedback, hyperparameters=step.hyperparameters
    )
    logger.info(
        "training data prepared",
        extra={
            "training_job": prepared.training_job_name,
            "data_summary": prepared.data_summary.model_dump(),
        },
    )
    return prepared.model_dump(mode="json")
