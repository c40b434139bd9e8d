"""How far one sender (API key, or all keyless callers together) moves training data and retraining signals
is bounded per day (issue 9): feedback over the limit is stored but held back, predictions over the drift
budget are not counted. Run as the functions' roles, so the limits work within what the template grants."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import boto3

from core.feedback import counters, history, messages, prediction_ids, signing_keys
from local.iam.enforcement import access_control
from tests.support.api_events import api_event, call
from tests.support.handler_calls import LambdaContext, overlaid_environ

TODAY = datetime.now(UTC)


def sealed(headline: str, api_key_id: str | None, received_at: datetime = TODAY, correct: str = "SPORTS"):
    key = signing_keys.signing_key()
    token = prediction_ids.issue_prediction_id(key, headline, "POLITICS", "v0001")
    claims = prediction_ids.verify_prediction_id(key, token, headline)
    request = {"prediction_id": token, "correct_category": correct, "headline": headline}
    message = messages.build_feedback_message(
        request, claims, correlation_id="c", received_at=received_at, api_key_id=api_key_id
    )
    return messages.seal(message, key)


def record(message: dict, index: int) -> dict:
    return {
        "messageId": f"m-{index}",
        "receiptHandle": f"r-{index}",
        "body": json.dumps(message),
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def consume(aws, batch: list[dict]) -> dict:
    import handlers.feedback_consumer as consumer

    aws.use_function_env("FeedbackConsumerFunction", FEEDBACK_PER_KEY_DAILY_LIMIT="2")
    event = {"Records": [record(message, index) for index, message in enumerate(batch)]}
    return consumer.lambda_handler(event, LambdaContext("consumer"))


def test_feedback_over_a_senders_daily_limit_is_stored_but_counts_nowhere(aws):
    batch = [sealed(f"key one headline {n}", "key-1") for n in range(3)]
    batch += [sealed("key two headline", "key-2")]
    batch += [sealed(f"keyless headline {n}", None) for n in range(3)]  # every keyless caller is one sender
    assert consume(aws, batch) == {"batchItemFailures": []}
    assert consume(aws, batch) == {"batchItemFailures": []}  # redelivered: held ones are not held twice

    stats = counters.feedback_stats()
    assert (stats["total"], stats["held_back"]) == (5, 2)  # 2 + 1 + 2 counted, the third of each held
    items = boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Items"]
    assert len(items) == 7  # nothing accepted is lost
    held = sorted((item["api_key_id"], item["headline"]) for item in items if not item["counted"])
    assert [sender for sender, _ in held] == ["", "key-1"]
    exported = {record["headline"] for record in history.iter_all_feedback()}
    assert len(exported) == 5 and not exported & {headline for _, headline in held}
    assert {record["headline"] for record in history.recent_feedback(1)} == exported

    tomorrow = sealed("key one, the next day", "key-1", received_at=TODAY + timedelta(days=1))
    assert consume(aws, [tomorrow]) == {"batchItemFailures": []}
    assert counters.feedback_stats()["total"] == 6  # a new day, a new allowance


def test_the_feedback_api_records_the_api_key_a_request_came_with(aws, active_model, monkeypatch):
    import handlers.api_feedback as feedback_api
    from core.registry.active_model import ActiveModelLookup

    monkeypatch.setattr(feedback_api, "active_model", ActiveModelLookup())
    aws.use_function_env("FeedbackApiFunction")
    headline = "senate vote on the new law"
    token = prediction_ids.issue_prediction_id(signing_keys.signing_key(), headline, "POLITICS", "v0001")
    body = {"prediction_id": token, "correct_category": "POLITICS", "headline": headline}
    event = api_event("api_feedback.json", body=body)
    event["requestContext"]["identity"].update(apiKey="secret-value-never-stored", apiKeyId="k7x9abc")
    status, _, _ = call(feedback_api, event)
    assert status == 202
    (queued,) = boto3.client("sqs").receive_message(QueueUrl=aws.name("FeedbackQueue"))["Messages"]
    message = json.loads(queued["Body"])
    assert message["api_key_id"] == "k7x9abc" and "secret-value-never-stored" not in queued["Body"]
    forged = dict(message, api_key_id="someone-else")  # the receipt covers who sent it
    assert consume(aws, [forged]) == {"batchItemFailures": []}
    assert counters.feedback_stats()["total"] == 0
    assert consume(aws, [message]) == {"batchItemFailures": []}
    (item,) = boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Items"]
    assert item["api_key_id"] == "k7x9abc"


@contextmanager
def as_predict_role(aws):
    aws.use_function_env("PredictFunction", DRIFT_PER_KEY_DAILY_LIMIT="5")
    role = aws.stack.role_arns["PredictFunction"]
    with overlaid_environ(
        access_control.credentials(role, aws.stack.deployment.functions["PredictFunction"])
    ):
        yield


def test_predictions_move_the_drift_counters_by_at_most_a_senders_daily_budget(aws):
    tomorrow = TODAY + timedelta(days=1)
    with as_predict_role(aws):
        assert counters.record_predictions("v0001", ["A", "B", "A"], sender="key-1")
        assert not counters.record_predictions("v0001", ["A", "A", "A"], sender="key-1")  # 6 > 5: none
        assert counters.record_predictions("v0001", ["B", "B"], sender="key-1")  # exactly the budget
        assert not counters.record_predictions("v0001", ["B"], sender="key-1")
        assert counters.record_predictions("v0001", ["C"] * 5, sender="key-2")
        assert counters.record_predictions("v0001", ["C"], sender=None)  # keyless callers: one sender
        assert not counters.record_predictions("v0001", ["C"] * 6, sender="key-3")  # over it at once
        assert counters.record_predictions("v0001", ["A"], sender="key-1", now=tomorrow)
    assert access_control.checked["PredictFunction", "dynamodb:UpdateItem"] >= 1  # made as the role
    assert counters.prediction_distribution("v0001") == {"A": 3, "B": 3, "C": 6}
