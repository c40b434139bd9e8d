"""Stored feedback read back as records: the full export for training, the recent days for evaluation (both
without held-back feedback)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core import aws_clients
from core.dynamodb_values import from_attribute_values
from core.settings import Settings, get_settings

BY_DAY_INDEX = "by_day"


def _as_record(item: dict) -> dict[str, Any]:
    """A feedback item, as the low-level client gives it, as a training record."""
    item = from_attribute_values(item)
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


def _counted(item: dict) -> bool:
    """Held-back feedback (over its sender's daily limit, core.feedback.storage) is kept but never used.
    Items stored before the limit existed have no flag and count."""
    return item.get("counted", {}).get("BOOL", True)


def iter_all_feedback(settings: Settings | None = None):
    """Every stored (hence verified) feedback that counts, as a record dict; a full export for training."""
    settings = settings or get_settings()
    settings.require("feedback_table")
    pages = aws_clients.client("dynamodb").get_paginator("scan").paginate(TableName=settings.feedback_table)
    for page in pages:
        yield from (_as_record(item) for item in page["Items"] if _counted(item))


def counted_items_on_day(day: str, settings: Settings, attributes: Sequence[str] = ()) -> Iterator[dict]:
    """The counted feedback items stored on `day` (YYYY-MM-DD), read through the by_day index, as the
    low-level client gives them; with `attributes`, only those are returned."""
    names = {"#day": "day"}
    projection = {}
    if attributes:
        wanted = {f"#a{i}": name for i, name in enumerate(dict.fromkeys([*attributes, "counted"]))}
        names.update(wanted)
        projection["ProjectionExpression"] = ", ".join(wanted)
    pages = aws_clients.client("dynamodb").get_paginator("query").paginate(
        TableName=settings.feedback_table,
        IndexName=BY_DAY_INDEX,
        KeyConditionExpression="#day = :day",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":day": {"S": day}},
        **projection,
    )
    for page in pages:
        yield from (item for item in page["Items"] if _counted(item))


def recent_feedback(days: int, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Feedback received in the last `days` days, read through the by_day index (one Query per day)."""
    settings = settings or get_settings()
    settings.require("feedback_table")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return [
        _as_record(item)
        for offset in range(days + 1)
        for item in counted_items_on_day((now - timedelta(days=offset)).strftime("%Y-%m-%d"), settings)
    ]
