from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest

from core.errors import InvalidInput, InvalidPredictionId
from core.feedback import counters, history, intake, messages, prediction_ids, signing_keys, storage

KEY = b"k" * 48
HEADLINE = "Senate passes the annual budget after a late-night session"


def test_prediction_id_round_trip_and_normalisation():
    token = prediction_ids.issue_prediction_id(KEY, HEADLINE, "POLITICS", "v0003", issued_at=1_767_268_800)
    claims = prediction_ids.verify_prediction_id(
        KEY, token, "  senate PASSES the annual budget\tafter a late-night session ", now=1_767_268_900
    )
    assert (claims.model_version, claims.category, claims.issued_at) == ("v0003", "POLITICS", 1_767_268_800)
    assert claims.headline_sha256 == prediction_ids.headline_sha256(HEADLINE)
    other = prediction_ids.issue_prediction_id(KEY, HEADLINE, "POLITICS", "v0003", issued_at=1_767_268_800)
    assert other != token  # the nonce keeps ids of repeated predictions distinct


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda t: t.replace(".", ".x", 1), "signature"),
        (lambda t: "A" + t[1:], "signature"),
        (lambda t: t.split(".")[0], "malformed"),
        (lambda t: "", "malformed"),
    ],
)
def test_tampered_prediction_ids_are_rejected(mutate, reason):
    token = prediction_ids.issue_prediction_id(KEY, HEADLINE, "POLITICS", "v0001")
    with pytest.raises(InvalidPredictionId, match=reason):
        prediction_ids.verify_prediction_id(KEY, mutate(token), HEADLINE)


def test_wrong_key_headline_age_and_future_are_rejected():
    token = prediction_ids.issue_prediction_id(KEY, HEADLINE, "POLITICS", "v0001", issued_at=1_000_000)
    with pytest.raises(InvalidPredictionId, match="signature"):
        prediction_ids.verify_prediction_id(b"z" * 48, token, HEADLINE, now=1_000_100)
    with pytest.raises(InvalidPredictionId, match="headline"):
        prediction_ids.verify_prediction_id(KEY, token, "A different headline", now=1_000_100)
    with pytest.raises(InvalidPredictionId, match="older than 30 days"):
        prediction_ids.verify_prediction_id(KEY, token, HEADLINE, now=1_000_000 + 31 * 86400)
    with pytest.raises(InvalidPredictionId, match="future"):
        prediction_ids.verify_prediction_id(KEY, token, HEADLINE, now=1_000_000 - 3600)


def test_parse_feedback_message_requires_fields():
    with pytest.raises(InvalidInput, match="not JSON"):
        messages.parse_feedback_message("{oops")
    with pytest.raises(InvalidInput, match="received_at"):
        messages.parse_feedback_message(
            json.dumps({"prediction_id": "x", "correct_category": "A", "headline": "h"})
        )


def _message(
    key: bytes,
    headline: str,
    predicted: str,
    correct: str,
    version: str = "v0001",
    received_at: str | None = None,
) -> dict:
    token = prediction_ids.issue_prediction_id(key, headline, predicted, version)
    claims = prediction_ids.verify_prediction_id(key, token, headline)
    request = {"prediction_id": token, "correct_category": correct, "headline": headline}
    message = messages.build_feedback_message(request, claims, correlation_id="cid-1")
    if received_at:
        message["received_at"] = received_at
    return message


def test_store_feedback_is_idempotent_and_counts_once(aws):
    key = signing_keys.signing_key()
    message = _message(key, HEADLINE, "POLITICS", "POLITICS")
    assert storage.store_feedback(message) == "stored"
    assert storage.store_feedback(message) == "duplicate"  # SQS redelivery
    second = dict(message, correct_category="SPORTS", received_at="2030-01-01T00:00:00.000+00:00")
    assert storage.store_feedback(second) == "duplicate"  # a second feedback for the same prediction
    wrong = _message(key, "Team wins the title", "SPORTS", "POLITICS", version="v0002")
    assert storage.store_feedback(wrong) == "stored"

    stats = counters.feedback_stats("v0001")
    assert (stats["total"], stats["correct"], stats["accuracy"]) == (2, 1, 0.5)
    assert stats["live_accuracy"] == 1.0 and stats["live_total"] == 1
    assert stats["per_category"]["POLITICS"] == {"total": 2, "correct": 1, "accuracy": 0.5}
    assert stats["per_model_version"]["v0002"] == {"total": 1, "correct": 0, "accuracy": 0.0}
    table = boto3.resource("dynamodb").Table(aws.name("FeedbackTable"))
    assert table.scan()["Count"] == 2


def test_forged_message_never_reaches_the_table(aws):
    message = _message(b"attacker-key-" * 4, HEADLINE, "POLITICS", "POLITICS")
    with pytest.raises(InvalidPredictionId):
        storage.store_feedback(message)
    assert boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Count"] == 0
    assert counters.feedback_stats()["total"] == 0


def test_recent_and_all_feedback_read_back_as_records(aws):
    key = signing_keys.signing_key()
    today = datetime.now(UTC).isoformat(timespec="milliseconds")
    storage.store_feedback(_message(key, HEADLINE, "POLITICS", "POLITICS", received_at=today))
    storage.store_feedback(
        _message(key, "Old story", "SPORTS", "SPORTS", received_at="2001-01-01T00:00:00.000+00:00")
    )
    recent = history.recent_feedback(7)
    assert [record["headline"] for record in recent] == [HEADLINE]
    assert recent[0]["category"] == "POLITICS"
    assert sorted(record["headline"] for record in history.iter_all_feedback()) == ["Old story", HEADLINE]


def test_prediction_counters_feed_the_distribution(aws):
    counters.record_predictions("v0001", ["A", "B", "A"])
    counters.record_predictions("v0001", ["A"])
    counters.record_predictions("v0002", ["C"])
    assert counters.prediction_distribution("v0001") == {"A": 3, "B": 1}


def test_accept_feedback_queues_a_verified_message(aws):
    key = signing_keys.signing_key()
    token = prediction_ids.issue_prediction_id(key, HEADLINE, "POLITICS", "v0001")
    request = {"prediction_id": token, "correct_category": "SPORTS", "headline": HEADLINE}
    with pytest.raises(InvalidInput, match="unknown category"):
        intake.accept_feedback(
            dict(request, correct_category="NOPE"), known_categories=["SPORTS"], correlation_id="c"
        )
    queued = intake.accept_feedback(
        request, known_categories=["SPORTS", "POLITICS"], correlation_id="cid-9"
    )
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=aws.name("FeedbackQueue"), MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1 and messages[0]["MessageId"] == queued["message_id"]
    assert messages[0]["MessageAttributes"]["correlation_id"]["StringValue"] == "cid-9"
    body = json.loads(messages[0]["Body"])
    assert (body["predicted_category"], body["correct_category"], body["model_version"]) == (
        "POLITICS",
        "SPORTS",
        "v0001",
    )
    assert abs(datetime.fromisoformat(body["received_at"]).timestamp() - time.time()) < 60


def test_signing_key_is_cached_until_the_client_changes(aws):
    from core.aws_clients import reset_clients
    from core.settings import get_settings

    key = signing_keys.signing_key()
    secret = get_settings().prediction_secret_arn
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="r" * 40)  # rotated
    assert signing_keys.signing_key() == key  # within SECRET_MAX_AGE_SECONDS: the cached key
    reset_clients()  # new credentials or endpoint: a new client, so an empty cache
    assert signing_keys.signing_key() == b"r" * 40
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="short")
    signing_keys.signing_key_cache.clear()
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        signing_keys.signing_key()
