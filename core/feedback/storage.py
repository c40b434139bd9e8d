"""The consumer side of feedback: store each verified message exactly once, counters included, and bound how
much one sender (API key) can move training data and the retraining signals.

One TransactWriteItems per feedback puts the feedback item, puts a claim item keyed by the prediction id (a
second feedback for the same prediction is refused), bumps the stats counters and the sender's count of the
day, under the condition that the sender is below FEEDBACK_PER_KEY_DAILY_LIMIT. A sender over the limit gets
its feedback stored all the same (accepted data is never lost) but "held back": not counted, not exported
for training or evaluation (core.feedback.history). A redelivered message fails the conditions as a whole, so
nothing is counted twice.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from core import aws_clients
from core.feedback.counters import COUNTER_HELD, COUNTER_TOTAL, SENDER_PREFIX
from core.feedback.messages import check_receipt, receipt_key_id, sender_of
from core.feedback.prediction_ids import signing_key_id, verify_prediction_id
from core.feedback.signing_keys import signing_keyring
from core.settings import Settings, get_settings

CLAIM_PREFIX = "CLAIM#"
_ITEM, _CLAIM, _SENDER = 0, 1, 2  # positions in the transaction (CancellationReasons follow them)


def _verified_facts(message: dict, settings: Settings) -> dict:
    """What the prediction said, from a message whose receipt verifies (or, for a message queued before
    receipts existed, whose prediction id verifies). Raises InvalidInput, or ReceiptKeyRetired."""
    kid = receipt_key_id(message)
    if kid is not None:
        check_receipt(message, signing_keyring(settings, wanted_key_id=kid))
        return {
            "category": str(message["predicted_category"]),
            "model_version": str(message["model_version"]),
            "headline_sha256": str(message["headline_sha256"]),
            "issued_at": int(message["issued_at"]),
        }
    claims = verify_prediction_id(
        signing_keyring(settings, wanted_key_id=signing_key_id(message["prediction_id"])),
        message["prediction_id"],
        message["headline"],
        max_age_days=settings.prediction_id_max_age_days + 14,  # it may have waited in the queues
    )
    return {
        "category": claims.category,
        "model_version": claims.model_version,
        "headline_sha256": claims.headline_sha256,
        "issued_at": claims.issued_at,
    }


def _failed_conditions(error: ClientError) -> set[int] | None:
    """Positions whose condition failed in a cancelled transaction; None for any other error."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    reasons = error.response.get("CancellationReasons") or []
    failed = {index for index, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed"}
    return failed or None


def _counter(table: str, pk: str, sk: str, values: dict[str, int]) -> dict:
    names = {f"#a{index}": name for index, name in enumerate(values)}
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "ADD " + ", ".join(f"#a{index} :v{index}" for index in range(len(values))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                f":v{index}": {"N": str(v)} for index, v in enumerate(values.values())
            },
        }
    }


def store_feedback(message: dict, settings: Settings | None = None) -> str:
    """Store one verified feedback message exactly once. Returns "stored", "held" (stored, over its sender's
    daily limit) or "duplicate".

    Raises InvalidInput when the message does not verify (it never reaches the table), ReceiptKeyRetired when
    it cannot be verified any more, and lets AWS errors propagate: either way the message is retried and,
    after maxReceiveCount, parked in the DLQ.
    """
    settings = settings or get_settings()
    settings.require("feedback_table", "stats_table")
    facts = _verified_facts(message, settings)
    correct = int(message["correct_category"] == facts["category"])
    created_at = message["received_at"]
    sender = sender_of(message)
    item = {
        "prediction_id": {"S": message["prediction_id"]},
        "created_at": {"S": created_at},
        "day": {"S": created_at[:10]},
        "headline": {"S": message["headline"]},
        "short_description": {"S": message.get("short_description") or ""},
        "authors": {"S": message.get("authors") or ""},
        "correct_category": {"S": message["correct_category"]},
        "predicted_category": {"S": facts["category"]},
        "model_version": {"S": facts["model_version"]},
        "headline_sha256": {"S": facts["headline_sha256"]},
        "issued_at": {"N": str(facts["issued_at"])},
        "correct": {"BOOL": bool(correct)},
        "correlation_id": {"S": message.get("correlation_id") or ""},
        "api_key_id": {"S": message.get("api_key_id") or ""},
        "counted": {"BOOL": True},
    }
    first_writes = [
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
    ]
    within_limit = _counter(settings.stats_table, SENDER_PREFIX + sender, created_at[:10], {"stored": 1})
    within_limit["Update"]["ConditionExpression"] = "attribute_not_exists(#a0) OR #a0 < :limit"
    within_limit["Update"]["ExpressionAttributeValues"][":limit"] = {
        "N": str(settings.feedback_per_key_daily_limit)
    }
    counters = [
        _counter(settings.stats_table, pk, sk, {"total": 1, "correct": correct})
        for pk, sk in (
            COUNTER_TOTAL,
            ("CATEGORY", message["correct_category"]),
            ("MODEL", facts["model_version"]),
        )
    ]
    dynamodb = aws_clients.client("dynamodb")
    try:
        dynamodb.transact_write_items(TransactItems=[*first_writes, within_limit, *counters])
        return "stored"
    except ClientError as error:
        failed = _failed_conditions(error)
        if failed is None:
            raise
        if failed & {_ITEM, _CLAIM}:
            return "duplicate"
    # Over the sender's limit for the day: kept, not counted.
    item["counted"] = {"BOOL": False}
    held = [
        _counter(settings.stats_table, SENDER_PREFIX + sender, created_at[:10], {"held": 1}),
        _counter(settings.stats_table, *COUNTER_HELD, {"total": 1}),
    ]
    try:
        dynamodb.transact_write_items(TransactItems=[*first_writes, *held])
    except ClientError as error:
        failed = _failed_conditions(error)
        if failed is None or not failed & {_ITEM, _CLAIM}:
            raise
        return "duplicate"
    return "held"
