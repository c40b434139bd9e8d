"""What IAM authorizes for one AWS API call: the action, the resource ARN and the condition keys, plus the KMS
permissions the service uses *as the caller* when the resource is encrypted with a customer managed key.

Only the operations this project makes are mapped; any other call is reported as unmapped instead of being
guessed, so the table grows with the code. Sources (per service, "Actions, resources, and condition keys"):
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
Implicit KMS use:
- DynamoDB decrypts the table key with the caller's permissions on every item read or write, and writes need
  the key to encrypt: https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html
- S3 SSE-KMS: reads need kms:Decrypt, writes kms:GenerateDataKey, multipart uploads both:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
- SQS SSE: producers need kms:GenerateDataKey and kms:Decrypt, consumers kms:Decrypt:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
- Secrets Manager decrypts a secret's value with the caller's kms:Decrypt:
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from local.iam.policy import Request


class UnmappedCall(LookupError):
    """An API call local IAM does not know how to authorize (message names it)."""


@dataclass
class ResourceCatalog:
    """Facts about a deployment's resources that authorization depends on."""

    keys: dict[str, str] = field(default_factory=dict)  # resource ARN -> customer managed key ARN
    partition_keys: dict[str, str] = field(default_factory=dict)  # table ARN -> partition key attribute
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> secret ARN

    def update(self, other: ResourceCatalog) -> None:
        self.keys.update(other.keys)
        self.partition_keys.update(other.partition_keys)
        self.secrets.update(other.secrets)


@dataclass(frozen=True)
class Call:
    service: str  # botocore service name: s3, dynamodb, stepfunctions, ...
    operation: str  # API operation: GetItem, PutObject, ...
    params: dict
    region: str
    account: str

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


Mapper = Callable[[Call, ResourceCatalog], list[Request]]


def authorizations(call: Call, catalog: ResourceCatalog) -> list[Request]:
    """Every (action, resource) IAM checks for `call`, the implicit KMS ones included."""
    mapper = _MAPPERS.get(call.service, {}).get(call.operation)
    if mapper is None:
        raise UnmappedCall(
            f"{call.service}:{call.operation} is not in local/iam/requests.py: add how IAM authorizes it"
        )
    return mapper(call, catalog)


def _kms(catalog: ResourceCatalog, resource_arn: str, actions: Iterable[str], what: str) -> list[Request]:
    key = catalog.keys.get(resource_arn)
    if not key:
        return []
    because = f"{what} {resource_arn} is encrypted with the customer managed key {key}"
    return [Request(action, key, because=because) for action in actions]


# ---------------------------------------------------------------- DynamoDB

_DDB_WRITES = {"PutItem", "UpdateItem", "BatchWriteItem"}


