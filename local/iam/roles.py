"""The IAM roles of a deployed template, as samtranslator builds them, resolved against what was created.

Roles keep their inline policies and the AWS managed policies SAM attaches (their documents as moto ships
them: AWS's own texts), so a function is held to exactly what `sam deploy` would give it. The resource
catalog says which customer managed key protects each table, bucket, queue, secret and topic.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass

from local.cfn import UnresolvedReference, Values, resolve
from local.iam.policy import PolicyError, statements
from local.iam.requests import ResourceCatalog

MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    statements: tuple[dict, ...]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@functools.cache
def _managed_policies() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def managed_policy(arn: str) -> dict:
    """The document of an AWS managed policy (arn:aws:iam::aws:policy/[path/]Name)."""
    if not arn.startswith(MANAGED_POLICY_PREFIX):
        raise PolicyError(f"{arn}: only AWS managed policies can be attached here")
    name = arn.rsplit("/", 1)[-1]
    try:
        return _managed_policies()[name]["Document"]
    except KeyError:
        raise PolicyError(f"{arn}: not an AWS managed policy known to moto") from None


def translated(sam: dict, parameters: dict[str, str]) -> dict:
    """samtranslator's CloudFormation for `sam`, with local code paths stood in by S3 locations as
    `sam package` would leave them (nothing is uploaded; only the roles and resources are read)."""
    from local.translation import translate

    sam = copy.deepcopy(sam)
    for section in (sam.get("Globals") or {}).values():
        if isinstance(section, dict) and isinstance(section.get("CodeUri"), str):
            section["CodeUri"] = "s3://code-bucket/function.zip"
    for spec in sam.get("Resources", {}).values():
        props = spec.get("Properties") or {}
        if isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://code-bucket/function.zip"
        if isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = "s3://code-bucket/definition.json"
    return translate(sam, parameters)


def roles(cfn: dict, values: Values) -> dict[str, Role]:
    """Every AWS::IAM::Role of the translated template, by logical id."""
    found = {}
    for logical_id, spec in cfn.get("Resources", {}).items():
        if spec.get("Type") != "AWS::IAM::Role":
            continue
        props = spec.get("Properties") or {}
        documents = [resolve(policy["PolicyDocument"], values) for policy in props.get("Policies") or []]
        documents += [managed_policy(resolve(arn, values)) for arn in props.get("ManagedPolicyArns") or []]
        found[logical_id] = Role(logical_id, values.get_att(logical_id, "Arn"), tuple(statements(documents)))
    return found


def role_users(cfn: dict, values: Values) -> dict[str, str]:
    """Which role each function and state machine runs as: logical id -> role ARN."""
    users = {}
    for logical_id, spec in cfn.get("Resources", {}).items():
        props = spec.get("Properties") or {}
        if spec.get("Type") == "AWS::Lambda::Function" and "Role" in props:
            users[logical_id] = resolve(props["Role"], values)
        elif spec.get("Type") == "AWS::StepFunctions::StateMachine" and "RoleArn" in props:
            users[logical_id] = resolve(props["RoleArn"], values)
    return users


def catalog(cfn: dict, values: Values) -> ResourceCatalog:
    """Customer managed keys behind encrypted resources, table partition keys and secret names."""
    aliases = {}
    for spec in cfn.get("Resources", {}).values():
        if spec.get("Type") == "AWS::KMS::Alias":
            props = resolve(spec["Properties"], values)
            aliases[props["AliasName"]] = props["TargetKeyId"]

    def key_arn(value) -> str | None:
        if not value:
            return None
        value = str(value)
        if ":alias/" in value or value.startswith("alias/"):
            target = aliases.get("alias/" + value.split("alias/", 1)[1])
            return key_arn(target) if target else None  # an AWS managed alias: not the caller's to grant
        if value.startswith("arn:"):
            return value
        return f"arn:aws:kms:{values.region}:{values.account_id}:key/{value}"

    found = ResourceCatalog()
    for logical_id, spec in cfn.get("Resources", {}).items():
        kind, props = spec.get("Type"), spec.get("Properties") or {}
        try:
            if kind == "AWS::DynamoDB::Table":
                arn = values.get_att(logical_id, "Arn")
                sse = props.get("SSESpecification") or {}
                key = sse.get("KMSMasterKeyId") if sse.get("SSEEnabled") else None
                for key_schema in props.get("KeySchema", []):
                    if key_schema.get("KeyType") == "HASH":
                        found.partition_keys[arn] = key_schema["AttributeName"]
            elif kind == "AWS::S3::Bucket":
                arn = values.get_att(logical_id, "Arn")
                rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
                defaults = [rule.get("ServerSideEncryptionByDefault") or {} for rule in rules]
                key = next(
                    (d.get("KMSMasterKeyID") for d in defaults if d.get("SSEAlgorithm") == "aws:kms"), None
                )
            elif kind == "AWS::SQS::Queue":
                arn, key = values.get_att(logical_id, "Arn"), props.get("KmsMasterKeyId")
            elif kind == "AWS::SecretsManager::Secret":
                arn, key = values.ref(logical_id), props.get("KmsKeyId")
                found.secrets[arn.rsplit(":", 1)[-1].rsplit("-", 1)[0]] = arn  # name-<6 random characters>
            elif kind == "AWS::SNS::Topic":
                arn, key = values.ref(logical_id), props.get("KmsMasterKeyId")
            else:
                continue
            key = key_arn(resolve(key, values))
        except UnresolvedReference:
            continue  # not part of this deployment (a test stack creates only some resources)
        if key:
            found.keys[arn] = key
    return found


def register(cfn: dict, values: Values, control=None) -> dict[str, str]:
    """Make the deployment's roles and resources known to local IAM; returns logical id -> role ARN of every
    function and state machine. A role is labelled with what runs as it (for refusal reports)."""
    from local.iam.enforcement import access_control

    control = control or access_control
    users = role_users(cfn, values)
    for role in roles(cfn, values).values():
        label = ", ".join(sorted(k for k, arn in users.items() if arn == role.arn)) or role.logical_id
        control.register(role.arn, label, role.statements)
    control.add_resources(catalog(cfn, values))
    return users
