"""Feedback and prediction counters: totals, live accuracy, served categories (the drift signal), and what
each sender (API key, or all keyless callers together) added today, which bounds how far one sender moves
them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from core import aws_clients
from core.dynamodb_values import from_attribute_values
from core.settings import Settings, get_settings

PREDICTED_PREFIX = "PREDICTED#"
# A sender's predictions counted for the drift signal today. Under PREDICTED# because the predict function's
# role may write only those partitions (template.yaml, CountPredictionsForDriftSignal).
PREDICTED_SENDER_PREFIX = PREDICTED_PREFIX + "SENDER#"
SENDER_PREFIX = "SENDER#"  # a sender's feedback of the day: stored (counted) and held (over the limit)
ANONYMOUS_SENDER = "anonymous"

COUNTER_TOTAL = ("TOTAL", "ALL")
COUNTER_HELD = ("TOTAL", "HELD")  # feedback stored but held back (over its sender's daily limit)


def _today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")


def _within_drift_budget(dynamodb, settings: Settings, sender: str, count: int, day: str) -> bool:
    """Take `count` from the sender's drift budget of the day, if it has room for all of them."""
    limit = settings.drift_per_key_daily_limit
    if count > limit:
        return False
    try:
        dynamodb.update_item(
            TableName=settings.stats_table,
            Key={"pk": {"S": PREDICTED_SENDER_PREFIX + sender}, "sk": {"S": day}},
            UpdateExpression="ADD #count :n",
            ConditionExpression="attribute_not_exists(#count) OR #count <= :room",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":n": {"N": str(count)}, ":room": {"N": str(limit - count)}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def record_predictions(
    model_version: str,
    categories: list[str],
    settings: Settings | None = None,
    sender: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Count served predictions per category for the drift signal (one UpdateItem per distinct category),
    unless the sender's drift budget of the day (DRIFT_PER_KEY_DAILY_LIMIT) is spent. True when counted."""
    settings = settings or get_settings()
    if not settings.stats_table or not settings.record_prediction_counts or not categories:
        return False
    dynamodb = aws_clients.client("dynamodb")
    if not _within_drift_budget(dynamodb, settings, sender or ANONYMOUS_SENDER, len(categories), _today(now)):
        return False
    for category, count in Counter(categories).items():
        dynamodb.update_item(
            TableName=settings.stats_table,
            Key={"pk": {"S": PREDICTED_PREFIX + model_version}, "sk": {"S": category}},
            UpdateExpression="ADD #count :n",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":n": {"N": str(count)}},
        )
    return True


def _query_partition(stats_table: str, pk: str) -> list[dict]:
    pages = (
        aws_clients.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=stats_table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "pk"},
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
    )
    return [from_attribute_values(item) for page in pages for item in page["Items"]]


def accuracy_summary(total: int, correct: int) -> dict:
    """A counter's total, correct and their ratio (None without feedback)."""
    return {"total": total, "correct": correct, "accuracy": (correct / total) if total else None}


def feedback_stats(active_version: str | None = None, settings: Settings | None = None) -> dict:
    """Totals, live accuracy, per category and per model version, read from counter items (Query only).
    Held-back feedback (over a sender's daily limit) is in none of them, only in `held_back`."""
    settings = settings or get_settings()
    settings.require("stats_table")
    totals = {item["sk"]: item for item in _query_partition(settings.stats_table, COUNTER_TOTAL[0])}
    total = totals.get(COUNTER_TOTAL[1], {})
    per_category = {
        item["sk"]: accuracy_summary(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(settings.stats_table, "CATEGORY")
    }
    per_model = {
        item["sk"]: accuracy_summary(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(settings.stats_table, "MODEL")
    }
    overall = accuracy_summary(total.get("total", 0), total.get("correct", 0))
    live = per_model.get(active_version) if active_version else None
    return {
        **overall,
        "held_back": int(totals.get(COUNTER_HELD[1], {}).get("total", 0)),
        "active_model_version": active_version,
        "live_accuracy": live["accuracy"] if live else None,
        "live_total": live["total"] if live else 0,
        "per_category": per_category,
        "per_model_version": per_model,
    }


def prediction_distribution(model_version: str, settings: Settings | None = None) -> dict[str, int]:
    settings = settings or get_settings()
    settings.require("stats_table")
    items = _query_partition(settings.stats_table, PREDICTED_PREFIX + model_version)
    return {item["sk"]: int(item.get("count", 0)) for item in items}
