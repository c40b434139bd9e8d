"""PrepareDataFunction (state machine step): training channel, golden holdout and sourcedir for training."""

from __future__ import annotations

from core.retraining import prepare
from handlers.http_api import logger, tracer


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    prepared = prepare.prepare_data(event)
    logger.info(
        "training data prepared",
        extra={"training_job": prepared["training_job_name"], "data_summary": prepared["data_summary"]},
    )
    return prepared
