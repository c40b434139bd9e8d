"""FeedbackConsumerFunction: SQS batch -> DynamoDB, reporting only the failed records for retry.

A record that fails verification is dropped (logged, counted): retrying cannot make it valid, and it must
never reach the table. AWS errors, and a receipt whose key was rotated out (accepted feedback that can no
longer be verified: kept, not dropped), fail just that record; SQS redelivers it and, after maxReceiveCount,
parks it in the dead-letter queue.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from core.errors import InvalidInput
from core.feedback import messages, storage
from core.settings import function_settings
from handlers.observability import logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings("feedback_table", "stats_table", "prediction_secret_arn")

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    attributes = record.message_attributes
    has_id = "correlation_id" in attributes
    logger.set_correlation_id(attributes["correlation_id"].string_value if has_id else record.message_id)
    try:
        message = messages.parse_feedback_message(record.body)
        outcome = storage.store_feedback(message)
    except InvalidInput as error:
        logger.warning(
            "dropping invalid feedback", extra={"message_id": record.message_id, "reason": error.message}
        )
        metrics.add_metric(name="FeedbackRejected", unit=MetricUnit.Count, value=1)
        return "rejected"
    except messages.ReceiptKeyRetired as error:
        logger.error(
            "feedback cannot be verified any more; left for the dead-letter queue",
            extra={"message_id": record.message_id, "reason": error.message},
        )
        raise
    if outcome == "held":  # stored, over its sender's daily limit: counted nowhere
        metrics.add_metric(name="FeedbackHeld", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(
            name="FeedbackStored" if outcome == "stored" else "FeedbackDuplicate",
            unit=MetricUnit.Count,
            value=1,
        )
    logger.info("feedback %s", outcome, extra={"message_id": record.message_id})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
