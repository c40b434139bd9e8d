"""Rotating the prediction signing key mid-stream keeps accepted feedback (issue 9).

The rotation runs as on AWS: RotateSecret with the template's rotation function and rules, the four steps
executed in-process as the function's role (local/key_rotation.py), every call authorized against that role.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from core.feedback import key_rotation, prediction_ids, signing_keys
from core.registry.active_model import ActiveModelLookup
from core.serving.model_cache import ActiveModelCache
from local.iam.enforcement import expected_denials
from local.key_rotation import RotationFailed, rotate
from local.template import load_template
from tests.aws.test_iam_conformance import without_statement
from tests.support.api_events import api_event, call
from tests.support.handler_calls import LambdaContext

HEADLINES = ["senate vote on the new law", "chef bakes pasta for dinner", "team wins the championship match"]


def rotate_now(aws) -> dict:
    return rotate(boto3.client("secretsmanager"), aws.stack.deployment)


def secret_value(aws, stage: str) -> str:
    secret = aws.name("PredictionSigningSecret")
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret, VersionStage=stage)
    return value["SecretString"]


def test_the_rotation_function_makes_a_new_random_key_current_and_keeps_the_old_one_previous(aws):
    before = secret_value(aws, "AWSCURRENT")
    versions = rotate_now(aws)
    current = secret_value(aws, "AWSCURRENT")
    assert secret_value(aws, "AWSPREVIOUS") == before != current
    assert len(current) == key_rotation.KEY_CHARACTERS and len(set(current)) > 20
    stages = boto3.client("secretsmanager").describe_secret(SecretId=versions["secret"])["VersionIdsToStages"]
    assert stages[versions["current"]] == ["AWSCURRENT"] and stages[versions["previous"]] == ["AWSPREVIOUS"]
    rotate_now(aws)  # the next rotation retires the first key
    assert secret_value(aws, "AWSPREVIOUS") == current


def test_rotation_steps_are_idempotent_and_refuse_what_they_cannot_work_from(aws):
    import handlers.rotate_signing_key as module

    secret = aws.name("PredictionSigningSecret")
    sm = boto3.client("secretsmanager")
    rotate_now(aws)  # enables rotation
    aws.use_function_env("PredictionKeyRotationFunction")
    current = sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
    (current_version,) = [v for v, stages in current.items() if "AWSCURRENT" in stages]

    def step(name: str, token: str) -> dict:
        event = {"Step": name, "SecretId": secret, "ClientRequestToken": token}
        return module.lambda_handler(event, LambdaContext("rotation"))

    assert step("finishSecret", current_version)["outcome"] == "already current"
    sm.put_secret_value(
        SecretId=secret, ClientRequestToken="a" * 36, SecretString="short", VersionStages=["AWSPENDING"]
    )
    with pytest.raises(key_rotation.RotationError, match="shorter than 32 bytes"):
        step("testSecret", "a" * 36)
    assert step("createSecret", "a" * 36)["outcome"] == "pending key exists"  # a retried step changes nothing
    with pytest.raises(key_rotation.RotationError, match="no stage for rotation"):
        step("createSecret", "b" * 36)
    with pytest.raises(key_rotation.RotationError, match="unknown rotation step"):
        step("dropSecret", "a" * 36)


def without_action(function: str, sid: str, action: str) -> dict:
    template = load_template()
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement.get("Sid") == sid:
                statement["Action"] = [a for a in statement["Action"] if a != action]
                return template
    raise AssertionError(f"{function} has no statement {sid}")


@pytest.mark.parametrize(
    "template_change,refused",
    [
        (
            lambda: without_action(
                "PredictionKeyRotationFunction",
                "RotateTheSigningSecret",
                "secretsmanager:UpdateSecretVersionStage",
            ),
            "secretsmanager:UpdateSecretVersionStage",
        ),
        # the secret is encrypted with DataKey: reading it needs kms:Decrypt as the caller
        (lambda: without_statement("PredictionKeyRotationFunction", "UseSecretKey"), "kms:Decrypt"),
    ],
)
def test_the_rotation_role_needs_each_permission_it_has(aws_from, template_change, refused):
    aws = aws_from(template_change())
    key = secret_value(aws, "AWSCURRENT")
    with expected_denials() as denied, pytest.raises(RotationFailed, match="did not become AWSCURRENT"):
        rotate_now(aws)
    assert secret_value(aws, "AWSCURRENT") == key  # a failed rotation leaves the old key current
    assert denied and all(d.principal.label == "PredictionKeyRotationFunction" for d in denied)
    assert refused in "\n".join(denial.report() for denial in denied)


@pytest.fixture
def handlers(aws, active_model, monkeypatch):
    import handlers.api_feedback as feedback_api
    import handlers.api_predict as predict_api
    import handlers.feedback_consumer as consumer

    monkeypatch.setattr(predict_api, "model_cache", ActiveModelCache())
    monkeypatch.setattr(feedback_api, "active_model", ActiveModelLookup())
    return predict_api, feedback_api, consumer


def predict(aws, predict_api, headline: str) -> str:
    aws.use_function_env("PredictFunction")
    status, body, _ = call(predict_api, api_event("api_predict.json", body={"headline": headline}))
    assert status == 200, body
    return body["prediction_id"]


def submit(aws, feedback_api, prediction_id: str, headline: str) -> tuple[int, dict]:
    aws.use_function_env("FeedbackApiFunction")
    body = {"prediction_id": prediction_id, "correct_category": "POLITICS", "headline": headline}
    status, payload, _ = call(feedback_api, api_event("api_feedback.json", body=body))
    return status, payload


def queued(aws) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while batch := sqs.receive_message(
        QueueUrl=aws.name("FeedbackQueue"), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += batch
    return found


def consume(aws, consumer, messages: list[dict]) -> dict:
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }
    aws.use_function_env("FeedbackConsumerFunction")
    return consumer.lambda_handler(event, LambdaContext("consumer"))


def stats(aws, feedback_api) -> dict:
    aws.use_function_env("FeedbackApiFunction")
    status, body, _ = call(feedback_api, api_event("api_feedback_stats.json"))
    assert status == 200
    return body


def test_feedback_accepted_before_a_rotation_is_stored_after_it_and_ids_live_for_one_rotation(aws, handlers):
    predict_api, feedback_api, consumer = handlers
    ids = {headline: predict(aws, predict_api, headline) for headline in HEADLINES}
    for headline in HEADLINES[:2]:  # accepted before the rotation, still queued
        assert submit(aws, feedback_api, ids[headline], headline)[0] == 202
    before_rotation = queued(aws)

    rotate_now(aws)
    # an id issued before the rotation is still accepted after it
    assert submit(aws, feedback_api, ids[HEADLINES[2]], HEADLINES[2])[0] == 202
    fresh = "governor signs the election bill"
    fresh_id = predict(aws, predict_api, fresh)  # signed with the new key
    assert prediction_ids.signing_key_id(fresh_id) != prediction_ids.signing_key_id(ids[HEADLINES[0]])
    assert submit(aws, feedback_api, fresh_id, fresh)[0] == 202
    after_rotation = queued(aws)

    everything = before_rotation + after_rotation
    assert consume(aws, consumer, everything) == {"batchItemFailures": []}
    assert consume(aws, consumer, everything) == {"batchItemFailures": []}  # redelivered: not counted again
    counted = stats(aws, feedback_api)
    assert (counted["total"], counted["held_back"]) == (4, 0)  # nothing lost, nothing counted twice
    table = boto3.resource("dynamodb").Table(aws.name("FeedbackTable"))
    assert table.scan()["Count"] == 4

    # A second rotation retires the first key: ids from before the first one are refused, saying why ...
    second = "markets rally after the vote"
    second_id = predict(aws, predict_api, second)
    assert submit(aws, feedback_api, second_id, second)[0] == 202
    waiting = queued(aws)  # ... while feedback accepted under the second key waits through the rotation
    rotate_now(aws)
    status, refused = submit(aws, feedback_api, ids[HEADLINES[0]], HEADLINES[0])
    assert (status, refused["error"]) == (400, "invalid_prediction_id")
    assert refused["details"] == {"reason": "signing_key_retired"} and "key rotation" in refused["message"]
    assert consume(aws, consumer, waiting) == {"batchItemFailures": []}
    assert stats(aws, feedback_api)["total"] == 5


def test_a_message_that_waited_through_two_rotations_is_kept_for_the_dead_letter_queue(aws, handlers):
    predict_api, feedback_api, consumer = handlers
    prediction_id = predict(aws, predict_api, HEADLINES[0])
    assert submit(aws, feedback_api, prediction_id, HEADLINES[0])[0] == 202
    stuck = queued(aws)
    rotate_now(aws)
    rotate_now(aws)
    later = predict(aws, predict_api, HEADLINES[1])
    assert submit(aws, feedback_api, later, HEADLINES[1])[0] == 202
    result = consume(aws, consumer, stuck + queued(aws))
    assert result == {"batchItemFailures": [{"itemIdentifier": stuck[0]["MessageId"]}]}  # retried, then DLQ
    items = boto3.resource("dynamodb").Table(aws.name("FeedbackTable")).scan()["Items"]
    assert [item["headline"] for item in items] == [HEADLINES[1]]
    receipt_key = json.loads(stuck[0]["Body"])["receipt"].split(".")[0]
    assert receipt_key == prediction_ids.signing_key_id(prediction_id)


def test_a_container_with_the_old_keys_cached_learns_the_new_key_from_the_first_id_that_names_it(aws):
    cache = signing_keys.SigningKeyCache()
    secret = aws.name("PredictionSigningSecret")
    old = cache.ring(secret)
    assert old.previous is None  # never rotated: no AWSPREVIOUS, and that is cached too
    rotate_now(aws)
    new_key = secret_value(aws, "AWSCURRENT").encode()
    assert cache.ring(secret) == old  # within SECRET_MAX_AGE_SECONDS: the cached pair
    refreshed = cache.ring(secret, wanted_key_id=prediction_ids.key_id(new_key))
    assert refreshed == prediction_ids.KeyRing(new_key, old.current)
    rotate_now(aws)
    newest = prediction_ids.key_id(secret_value(aws, "AWSCURRENT").encode())
    # made-up key ids cannot make every request re-read the secret: at most one re-read per interval
    assert cache.ring(secret, wanted_key_id=newest) == refreshed


def test_short_or_missing_previous_keys_are_never_used(aws):
    secret = aws.name("PredictionSigningSecret")
    sm = boto3.client("secretsmanager")
    current = secret_value(aws, "AWSCURRENT")
    sm.put_secret_value(SecretId=secret, SecretString="tiny")  # becomes AWSCURRENT, the key AWSPREVIOUS
    sm.put_secret_value(SecretId=secret, SecretString=current + "x")  # "tiny" is now AWSPREVIOUS
    ring = signing_keys.SigningKeyCache().ring(secret)
    assert ring == prediction_ids.KeyRing((current + "x").encode(), None)


def test_rotation_needs_rotation_to_be_enabled(aws):
    secret = aws.name("PredictionSigningSecret")
    aws.use_function_env("PredictionKeyRotationFunction")
    import handlers.rotate_signing_key as module

    with pytest.raises(key_rotation.RotationError, match="not enabled for rotation"):
        module.lambda_handler(
            {"Step": "createSecret", "SecretId": secret, "ClientRequestToken": "c" * 36}, LambdaContext()
        )
    with pytest.raises(ClientError):
        boto3.client("secretsmanager").get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")
