"""Feedback volume and accuracy per day (the operator page's "over time"), read from the feedback table's
by_day index: the counters (core.feedback.counters) hold totals only, never when they grew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.feedback.counters import accuracy_summary
from core.feedback.history import counted_items_on_day
from core.settings import Settings, get_settings

MAX_DAYS = 90


def daily_feedback(
    days: int = 14, settings: Settings | None = None, now: datetime | None = None
) -> list[dict]:
    """One entry per day, oldest first, today last (days with no feedback included): how much counted
    feedback arrived and how often the model that served it was right, overall and per model version.
    Held-back feedback (over its sender's daily limit) counts nowhere, as in the counters.

    One Query per day on the index, projecting four attributes (DynamoDB still reads, and bills, the whole
    items: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.ReadConsumption.html), so
    the cost grows with the feedback of the period, which the senders' daily limit bounds."""
    settings = settings or get_settings()
    settings.require("feedback_table")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    timeline = []
    for offset in range(days - 1, -1, -1):
        day = (today - timedelta(days=offset)).isoformat()
        per_model: dict[str, list[int]] = {}
        for item in counted_items_on_day(day, settings, attributes=("correct", "model_version")):
            counts = per_model.setdefault(item.get("model_version", {}).get("S", "unknown"), [0, 0])
            counts[0] += 1
            counts[1] += int(item.get("correct", {}).get("BOOL", False))
        total = sum(counts[0] for counts in per_model.values())
        correct = sum(counts[1] for counts in per_model.values())
        timeline.append(
            {
                "day": day,
                **accuracy_summary(total, correct),
                "per_model_version": {
                    version: accuracy_summary(*counts) for version, counts in sorted(per_model.items())
                },
            }
        )
    return timeline
