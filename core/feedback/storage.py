"""The consumer side of feedback: store each verified message exactly once, counters included."""

from __future__ import annotations

from botocore.exceptions import ClientError

from core import aws_clients
from core.feedback.counters import COUNTER_TOTAL
from core.feedback.prediction_ids import verify_prediction_id
from core.feedback.signing_keys import signing_key
from core.settings import Settings, get_settings

CLAIM_PREFIX = "CLAIM#"


def store_feedback(message: dict, settings: Settings | None = None) -> str:
    """Store one verified feedback message exactly once. Returns "stored" or "duplicate".

    Raises InvalidPredictionId when the message does not verify (it never reaches the table) and lets AWS
    errors propagate so the message is retried and, after maxReceiveCount, parked in the DLQ.
    """
    settings = settings or get_settings()
    settings.require("feedback_table", "stats_table")
    claims = verify_prediction_id(
        signing_key(settings),
        message["prediction_id"],
        message["headline"],
        max_age_days=settings.prediction_id_max_age_days + 14,
    )
    correct = int(message["correct_category"] == claims.category)
    created_at = message["received_at"]
    item = {
        "prediction_id": {"S": message["prediction_id"]},
        "created_at": {"S": created_at},
        "day": {"S": created_at[:10]},
        "headline": {"S": message["headline"]},
        "short_description": {"S": message.get("short_description") or ""},
        "authors": {"S": message.get("authors") or ""},
        "correct_category": {"S": message["correct_category"]},
        "predicted_category": {"S": claims.category},
        "model_version": {"S": claims.model_version},
        "headline_sha256": {"S": claims.headline_sha256},
        "issued_at": {"N": str(claims.issued_at)},
        "correct": {"BOOL": bool(correct)},
        "correlation_id": {"S": message.get("correlation_id") or ""},
    }
    counter_keys = [COUNTER_TOTAL, ("CATEGORY", message["correct_category"]), ("MODEL", claims.model_version)]
    transaction = [
        {
            "Put": {
                "TableName": settings.feedback_table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(prediction_id)",
            }
        },
        {
            "Put": {
                "TableName": settings.stats_table,
                "Item": {
                    "pk": {"S": CLAIM_PREFIX + message["prediction_id"]},
                    "sk": {"S": "CLAIM"},
                    "created_at": {"S": created_at},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ] + [
        {
            "Update": {
                "TableName": settings.stats_table,
                "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                "UpdateExpression": "ADD #total :one, #correct :correct",
                "ExpressionAttributeNames": {"#total": "total", "#correct": "correct"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":correct": {"N": str(correct)}},
            }
        }
        for pk, sk in counter_keys
    ]
    try:
        aws_clients.client("dynamodb").transact_write_items(TransactItems=transaction)
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or []
        if error.response["Error"]["Code"] == "TransactionCanceledException" and any(
            reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
        ):
            return "duplicate"
        raise
    return "stored"
