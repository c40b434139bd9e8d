"""Local IAM decides as AWS does: policy evaluation, what each API call needs, the template's own roles."""

from __future__ import annotations

import pytest

from local.iam.policy import PolicyError, Request, evaluate, statements
from local.iam.requests import Call, ResourceCatalog, UnmappedCall, authorizations

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/models"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234"
CATALOG = ResourceCatalog(
    keys={TABLE: KEY, "arn:aws:s3:::data": KEY, "arn:aws:sqs:us-east-1:123456789012:feedback": KEY},
    partition_keys={TABLE: "version"},
)


def allowed(policy: list[dict], action: str, resource: str, **context) -> bool:
    return evaluate(statements([{"Statement": policy}]), Request(action, resource, context)).allowed


def needs(operation: str, service: str = "dynamodb", **params) -> list[tuple[str, str]]:
    call = Call(service, operation, params, "us-east-1", "123456789012")
    return [(r.action, r.resource) for r in authorizations(call, CATALOG)]


def test_explicit_deny_wins_and_nothing_is_allowed_by_default():
    policy = [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/secret"},
    ]
    assert allowed(policy, "S3:getobject", "arn:aws:s3:::data/x")  # actions ignore case
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::data/secret")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::Data/x")  # resources do not
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::data/x")
    assert not allowed([], "sts:AssumeRole", "*")


def test_not_action_and_not_resource():
    policy = [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::private/*"}]
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::data/x")
    assert not allowed(policy, "iam:PassRole", "arn:aws:iam::1:role/r")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::private/x")


@pytest.mark.parametrize(
    ("operator", "context", "expected"),
    [
        ("StringEquals", {}, False),  # a missing key makes a positive operator false
        ("StringNotEquals", {}, True),  # ... and a negated one true
        ("StringEqualsIfExists", {}, True),
        ("ForAllValues:StringEquals", {}, True),  # the documented trap: vacuously true
        ("ForAnyValue:StringEquals", {}, False),
        ("StringEquals", {"k": "a"}, True),
        ("StringEquals", {"k": "c"}, False),
        ("ForAllValues:StringEquals", {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", {"k": ["a", "c"]}, False),
        ("ForAnyValue:StringEquals", {"k": ["c", "b"]}, True),
        ("StringNotEquals", {"k": "a"}, False),
        ("StringLike", {"k": "a-anything"}, False),
    ],
)
def test_condition_operators_follow_the_iam_reference(operator, context, expected):
    policy = [
        {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {operator: {"k": ["a", "b"]}}}
    ]
    assert allowed(policy, "x:Y", "r", **context) is expected


def test_null_like_and_unknown_operators():
    null = [{"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {"Null": {"k": "true"}}}]
    assert allowed(null, "x:Y", "r") and not allowed(null, "x:Y", "r", k="v")
    like = [
        {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {"StringLike": {"k": "PRED*"}}}
    ]
    assert allowed(like, "x:Y", "r", k="PREDICTED#x") and not allowed(like, "x:Y", "r", k="LOCK")
    unknown = [{"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {"DateSoon": {"k": "1"}}}]
    with pytest.raises(PolicyError, match="DateSoon"):
        allowed(unknown, "x:Y", "r", k="1")


def test_a_transaction_needs_each_item_action_and_the_table_key():
    found = needs(
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "models", "Item": {"version": {"S": "v0002"}}}},
            {"ConditionCheck": {"TableName": "models", "Key": {"version": {"S": "ACTIVE"}}}},
        ],
    )
    assert found == [
        ("dynamodb:PutItem", TABLE),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        ("dynamodb:ConditionCheckItem", TABLE),
        ("kms:Decrypt", KEY),
    ]


def test_leading_keys_come_from_the_partition_key_in_either_value_form():
    for key in ({"version": {"S": "LOCK#retraining"}}, {"version": "LOCK#retraining"}):
        call = Call(
            "dynamodb", "DeleteItem", {"TableName": "models", "Key": key}, "us-east-1", "123456789012"
        )
        assert authorizations(call, CATALOG)[0].value("dynamodb:LeadingKeys") == ["LOCK#retraining"]
    query = Call(
        "dynamodb",
        "Query",
        {
            "TableName": "models",
            "IndexName": "by_day",
            "KeyConditionExpression": "#n0 = :v0",
            "ExpressionAttributeNames": {"#n0": "version"},
            "ExpressionAttributeValues": {":v0": {"S": "v0001"}},
        },
        "us-east-1",
        "123456789012",
    )
    (request, _) = authorizations(query, CATALOG)
    assert request.resource == f"{TABLE}/index/by_day" and request.value("dynamodb:LeadingKeys") == ["v0001"]


def test_s3_versions_copies_and_multipart_uploads():
    assert needs("GetObject", "s3", Bucket="data", Key="a", VersionId="3") == [
        ("s3:GetObjectVersion", "arn:aws:s3:::data/a"),
        ("kms:Decrypt", KEY),
    ]
    assert needs("CopyObject", "s3", Bucket="out", Key="b", CopySource={"Bucket": "data", "Key": "a"}) == [
        ("s3:GetObject", "arn:aws:s3:::data/a"),
        ("kms:Decrypt", KEY),
        ("s3:PutObject", "arn:aws:s3:::out/b"),
    ]
    assert needs("CreateMultipartUpload", "s3", Bucket="data", Key="big") == [
        ("s3:PutObject", "arn:aws:s3:::data/big"),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    ]
    assert needs("ListObjectsV2", "s3", Bucket="data", Prefix="runs/") == [
        ("s3:ListBucket", "arn:aws:s3:::data")
    ]


def test_encrypted_queue_producers_need_both_key_actions_consumers_decrypt():
    url = "http://127.0.0.1:5000/123456789012/feedback"
    queue = "arn:aws:sqs:us-east-1:123456789012:feedback"
    assert needs("SendMessage", "sqs", QueueUrl=url, MessageBody="x") == [
        ("sqs:SendMessage", queue),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    ]
    assert needs("ReceiveMessage", "sqs", QueueUrl=url) == [
        ("sqs:ReceiveMessage", queue),
        ("kms:Decrypt", KEY),
    ]


def test_creating_a_training_job_passes_its_role_to_sagemaker():
    call = Call(
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "MLNews-Dev-1", "RoleArn": "arn:aws:iam::123456789012:role/train", "Tags": [{}]},
        "us-east-1",
        "123456789012",
    )
    job, pass_role, tags = authorizations(call, CATALOG)
    assert job.resource.endswith(":training-job/mlnews-dev-1")  # SageMaker ARNs are lower case
    assert (pass_role.action, pass_role.value("iam:PassedToService")) == (
        "iam:PassRole",
        ["sagemaker.amazonaws.com"],
    )
    assert tags.action == "sagemaker:AddTags"


def test_calls_nobody_mapped_are_reported_not_guessed():
    with pytest.raises(UnmappedCall, match="dynamodb:CreateTable"):
        needs("CreateTable", TableName="models")
