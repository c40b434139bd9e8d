"""Feedback and prediction counters: totals, live accuracy, served categories (the drift signal)."""

from __future__ import annotations

from collections import Counter

from core import aws_clients
from core.dynamodb_values import from_attribute_values
from core.settings import Settings, get_settings

PREDICTED_PREFIX = "PREDICTED#"

COUNTER_TOTAL = ("TOTAL", "ALL")


def record_predictions(model_version: str, categories: list[str], settings: Settings | None = None) -> None:
    """Count served predictions per category for the drift signal (one UpdateItem per distinct category)."""
    settings = settings or get_settings()
    if not settings.stats_table or not settings.record_prediction_counts:
        return
    dynamodb = aws_clients.client("dynamodb")
    for category, count in Counter(categories).items():
        dynamodb.update_item(
            TableName=settings.stats_table,
            Key={"pk": {"S": PREDICTED_PREFIX + model_version}, "sk": {"S": category}},
            UpdateExpression="ADD #count :n",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":n": {"N": str(count)}},
        )


def _query_partition(stats_table: str, pk: str) -> list[dict]:
    pages = aws_clients.client("dynamodb").get_paginator("query").paginate(
        TableName=stats_table,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": "pk"},
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return [from_attribute_values(item) for page in pages for item in page["Items"]]


def _accuracy(total: int, correct: int) -> dict:
    return {"total": total, "correct": correct, "accuracy": (correct / total) if total else None}


def feedback_stats(active_version: str | None = None, settings: Settings | None = None) -> dict:
    """Totals, live accuracy, per category and per model version, read from counter items (Query only)."""
    settings = settings or get_settings()
    settings.require("stats_table")
    totals = _query_partition(settings.stats_table, COUNTER_TOTAL[0])
    total = next((item for item in totals if item["sk"] == COUNTER_TOTAL[1]), {})
    per_category = {
        item["sk"]: _accuracy(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(settings.stats_table, "CATEGORY")
    }
    per_model = {
        item["sk"]: _accuracy(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(settings.stats_table, "MODEL")
    }
    overall = _accuracy(total.get("total", 0), total.get("correct", 0))
    live = per_model.get(active_version) if active_version else None
    return {
        **overall,
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
