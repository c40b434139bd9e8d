"""A permission removed from template.yaml fails the calls that need it, as on AWS (issue 7, IAM conformance).

Every test of the suite runs with local IAM on (tests/conftest.py): calls made as a function are authorized
against its role as samtranslator translates the template. Here a copy of the template loses one statement
and the call that needed it is refused with AccessDenied and reported with the missing statement.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local.iam.enforcement import access_control, expected_denials
from local.iam.requests import Call
from local.template import load_template
from tests.support.handler_calls import LambdaContext


def without_statement(function: str, sid: str) -> dict:
    template = load_template()
    policies = template["Resources"][function]["Properties"]["Policies"]
    for policy in policies:
        statements = policy.get("Statement") if isinstance(policy, dict) else None
        if statements and any(s.get("Sid") == sid for s in statements):
            policy["Statement"] = [s for s in statements if s.get("Sid") != sid]
            return template
    raise AssertionError(f"{function} has no statement {sid}")


def without_policy_template(function: str, name: str) -> dict:
    template = load_template()
    policies = template["Resources"][function]["Properties"]["Policies"]
    kept = [p for p in policies if not (isinstance(p, dict) and name in p)]
    assert len(kept) < len(policies), f"{function} has no {name}"
    template["Resources"][function]["Properties"]["Policies"] = kept
    return template


def test_record_outcome_without_the_table_key_is_refused_like_defect_2(aws_from, load_event):
    """Defect 2 again, caught at run time: DynamoDB uses the table's customer managed key as the caller."""
    aws = aws_from(without_statement("RecordOutcomeFunction", "UseTableKey"))
    aws.use_function_env("RecordOutcomeFunction")
    import handlers.record_outcome as module  # after the env: the module checks its settings at import
    with expected_denials() as denied, pytest.raises(ClientError) as raised:
        module.lambda_handler(load_event("sfn_record_outcome_failure.json"), LambdaContext())
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: kms:Decrypt" in raised.value.response["Error"]["Message"]
    report = "\n".join(denial.report() for denial in denied)
    # its first table call (reading the candidate it may have to reject) is the one refused
    assert "RecordOutcomeFunction" in report and "dynamodb:GetItem" in report
    assert f"encrypted with the customer managed key {aws.stack.attributes['DataKey']['Arn']}" in report
    assert '"Action": ["kms:Decrypt"]' in report  # the statement to add


def test_the_same_call_passes_with_the_template_as_it_is(aws, load_event):
    import handlers.record_outcome as module

    aws.use_function_env("RecordOutcomeFunction")
    result = module.lambda_handler(load_event("sfn_record_outcome_failure.json"), LambdaContext())
    assert result["status"] == "failed"
    assert access_control.checked["RecordOutcomeFunction", "dynamodb:DeleteItem"] >= 1  # it was checked


def test_predict_without_its_secret_policy_cannot_sign_prediction_ids(aws_from, good_model_dir):
    from core.registry.versions import ModelRegistry
    from tests.support.api_events import api_event, call

    aws = aws_from(without_policy_template("PredictFunction", "AWSSecretsManagerGetSecretValuePolicy"))
    registry = ModelRegistry()
    registry.activate(registry.register_model_dir(good_model_dir)["version"], reason="test setup")
    aws.use_function_env("PredictFunction")
    import handlers.api_predict as module  # after the env: the module checks its settings at import
    with expected_denials() as denied:
        status, body, _ = call(module, api_event("api_predict.json", body={"headline": "senate vote"}))
    assert status >= 500, body  # the deployed stack would fail the same way
    assert [(d.principal.label, f"{d.call.service}:{d.call.operation}") for d in denied] == [
        ("PredictFunction", "secretsmanager:GetSecretValue")
    ]


def test_calls_made_outside_a_function_are_not_checked(aws):
    """Test setup and the local-mode host use their own credentials; only roles are held to policies."""
    before = sum(access_control.checked.values())
    boto3.client("s3").put_object(Bucket=aws.name("DataBucket"), Key="x", Body=b"{}")
    assert sum(access_control.checked.values()) == before
    assert (
        json.loads(boto3.client("s3").get_object(Bucket=aws.name("DataBucket"), Key="x")["Body"].read()) == {}
    )


def test_failed_async_evaluations_can_reach_their_destination(aws):
    """Lambda delivers EvaluateModelFunction's OnFailure record with the function's role: sqs:SendMessage on
    EvaluationFailureQueue (granted by SAM for the destination) and the queue's key."""
    from local.iam.requests import Call

    url = aws.name("EvaluationFailureQueue")
    call = Call("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "{}"}, "us-east-1", "123456789012")
    decisions = access_control.decisions(aws.stack.role_arns["EvaluateModelFunction"], call)
    assert [d.request.action for d in decisions] == ["sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"]
    assert all(d.allowed for d in decisions), [d.request for d in decisions if not d.allowed]


def test_the_retrain_check_may_write_only_the_lock_item(aws):
    """The template's RetrainingLockOnly statement (dynamodb:LeadingKeys) as AWS applies it."""
    role = aws.stack.role_arns["RetrainCheckFunction"]

    def put(version: str) -> bool:
        item = {"version": {"S": version}}
        call = Call(
            "dynamodb",
            "PutItem",
            {"TableName": aws.name("ModelsTable"), "Item": item},
            "us-east-1",
            "123456789012",
        )
        return all(decision.allowed for decision in access_control.decisions(role, call))

    assert put("LOCK#retraining") and not put("ACTIVE") and not put("v0001")
