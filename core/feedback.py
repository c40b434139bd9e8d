"""Verified feedback: prediction ids, the queue message, idempotent storage and stats counters.

A `prediction_id` is `<base64url(json claims)>.<base64url(hmac-sha256(claims))>`; the claims hold the model
version, the predicted category, the sha256 of the normalised headline, the issue time and a nonce.
Feedback is accepted only when the HMAC verifies and the submitted headline hashes to the value in the claims.

Storage: one TransactWriteItems per feedback puts the feedback item, puts a claim item keyed by the prediction
id (so a second feedback for the same prediction is refused) and bumps the counters. A redelivered SQS message
fails the conditions as a whole, so nothing is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from core import aws_clients
from core.dynamodb_values import from_dynamodb
from core.errors import InvalidInput, InvalidPredictionId
from core.settings import Settings, get_settings

CLAIM_PREFIX = "CLAIM#"
PREDICTED_PREFIX = "PREDICTED#"
COUNTER_TOTAL = ("TOTAL", "ALL")
BY_DAY_INDEX = "by_day"
_SECRET_TTL_SECONDS = 300
_CLOCK_SKEW_SECONDS = 300


# ---------------------------------------------------------------- prediction ids
def normalise_headline(text: str) -> str:
    """Case-, width- and whitespace-insensitive form used for hashing."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def headline_sha256(text: str) -> str:
    return hashlib.sha256(normalise_headline(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PredictionClaims:
    model_version: str
    category: str
    headline_sha256: str
    issued_at: int
    nonce: str

    def as_payload(self) -> dict:
        return {
            "v": self.model_version,
            "c": self.category,
            "h": self.headline_sha256,
            "t": self.issued_at,
            "n": self.nonce,
        }


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64encode(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def issue_prediction_id(
    key: bytes, headline: str, category: str, model_version: str, issued_at: int | None = None
) -> str:
    claims = PredictionClaims(
        model_version=model_version,
        category=category,
        headline_sha256=headline_sha256(headline),
        issued_at=int(time.time()) if issued_at is None else int(issued_at),
        nonce=secrets.token_hex(8),
    )
    body = _b64encode(json.dumps(claims.as_payload(), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(key, body)}"


def verify_prediction_id(
    key: bytes, prediction_id: str, headline: str, *, max_age_days: int = 30, now: float | None = None
) -> PredictionClaims:
    """Return the claims of a genuine id for this headline, else raise InvalidPredictionId (says why)."""
    body, dot, signature = prediction_id.partition(".")
    if not dot or not body or not signature:
        raise InvalidPredictionId("prediction_id is malformed")
    if not hmac.compare_digest(_sign(key, body), signature):
        raise InvalidPredictionId("prediction_id signature does not verify")
    try:
        payload = json.loads(_b64decode(body))
        claims = PredictionClaims(
            model_version=str(payload["v"]),
            category=str(payload["c"]),
            headline_sha256=str(payload["h"]),
            issued_at=int(payload["t"]),
            nonce=str(payload["n"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidPredictionId("prediction_id payload is malformed") from error
    if not hmac.compare_digest(claims.headline_sha256, headline_sha256(headline)):
        raise InvalidPredictionId("headline does not match the headline of the prediction")
    now = time.time() if now is None else now
    if claims.issued_at > now + _CLOCK_SKEW_SECONDS:
        raise InvalidPredictionId("prediction_id is issued in the future")
    if now - claims.issued_at > max_age_days * 86400:
        raise InvalidPredictionId(f"prediction_id is older than {max_age_days} days")
    return claims


class _SigningKey:
    """The HMAC key from Secrets Manager, cached for a few minutes so a rotation is picked up."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: tuple[str, bytes, float] | None = None

    def get(self, secret_arn: str) -> bytes:
        with self._lock:
            fresh = self._value and time.monotonic() - self._value[2] < _SECRET_TTL_SECONDS
            if fresh and self._value[0] == secret_arn:
                return self._value[1]
            secret = aws_clients.client("secretsmanager").get_secret_value(SecretId=secret_arn)
            raw = secret.get("SecretString")
            key = raw.encode("utf-8") if raw is not None else secret["SecretBinary"]
            if len(key) < 32:
                raise RuntimeError("prediction signing secret is shorter than 32 bytes")
            self._value = (secret_arn, key, time.monotonic())
            return key

    def clear(self) -> None:
        with self._lock:
            self._value = None


signing_key_cache = _SigningKey()


def signing_key(settings: Settings | None = None) -> bytes:
    settings = settings or get_settings()
    settings.require("prediction_secret_arn")
    return signing_key_cache.get(settings.prediction_secret_arn)


# ---------------------------------------------------------------- API side
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


def accept_feedback(
    request: dict,
    *,
    known_categories: list[str] | None,
    correlation_id: str | None,
    settings: Settings | None = None,
) -> dict:
    """Verify a feedback request and queue it. Returns {"message_id", "message"}; raises InvalidInput."""
    settings = settings or get_settings()
    settings.require("feedback_queue_url")
    claims = verify_prediction_id(
        signing_key(settings),
        request["prediction_id"],
        request["headline"],
        max_age_days=settings.prediction_id_max_age_days,
    )
    if known_categories is not None and request["correct_category"] not in known_categories:
        raise InvalidInput(
            f"unknown category {request['correct_category']!r}",
            details={"known_categories": sorted(known_categories)},
        )
    message = build_feedback_message(request, claims, correlation_id=correlation_id)
    attributes = {
        "prediction_id_sha256": {
            "DataType": "String",
            "StringValue": hashlib.sha256(request["prediction_id"].encode()).hexdigest(),
        }
    }
    if correlation_id:
        attributes["correlation_id"] = {"DataType": "String", "StringValue": correlation_id}
    response = aws_clients.client("sqs").send_message(
        QueueUrl=settings.feedback_queue_url,
        MessageBody=json.dumps(message),
        MessageAttributes=attributes,
    )
    return {"message_id": response["MessageId"], "message": message}


# ---------------------------------------------------------------- consumer side
def parse_feedback_message(body: str) -> dict:
    try:
        message = json.loads(body)
    except ValueError as error:
        raise InvalidInput("feedback message is not JSON") from error
    required = ("prediction_id", "correct_category", "headline", "received_at")
    missing = [name for name in required if not isinstance(message, dict) or not message.get(name)]
    if missing:
        raise InvalidInput(f"feedback message lacks {', '.join(missing)}")
    return message


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


# ---------------------------------------------------------------- counters
def record_predictions(model_version: str, categories: list[str], settings: Settings | None = None) -> None:
    """Count served predictions per category for the drift signal (one UpdateItem per distinct category)."""
    settings = settings or get_settings()
    if not settings.stats_table or not settings.record_prediction_counts:
        return
    counts: dict[str, int] = {}
    for category in categories:
        counts[category] = counts.get(category, 0) + 1
    dynamodb = aws_clients.client("dynamodb")
    for category, count in counts.items():
        dynamodb.update_item(
            TableName=settings.stats_table,
            Key={"pk": {"S": PREDICTED_PREFIX + model_version}, "sk": {"S": category}},
            UpdateExpression="ADD #count :n",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":n": {"N": str(count)}},
        )


def _query_partition(table, pk: str) -> list[dict]:
    items, kwargs = [], {"KeyConditionExpression": Key("pk").eq(pk)}
    while True:
        page = table.query(**kwargs)
        items.extend(from_dynamodb(page["Items"]))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _accuracy(total: int, correct: int) -> dict:
    return {"total": total, "correct": correct, "accuracy": (correct / total) if total else None}


def feedback_stats(active_version: str | None = None, settings: Settings | None = None) -> dict:
    """Totals, live accuracy, per category and per model version, read from counter items (Query only)."""
    settings = settings or get_settings()
    settings.require("stats_table")
    table = aws_clients.resource("dynamodb").Table(settings.stats_table)
    totals = _query_partition(table, COUNTER_TOTAL[0])
    total = next((item for item in totals if item["sk"] == COUNTER_TOTAL[1]), {})
    per_category = {
        item["sk"]: _accuracy(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(table, "CATEGORY")
    }
    per_model = {
        item["sk"]: _accuracy(item.get("total", 0), item.get("correct", 0))
        for item in _query_partition(table, "MODEL")
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
    table = aws_clients.resource("dynamodb").Table(settings.stats_table)
    items = _query_partition(table, PREDICTED_PREFIX + model_version)
    return {item["sk"]: int(item.get("count", 0)) for item in items}


# ---------------------------------------------------------------- reading feedback back
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
