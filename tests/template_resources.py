"""Create the stateful resources of template.yaml in moto, from the template's own definitions.

Tests never restate key schemas, queue attributes or bucket settings: they read them here from template.yaml,
resolve the intrinsic functions they use (Ref, GetAtt, Sub, If) and create the resources with boto3.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct(tag: str):
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in (
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Join",
    "Select",
    "Split",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "Base64",
    "GetAZs",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


@functools.cache
def _parsed(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def load_template(path: Path = TEMPLATE_PATH) -> dict:
    """template.yaml with short-form intrinsics in long form (a fresh copy; parsing is cached)."""
    return copy.deepcopy(_parsed(path))


@dataclass
class Stack:
    """Physical names/ARNs of what was created, plus a resolver for the template's intrinsics."""

    template: dict
    parameters: dict
    attributes: dict = field(default_factory=dict)  # logical id -> {"Ref": ..., "Arn": ..., ...}

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes[logical][attribute]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in arg)
                return str(left) == str(right)
        return {key: self.resolve(item) for key, item in value.items()}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _ref(self, name: str):
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "mlnews-test",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.attributes[name]["Ref"]

    def _sub(self, arg):
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match):
            token = match.group(1)
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token and not token.startswith("AWS::"):
                logical, attribute = token.split(".", 1)
                return str(self.attributes[logical][attribute])
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resource(self, logical_id: str) -> dict:
        return self.template["Resources"][logical_id]

    def properties(self, logical_id: str) -> dict:
        return self.resource(logical_id).get("Properties", {})

    def logical_ids(self, resource_type: str) -> list[str]:
        return [name for name, res in self.template["Resources"].items() if res["Type"] == resource_type]

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Globals + function variables, resolved; references to resources not created are skipped."""
        variables = dict(
            self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        variables.update(self.properties(logical_id).get("Environment", {}).get("Variables", {}))
        resolved = {}
        for name, value in variables.items():
            try:
                resolved[name] = str(self.resolve(value))
            except KeyError:
                continue
        return resolved


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for test setup: parsing botocore's service models once saves ~0.1 s per client."""
    return boto3.session.Session(region_name=REGION)


def _physical_name(logical_id: str) -> str:
    return f"mlnews-test-{logical_id}-{secrets.token_hex(3)}".lower()


def create_stack(parameters: dict | None = None, session: boto3.session.Session | None = None) -> Stack:
    """Create keys, secrets, buckets, tables, queues and the event bus of template.yaml (in moto)."""
    template = load_template()
    params = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    params.update(parameters or {})
    stack = Stack(template=template, parameters=params)
    session = session or shared_session()

    kms = session.client("kms")
    for logical in stack.logical_ids("AWS::KMS::Key"):
        key = kms.create_key(Description=stack.resolve(stack.properties(logical).get("Description", logical)))
        stack.attributes[logical] = {"Ref": key["KeyMetadata"]["KeyId"], "Arn": key["KeyMetadata"]["Arn"]}

    secretsmanager = session.client("secretsmanager")
    for logical in stack.logical_ids("AWS::SecretsManager::Secret"):
        props = stack.resolve(stack.properties(logical))
        spec = props["GenerateSecretString"]
        value = secretsmanager.get_random_password(
            PasswordLength=int(spec["PasswordLength"]),
            ExcludePunctuation=bool(spec.get("ExcludePunctuation")),
        )["RandomPassword"]
        arn = secretsmanager.create_secret(
            Name=_physical_name(logical), SecretString=value, KmsKeyId=props.get("KmsKeyId")
        )["ARN"]
        stack.attributes[logical] = {"Ref": arn, "Id": arn}

    s3 = session.client("s3")
    for logical in stack.logical_ids("AWS::S3::Bucket"):
        props = stack.resolve(stack.properties(logical))
        name = _physical_name(logical)
        s3.create_bucket(Bucket=name)
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if props.get("BucketEncryption"):
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                        "KMSMasterKeyID": rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
                    },
                    "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        stack.attributes[logical] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}

    dynamodb = session.client("dynamodb")
    for logical in stack.logical_ids("AWS::DynamoDB::Table"):
        props = stack.resolve(stack.properties(logical))
        name = _physical_name(logical)
        kwargs = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props["BillingMode"],
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification"):
            sse = props["SSESpecification"]
            kwargs["SSESpecification"] = {
                "Enabled": sse["SSEEnabled"],
                "SSEType": sse["SSEType"],
                "KMSMasterKeyId": sse["KMSMasterKeyId"],
            }
        arn = dynamodb.create_table(**kwargs)["TableDescription"]["TableArn"]
        stack.attributes[logical] = {"Ref": name, "Arn": arn}

    sqs = session.client("sqs")
    queues = stack.logical_ids("AWS::SQS::Queue")
    # Dead-letter queues first: the others reference them in RedrivePolicy.
    queues.sort(key=lambda logical: "RedrivePolicy" in stack.properties(logical))
    for logical in queues:
        props = stack.resolve(stack.properties(logical))
        attributes = {
            key: str(value)
            for key, value in props.items()
            if key
            in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
                "DelaySeconds",
            )
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": props["RedrivePolicy"]["deadLetterTargetArn"],
                    "maxReceiveCount": int(props["RedrivePolicy"]["maxReceiveCount"]),
                }
            )
        name = _physical_name(logical)
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.attributes[logical] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    events = session.client("events")
    for logical in stack.logical_ids("AWS::Events::EventBus"):
        name = stack.resolve(stack.properties(logical)["Name"])
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        stack.attributes[logical] = {"Ref": name, "Name": name, "Arn": arn}
    return stack


def state_machine_definition(
    stack: Stack,
    function_arns: dict[str, str],
    logical_id: str = "RetrainingStateMachine",
    extra: dict | None = None,
) -> str:
    """The ASL file with DefinitionSubstitutions applied (`function_arns` fills the function ARNs)."""
    props = stack.properties(logical_id)
    text = (REPO_ROOT / props["DefinitionUri"]).read_text()
    substitutions = {}
    for name, value in props["DefinitionSubstitutions"].items():
        ref = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if ref and ref[0] in function_arns:
            substitutions[name] = function_arns[ref[0]]
        elif ref and ref[0] not in stack.attributes:
            substitutions[name] = f"arn:aws:iam::{ACCOUNT_ID}:role/{ref[0]}"
        else:
            substitutions[name] = str(stack.resolve(value))
    substitutions.update(extra or {})
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    leftover = re.findall(r"\$\{[A-Za-z]+\}", text)
    if leftover:
        raise ValueError(f"unsubstituted placeholders in the definition: {leftover}")
    return text
