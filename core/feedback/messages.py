"""The feedback queue's message: built by the API side once a request verifies, parsed by the consumer.

The API seals each message with a receipt, an HMAC over the message with the current signing key. The consumer
checks the receipt instead of the prediction id's own signature: what the API verified stays verifiable after
a key rotation, as long as no message waits through two rotations (the rotation interval is longer than the
queues keep a message; template.yaml, docs/reliability.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.errors import InvalidInput, MlNewsError
from core.feedback.counters import ANONYMOUS_SENDER
from core.feedback.prediction_ids import KeyRing, PredictionClaims, key_id, same_text, sign

_REQUIRED = ("prediction_id", "correct_category", "headline", "received_at")


class ReceiptKeyRetired(MlNewsError):
    """A receipt signed with a key that is neither current nor previous: the message waited through two key
    rotations, or was not written by the API. Neither stored nor dropped: it goes to the dead-letter queue."""

    code = "receipt_key_retired"


def sender_of(message: dict) -> str:
    """Who a stored feedback counts against: its API key id, or every keyless caller together."""
    return message.get("api_key_id") or ANONYMOUS_SENDER


def build_feedback_message(
    request: dict,
    claims: PredictionClaims,
    *,
    correlation_id: str | None,
    received_at: datetime | None = None,
    api_key_id: str | None = None,
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
        "api_key_id": api_key_id or "",
    }


def _canonical(message: dict) -> str:
    return json.dumps(
        {name: value for name, value in message.items() if name != "receipt"},
        sort_keys=True,
        separators=(",", ":"),
    )


def seal(message: dict, key: bytes) -> dict:
    """The message with the API's receipt."""
    return {**message, "receipt": f"{key_id(key)}.{sign(key, _canonical(message))}"}


def receipt_key_id(message: dict) -> str | None:
    """The key id of the message's receipt; None when it has none (queued before receipts existed)."""
    receipt = message.get("receipt")
    if receipt is None:
        return None
    kid, dot, mac = str(receipt).partition(".")
    if not dot or not kid or not mac:
        raise InvalidInput("feedback message receipt is malformed")
    return kid


def check_receipt(message: dict, keys: KeyRing) -> None:
    """Raise InvalidInput when the receipt does not verify, ReceiptKeyRetired when its key is unknown."""
    kid = receipt_key_id(message)
    if kid is None:
        raise InvalidInput("feedback message has no receipt")
    key = keys.find(kid)
    if key is None:
        raise ReceiptKeyRetired(f"feedback receipt names signing key {kid}: neither current nor previous")
    if not same_text(sign(key, _canonical(message)), str(message["receipt"]).partition(".")[2]):
        raise InvalidInput("feedback message receipt does not verify")


def parse_feedback_message(body: str) -> dict:
    """The message in an SQS body; InvalidInput when it is not JSON or lacks a required field."""
    try:
        message = json.loads(body)
    except ValueError as error:
        raise InvalidInput("feedback message is not JSON") from error
    missing = [
        name
        for name in _REQUIRED
        if not isinstance(message, dict) or not isinstance(message.get(name), str) or not message[name]
    ]
    if missing:
        raise InvalidInput(f"feedback message lacks {', '.join(missing)}")
    return message
