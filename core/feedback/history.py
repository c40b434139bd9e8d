"""Stored feedback read back as records: the full export for training, the recent days for evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from core import aws_clients
from core.dynamodb_values import from_dynamodb
from core.settings import Settings, get_settings

BY_DAY_INDEX = "by_day"


def _as_record(item: dict) -> dict[str, Any]:
    item = from_dynamodb(item)
    return {
        "headline": item["headline"],
        "short_description": item.get("short_description", ""),
        "authors": item.get("authors", ""),
        "category": item["correct_category"],
        "prediction_id": item["prediction_id"],
        "created_at": item["created_at"],
        "model_version": item.get("model_version"),
        "predicted_category": item.get("predicted_category"),
    }


def iter_all_feedback(settings: Settings | None = None):
    """Every stored (hence verified) feedback as a record dict; a full export for training data."""
    settings = settings or get_settings()
    settings.require("feedback_table")
    table = aws_clients.resource("dynamodb").Table(settings.feedback_table)
    kwargs: dict = {}
    while True:
        page = table.scan(**kwargs)
        for item in page["Items"]:
            yield _as_record(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def recent_feedback(days: int, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Feedback received in the last `days` days, read through the by_day index (one Query per day)."""
    settings = settings or get_settings()
    settings.require("feedback_table")
    table = aws_clients.resource("dynamodb").Table(settings.feedback_table)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    records = []
    for offset in range(days + 1):
        day = (now - timedelta(days=offset)).strftime("%Y-%m-%d")
        kwargs = {"IndexName": BY_DAY_INDEX, "KeyConditionExpression": Key("day").eq(day)}
        while True:
            page = table.query(**kwargs)
            records.extend(_as_record(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return records