def _table_arn(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")


def _attribute_value(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N", "B"):
        return str(next(iter(value.values())))
    return str(value)


def _leading_keys(catalog: ResourceCatalog, table_arn: str, keys: list[dict]) -> Callable[[], list | None]:
    def values():
        name = catalog.partition_keys.get(table_arn)
        if name is None:
            return None
        return sorted({_attribute_value(key[name]) for key in keys if name in key})

    return values


def _query_leading_key(call: Call, catalog: ResourceCatalog, table_arn: str) -> Callable[[], list | None]:
    def values():
        name = catalog.partition_keys.get(table_arn)
        expression = call.params.get("KeyConditionExpression")
        if name is None or not isinstance(expression, str):
            return None
        names = call.params.get("ExpressionAttributeNames") or {}
        for left, right in re.findall(r"([#\w.]+)\s*=\s*(:\w+)", expression):
            if names.get(left, left) == name:
                return [_attribute_value((call.params.get("ExpressionAttributeValues") or {}).get(right))]
        return None

    return values


def _ddb_item(
    action: str, call: Call, catalog: ResourceCatalog, table: str, keys: list[dict]
) -> list[Request]:
    arn = _table_arn(call, table)
    kms = ["kms:Decrypt", "kms:GenerateDataKey"] if action in _DDB_WRITES else ["kms:Decrypt"]
    request = Request(f"dynamodb:{action}", arn, {"dynamodb:LeadingKeys": _leading_keys(catalog, arn, keys)})
    return [request, *_kms(catalog, arn, kms, "table")]


def _ddb_single(call: Call, catalog: ResourceCatalog) -> list[Request]:
    key = call.params.get("Key") or call.params.get("Item") or {}
    return _ddb_item(call.operation, call, catalog, call.params["TableName"], [key])


def _ddb_read_many(call: Call, catalog: ResourceCatalog) -> list[Request]:
    arn = _table_arn(call, call.params["TableName"])
    resource = f"{arn}/index/{call.params['IndexName']}" if call.params.get("IndexName") else arn
    context = {}
    if call.operation == "Query":
        context["dynamodb:LeadingKeys"] = _query_leading_key(call, catalog, arn)
    return [
        Request(f"dynamodb:{call.operation}", resource, context),
        *_kms(catalog, arn, ["kms:Decrypt"], "table"),
    ]


def _ddb_transact_write(call: Call, catalog: ResourceCatalog) -> list[Request]:
    actions = {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
    }
    found = []
    for item in call.params.get("TransactItems", []):
        ((kind, body),) = item.items()
        found += _ddb_item(
            actions[kind], call, catalog, body["TableName"], [body.get("Key") or body.get("Item") or {}]
        )
    return found


def _ddb_transact_get(call: Call, catalog: ResourceCatalog) -> list[Request]:
    found = []
    for item in call.params.get("TransactItems", []):
        body = item["Get"]
        found += _ddb_item("GetItem", call, catalog, body["TableName"], [body.get("Key") or {}])
    return found


def _ddb_batch(call: Call, catalog: ResourceCatalog) -> list[Request]:
    found = []
    for table, body in (call.params.get("RequestItems") or {}).items():
        if call.operation == "BatchGetItem":
            keys = body.get("Keys", [])
        else:
            keys = [
                (r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key") or {}
                for r in body
            ]
        found += _ddb_item(call.operation, call, catalog, table, keys)
    return found


def _ddb_table(call: Call, catalog: ResourceCatalog) -> list[Request]:
    return [Request(f"dynamodb:{call.operation}", _table_arn(call, call.params["TableName"]))]


# ---------------------------------------------------------------- S3


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _object(call: Call) -> tuple[str, str]:
    bucket = call.params["Bucket"]
    return _bucket_arn(bucket), f"{_bucket_arn(bucket)}/{call.params['Key']}"


def _s3_read(call: Call, catalog: ResourceCatalog) -> list[Request]:
    bucket, obj = _object(call)
    action = "s3:GetObjectVersion" if call.params.get("VersionId") else "s3:GetObject"
    return [Request(action, obj), *_kms(catalog, bucket, ["kms:Decrypt"], "bucket")]


def _write_key(call: Call, catalog: ResourceCatalog, bucket: str) -> str | None:
    if call.params.get("ServerSideEncryption") == "AES256":
        return None
    explicit = call.params.get("SSEKMSKeyId")
    if explicit:
        return explicit if explicit.startswith("arn:") else call.arn("kms", f"key/{explicit}")
    return catalog.keys.get(bucket)


def _s3_write(call: Call, catalog: ResourceCatalog, kms_actions=("kms:GenerateDataKey",)) -> list[Request]:
    bucket, obj = _object(call)
    found = [Request("s3:PutObject", obj)]
    key = _write_key(call, catalog, bucket)
    if key and kms_actions:
        found += [
            Request(a, key, because=f"objects written to {bucket} are encrypted with {key}")
            for a in kms_actions
        ]
    return found


def _s3_copy(call: Call, catalog: ResourceCatalog) -> list[Request]:
    source = call.params["CopySource"]
    if isinstance(source, str):
        path, _, query = source.lstrip("/").partition("?")
        source_bucket, _, source_key = path.partition("/")
        version = "versionId=" in query
    else:
        source_bucket, source_key, version = source["Bucket"], source["Key"], bool(source.get("VersionId"))
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    found = [Request(action, f"{_bucket_arn(source_bucket)}/{source_key}")]
    found += _kms(catalog, _bucket_arn(source_bucket), ["kms:Decrypt"], "bucket")
    return found + _s3_write(call, catalog)


def _s3_bucket(action: str) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        return [Request(action, _bucket_arn(call.params["Bucket"]), {"s3:prefix": call.params.get("Prefix")})]

    return mapper


def _s3_object(action: str, versioned: str | None = None) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        return [
            Request(versioned if versioned and call.params.get("VersionId") else action, _object(call)[1])
        ]

    return mapper


def _s3_delete_objects(call: Call, catalog: ResourceCatalog) -> list[Request]:
    bucket = _bucket_arn(call.params["Bucket"])
    return [
        Request(
            "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
            f"{bucket}/{item['Key']}",
        )
        for item in (call.params.get("Delete") or {}).get("Objects", [])
    ]


# ---------------------------------------------------------------- SQS


def _queue_arn(call: Call) -> str:
    if "QueueUrl" in call.params:
        account, name = call.params["QueueUrl"].rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{call.region}:{account}:{name}"
    owner = call.params.get("QueueOwnerAWSAccountId") or call.account
    return f"arn:aws:sqs:{call.region}:{owner}:{call.params['QueueName']}"


def _sqs(action: str, kms_actions: tuple[str, ...] = ()) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        arn = _queue_arn(call)
        return [Request(action, arn), *_kms(catalog, arn, kms_actions, "queue")]

    return mapper


# ---------------------------------------------------------------- the others


def _secret(action: str, kms_actions: tuple[str, ...]) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        secret = call.params["SecretId"]
        arn = (
            secret
            if secret.startswith("arn:")
            else catalog.secrets.get(secret, call.arn("secretsmanager", f"secret:{secret}"))
        )
        return [Request(action, arn), *_kms(catalog, arn, kms_actions, "secret")]

    return mapper


def _by_param(action: str, param: str) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        return [Request(action, call.params[param])]

    return mapper


def _training_job(action: str) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        # SageMaker ARNs hold the job name in lower case
        arn = call.arn("sagemaker", f"training-job/{call.params['TrainingJobName'].lower()}")
        found = [Request(action, arn)]
        if action == "sagemaker:CreateTrainingJob":
            found.append(
                Request(
                    "iam:PassRole",
                    call.params["RoleArn"],
                    {"iam:PassedToService": "sagemaker.amazonaws.com"},
                    because="the training job runs as this role",
                )
            )
            if call.params.get("Tags"):
                found.append(Request("sagemaker:AddTags", arn, because="the job is created with tags"))
        return found

    return mapper


def _lambda_invoke(call: Call, catalog: ResourceCatalog) -> list[Request]:
    name = call.params["FunctionName"]
    if not name.startswith("arn:"):
        name = call.arn("lambda", f"function:{name}")
    if call.params.get("Qualifier") and name.count(":") == 6:
        name = f"{name}:{call.params['Qualifier']}"
    return [Request("lambda:InvokeFunction", name)]


def _put_events(call: Call, catalog: ResourceCatalog) -> list[Request]:
    buses = {entry.get("EventBusName") or "default" for entry in call.params.get("Entries", [])}
    return [
        Request("events:PutEvents", bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}"))
        for bus in sorted(buses)
    ]


def _event_rule(param: str) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        bus = call.params.get("EventBusName") or "default"
        rule = call.params[param] if bus == "default" else f"{bus}/{call.params[param]}"
        return [Request(f"events:{call.operation}", call.arn("events", f"rule/{rule}"))]

    return mapper


def _put_metric_data(call: Call, catalog: ResourceCatalog) -> list[Request]:
    return [Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": call.params.get("Namespace")})]


def _log_stream(action: str) -> Mapper:
    def mapper(call: Call, catalog: ResourceCatalog) -> list[Request]:
        group = call.params["logGroupName"]
        stream = call.params.get("logStreamName")
        resource = f"log-group:{group}:log-stream:{stream}" if stream else f"log-group:{group}:*"
        return [Request(action, call.arn("logs", resource))]

    return mapper


def _no_authorization(call: Call, catalog: ResourceCatalog) -> list[Request]:
    return []  # sts:GetCallerIdentity needs no permission


_MAPPERS: dict[str, dict[str, Mapper]] = {
    "dynamodb": {
        "GetItem": _ddb_single,
        "PutItem": _ddb_single,
        "UpdateItem": _ddb_single,
        "DeleteItem": _ddb_single,
        "Query": _ddb_read_many,
        "Scan": _ddb_read_many,
        "BatchGetItem": _ddb_batch,
        "BatchWriteItem": _ddb_batch,
        "TransactWriteItems": _ddb_transact_write,
        "TransactGetItems": _ddb_transact_get,
        "DescribeTable": _ddb_table,
        "DescribeTimeToLive": _ddb_table,
    },
    "s3": {
        "GetObject": _s3_read,
        "HeadObject": _s3_read,
        "PutObject": _s3_write,
        "CreateMultipartUpload": lambda call, catalog: _s3_write(
            call, catalog, ("kms:GenerateDataKey", "kms:Decrypt")
        ),
        "UploadPart": lambda call, catalog: _s3_write(call, catalog, ()),
        "CompleteMultipartUpload": lambda call, catalog: _s3_write(call, catalog, ()),
        "AbortMultipartUpload": _s3_object("s3:AbortMultipartUpload"),
        "CopyObject": _s3_copy,
        "DeleteObject": _s3_object("s3:DeleteObject", versioned="s3:DeleteObjectVersion"),
        "DeleteObjects": _s3_delete_objects,
        "ListObjectsV2": _s3_bucket("s3:ListBucket"),
        "ListObjects": _s3_bucket("s3:ListBucket"),
        "ListObjectVersions": _s3_bucket("s3:ListBucketVersions"),
        "HeadBucket": _s3_bucket("s3:ListBucket"),
        "GetBucketLocation": _s3_bucket("s3:GetBucketLocation"),
    },
    "sqs": {
        "SendMessage": _sqs("sqs:SendMessage", ("kms:GenerateDataKey", "kms:Decrypt")),
        "SendMessageBatch": _sqs("sqs:SendMessage", ("kms:GenerateDataKey", "kms:Decrypt")),
        "ReceiveMessage": _sqs("sqs:ReceiveMessage", ("kms:Decrypt",)),
        "DeleteMessage": _sqs("sqs:DeleteMessage"),
        "DeleteMessageBatch": _sqs("sqs:DeleteMessage"),
        "ChangeMessageVisibility": _sqs("sqs:ChangeMessageVisibility"),
        "ChangeMessageVisibilityBatch": _sqs("sqs:ChangeMessageVisibility"),
        "GetQueueAttributes": _sqs("sqs:GetQueueAttributes"),
        "GetQueueUrl": _sqs("sqs:GetQueueUrl"),
    },
    "secretsmanager": {
        "GetSecretValue": _secret("secretsmanager:GetSecretValue", ("kms:Decrypt",)),
        "DescribeSecret": _secret("secretsmanager:DescribeSecret", ()),
        "PutSecretValue": _secret("secretsmanager:PutSecretValue", ("kms:GenerateDataKey",)),
        # moves a staging label, no secret value is read or written: no KMS use (key rotation's finishSecret)
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
        "UpdateSecretVersionStage": _secret("secretsmanager:UpdateSecretVersionStage", ()),
    },
    "stepfunctions": {
        "StartExecution": _by_param("states:StartExecution", "stateMachineArn"),
        "ListExecutions": _by_param("states:ListExecutions", "stateMachineArn"),
        "DescribeStateMachine": _by_param("states:DescribeStateMachine", "stateMachineArn"),
        "DescribeExecution": _by_param("states:DescribeExecution", "executionArn"),
        "GetExecutionHistory": _by_param("states:GetExecutionHistory", "executionArn"),
        "StopExecution": _by_param("states:StopExecution", "executionArn"),
    },
    "sagemaker": {
        "CreateTrainingJob": _training_job("sagemaker:CreateTrainingJob"),
        "DescribeTrainingJob": _training_job("sagemaker:DescribeTrainingJob"),
        "StopTrainingJob": _training_job("sagemaker:StopTrainingJob"),
        "ListTags": _by_param("sagemaker:ListTags", "ResourceArn"),
        "AddTags": _by_param("sagemaker:AddTags", "ResourceArn"),
    },
    "lambda": {"Invoke": _lambda_invoke, "InvokeAsync": _lambda_invoke},
    "events": {
        "PutEvents": _put_events,
        "PutRule": _event_rule("Name"),
        "DescribeRule": _event_rule("Name"),
        "PutTargets": _event_rule("Rule"),
    },
    "cloudwatch": {"PutMetricData": _put_metric_data},
    "logs": {
        "CreateLogGroup": _log_stream("logs:CreateLogGroup"),
        "CreateLogStream": _log_stream("logs:CreateLogStream"),
        "PutLogEvents": _log_stream("logs:PutLogEvents"),
    },
    "sts": {"GetCallerIdentity": _no_authorization},
}
