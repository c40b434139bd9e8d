from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from core.feedback import storage
from core.registry.active_model import ActiveModelLookup
from core.serving.model_cache import ActiveModelCache
from tests.support.api_events import api_event, call
from tests.support.handler_calls import LambdaContext


@pytest.fixture
def handlers(aws, active_model, monkeypatch):
    import handlers.api_feedback as feedback_api
    import handlers.api_predict as predict_api
    import handlers.feedback_consumer as consumer

    monkeypatch.setattr(predict_api, "model_cache", ActiveModelCache())
    monkeypatch.setattr(feedback_api, "active_model", ActiveModelLookup())  # a fresh "container"
    return predict_api, feedback_api, consumer


def predict(aws, predict_api, headline: str) -> dict:
    aws.use_function_env("PredictFunction")
    status, body, _ = call(predict_api, api_event("api_predict.json", body={"headline": headline}))
    assert status == 200, body
    return body


def submit(aws, feedback_api, body: dict, correlation: str = "corr-42"):
    aws.use_function_env("FeedbackApiFunction")
    return call(
        feedback_api, api_event("api_feedback.json", body=body, headers={"X-Correlation-ID": correlation})
    )


def drain_queue(aws) -> dict:
    """Receive what the API queued and hand it to the consumer as the SQS event source would."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=aws.name("FeedbackQueue"),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages", [])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
                "messageAttributes": {
                    name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
                    for name, value in m.get("MessageAttributes", {}).items()
                },
            }
            for m in messages
        ]
    }


def consume(aws, consumer, event: dict) -> dict:
    aws.use_function_env("FeedbackConsumerFunction")
    return consumer.lambda_handler(event, LambdaContext("consumer"))


def test_feedback_flows_from_api_through_queue_to_stats(aws, handlers):
    predict_api, feedback_api, consumer = handlers
    right = predict(aws, predict_api, "senate vote on the new law")
    wrong = predict(aws, predict_api, "chef bakes pasta for dinner")
    status, body, headers = submit(
        aws,
        feedback_api,
        {
            "prediction_id": right["prediction_id"],
            "correct_category": "POLITICS",
            "headline": "senate vote on the new law",
        },
    )
    assert status == 202 and body["status"] == "queued" and body["correlation_id"] == "corr-42"
    assert headers["X-Correlation-ID"] == "corr-42"
    assert (
        submit(
            aws,
            feedback_api,
            {
                "prediction_id": wrong["prediction_id"],
                "correct_category": "SCIENCE",
                "headline": "chef bakes pasta for dinner",
            },
        )[0]
        == 202
    )
    event = drain_queue(aws)
    assert [r["messageAttributes"]["correlation_id"]["stringValue"] for r in event["Records"]] == [
        "corr-42"
    ] * 2
    assert consume(aws, consumer, event) == {"batchItemFailures": []}
    assert consume(aws, consumer, event) == {"batchItemFailures": []}  # redelivery: acknowledged, not counted

    aws.use_function_env("FeedbackApiFunction")
    status, stats, _ = call(feedback_api, api_event("api_feedback_stats.json"))
    assert status == 200
    assert (stats["total"], stats["correct"], stats["accuracy"]) == (2, 1, 0.5)
    assert (stats["active_model_version"], stats["live_accuracy"]) == ("v0001", 0.5)
    assert stats["per_category"]["SCIENCE"] == {"total": 1, "correct": 0, "accuracy": 0.0}
    assert stats["per_model_version"] == {"v0001": {"total": 2, "correct": 1, "accuracy": 0.5}}
    items = boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Items"]
    assert sorted(item["correct_category"] for item in items) == ["POLITICS", "SCIENCE"]
    assert {item["correlation_id"] for item in items} == {"corr-42"}


@pytest.mark.parametrize(
    "change,status,error",
    [
        ({"headline": "a different headline"}, 400, "invalid_prediction_id"),
        ({"prediction_id": "forged.signature-value"}, 400, "invalid_prediction_id"),
        ({"correct_category": "ASTROLOGY"}, 400, "invalid_input"),
        ({"correct_category": ""}, 422, "validation_error"),
        ({"prediction_id": None}, 422, "validation_error"),
    ],
)
def test_bad_feedback_is_rejected_and_never_queued(aws, handlers, change, status, error):
    predict_api, feedback_api, _ = handlers
    prediction = predict(aws, predict_api, "senate vote on the new law")
    body = {
        "prediction_id": prediction["prediction_id"],
        "correct_category": "POLITICS",
        "headline": "senate vote on the new law",
        **change,
    }
    body = {key: value for key, value in body.items() if value is not None}
    got_status, payload, _ = submit(aws, feedback_api, body)
    assert (got_status, payload["error"]) == (status, error), payload
    if error == "invalid_input":
        assert "POLITICS" in payload["details"]["known_categories"]
    assert drain_queue(aws)["Records"] == []


def test_consumer_reports_only_failed_records_and_drops_forgeries(aws, handlers, monkeypatch):
    predict_api, feedback_api, consumer = handlers
    prediction = predict(aws, predict_api, "senate vote on the new law")
    submit(
        aws,
        feedback_api,
        {
            "prediction_id": prediction["prediction_id"],
            "correct_category": "POLITICS",
            "headline": "senate vote on the new law",
        },
    )
    event = drain_queue(aws)
    forged = dict(
        event["Records"][0],
        messageId="forged-1",
        body=json.dumps(dict(json.loads(event["Records"][0]["body"]), headline="tampered")),
    )
    broken = dict(event["Records"][0], messageId="broken-1", body="{not json")
    event["Records"] += [forged, broken]
    assert consume(aws, consumer, event) == {
        "batchItemFailures": []
    }  # invalid records are dropped, not retried

    second = predict(aws, predict_api, "chef bakes pasta for dinner")
    submit(
        aws,
        feedback_api,
        {
            "prediction_id": second["prediction_id"],
            "correct_category": "FOOD & DRINK",
            "headline": "chef bakes pasta for dinner",
        },
    )
    third = predict(aws, predict_api, "team wins the championship match")
    submit(
        aws,
        feedback_api,
        {
            "prediction_id": third["prediction_id"],
            "correct_category": "SPORTS",
            "headline": "team wins the championship match",
        },
    )
    retry_event = drain_queue(aws)
    throttled = next(r for r in retry_event["Records"] if "pasta" in r["body"])
    original = storage.store_feedback

    def store_or_throttle(message, settings=None):
        if "pasta" in message["headline"]:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "TransactWriteItems",
            )
        return original(message, settings)

    monkeypatch.setattr(storage, "store_feedback", store_or_throttle)
    result = consume(aws, consumer, retry_event)
    assert result == {"batchItemFailures": [{"itemIdentifier": throttled["messageId"]}]}
    monkeypatch.setattr(storage, "store_feedback", original)
    assert consume(aws, consumer, {"Records": [throttled]}) == {"batchItemFailures": []}  # the retry succeeds
    aws.use_function_env("FeedbackApiFunction")
    _, stats, _ = call(feedback_api, api_event("api_feedback_stats.json"))
    assert stats["total"] == 3


def test_sample_sqs_event_is_handled(aws, handlers, load_event):
    _, _, consumer = handlers
    # The sample's prediction ids are placeholders signed by nobody: verified and dropped, never stored.
    assert consume(aws, consumer, load_event("sqs_feedback_batch.json")) == {"batchItemFailures": []}
    assert boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Count"] == 0
