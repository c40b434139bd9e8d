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

from local.cfn import Values, attributes_of, resolve
from local.iam import roles as iam_roles

REPO_ROOT = Path(__file__).resolve().parents[2]
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
    attributes: dict = field(default_factory=dict)  # logical id -> {"Ref": ..., "Arn": ...}
    role_arns: dict = field(default_factory=dict)  # function / state machine logical id -> role ARN

    def values(self) -> Values:
        return Values(
            region=REGION,
            parameters=self.parameters,
            attributes=self.attributes,
            conditions=self.template.get("Conditions", {}),
            mappings=self.template.get("Mappings", {}),
            stack_name="mlnews-test",
        )

    def resolve(self, value):
        return resolve(value, self.values())

    def condition(self, name: str) -> bool:
        return self.values().condition(name)

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


def create_stack(
    parameters: dict | None = None, session: boto3.session.Session | None = None, template: dict | None = None
) -> Stack:
    """Create keys, secrets, buckets, tables, queues and the event bus of template.yaml (or of `template`, a
    changed copy of it) in moto; its roles are enforced by local IAM."""
    template = copy.deepcopy(template) if template is not None else load_template()
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
    _register_roles(stack)
    return stack


@functools.cache
def _translated(template: str, parameters: tuple) -> str:
    return json.dumps(iam_roles.translated(json.loads(template), {k: str(v) for k, v in parameters}))


def translated(stack: Stack) -> dict:
    """samtranslator's CloudFormation for the stack's template and parameters (translated once per set)."""
    template = json.dumps(stack.template, sort_keys=True)
    return json.loads(_translated(template, tuple(sorted(stack.parameters.items()))))


def _register_roles(stack: Stack) -> None:
    """Make every role known to local IAM, so calls made as a function are authorized as AWS would
    (local/iam). Functions, roles and the state machine get the names tests create them under later."""
    cfn = translated(stack)
    planned = {}
    for logical, spec in cfn["Resources"].items():
        if spec["Type"] in ("AWS::Lambda::Function", "AWS::IAM::Role"):
            planned[logical] = attributes_of(spec["Type"], f"mlnews-test-{logical}", REGION)
        elif spec["Type"] == "AWS::StepFunctions::StateMachine":
            name = stack.resolve(stack.properties(logical)["Name"])
            arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
            planned[logical] = attributes_of(spec["Type"], arn, REGION)
    values = stack.values()
    values.attributes = {**planned, **stack.attributes}
    stack.role_arns = iam_roles.register(cfn, values)


def create_role(stack: Stack, logical_id: str, service: str) -> str:
    """The role `logical_id` (a function or state machine) runs as, created in moto's IAM; what it may do is
    decided by local IAM from the template (moto's IAM keeps no managed policies and enforces nothing)."""
    arn = stack.role_arns[logical_id]
    iam = shared_session().client("iam")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    }
    try:
        iam.create_role(RoleName=arn.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    return arn


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
            substitutions[name] = f"arn:aws:iam::{ACCOUNT_ID}:role/mlnews-test-{ref[0]}"  # as _register_roles
        else:
            substitutions[name] = str(stack.resolve(value))
    substitutions.update(extra or {})
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    leftover = re.findall(r"\$\{[A-Za-z]+\}", text)
    if leftover:
        raise ValueError(f"unsubstituted placeholders in the definition: {leftover}")
    return text
