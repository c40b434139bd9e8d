"""The feedback queue's message: built by the API side once a request verifies, parsed by the consumer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.errors import InvalidInput
from core.feedback.prediction_ids import PredictionClaims

_REQUIRED = ("prediction_id", "correct_category", "headline", "received_at")


def build_feedback_message(
    request: dict,
    claims: PredictionClaims,
    *,
    correlation_id: str | None,
    received_at: datetime | None = None,
) -> dict:
    received = (received_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "prediction_id": request["prediction_id"],
        "correct_category": request["correct_category"],
        "headline": request["headline"],
        "short_description": request.get("short_description") or "",
        "authors": request.get("authors") or "",
        "predicted_category": claims.category,
        "model_version": claims.model_version,
        "headline_sha256": claims.headline_sha256,
        "issued_at": claims.issued_at,
        # Fixed at acceptance: a redelivered message carries the same key, so its write is a no-op.
        "received_at": received.isoformat(timespec="milliseconds"),
        "correlation_id": correlation_id or "",
    }


def parse_feedback_message(body: str) -> dict:
    """The message in an SQS body; InvalidInput when it is not JSON or lacks a required field."""
    try:
        message = json.loads(body)
    except ValueError as error:
        raise InvalidInput("feedback message is not JSON") from error
    missing = [name for name in _REQUIRED if not isinstance(message, dict) or not message.get(name)]
    if missing:
        raise InvalidInput(f"feedback message lacks {', '.join(missing)}")
    return message
