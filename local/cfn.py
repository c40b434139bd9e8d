"""CloudFormation values: resolve intrinsic functions against what a deployment created.

One resolver for every place that needs a template's values outside CloudFormation (the IAM roles and the
encryption keys local mode enforces, the test stacks): Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Equals,
Fn::Not, Fn::And, Fn::Or, Fn::Select, Fn::Split and Fn::FindInMap, as CloudFormation evaluates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account: every local and test deployment lives there


class UnresolvedReference(KeyError):
    """A Ref or GetAtt to something the deployment does not have (message names it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unresolved reference"


@dataclass
class Values:
    """What intrinsics resolve to: parameters, pseudo parameters and each resource's Ref and attributes."""

    region: str
    parameters: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # logical id -> {"Ref": ..., "Arn": ...}
    conditions: dict[str, Any] = field(default_factory=dict)  # the template's Conditions section
    mappings: dict[str, Any] = field(default_factory=dict)
    stack_name: str = "mlnews"
    account_id: str = ACCOUNT_ID

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": None,
        }

    def ref(self, name: str):
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.attributes and "Ref" in self.attributes[name]:
            return self.attributes[name]["Ref"]
        raise UnresolvedReference(f"Ref {name}: not a parameter or a resource of this deployment")

    def get_att(self, logical_id: str, attribute: str):
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise UnresolvedReference(
                f"GetAtt {logical_id}.{attribute}: not known for this deployment"
            ) from None

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise UnresolvedReference(f"Condition {name}: not in the template")
        return bool(resolve(self.conditions[name], self))


def resolve(node: Any, values: Values) -> Any:
    """`node` with every intrinsic function evaluated (raises UnresolvedReference when one cannot be)."""
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        function = _FUNCTIONS.get(key)
        if function is not None:
            return function(arg, values)
    return {key: resolve(value, values) for key, value in node.items()}


def _get_att(arg, values: Values):
    logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
    return values.get_att(logical_id, resolve(attribute, values))


def _sub(arg, values: Values) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    variables = {name: resolve(value, values) for name, value in variables.items()}

    def replace(match: re.Match) -> str:
        token = match.group(1)
        if token.startswith("!"):  # ${!Literal} is the literal ${Literal}
            return "${" + token[1:] + "}"
        if token in variables:
            return str(variables[token])
        if "." in token and not token.startswith("AWS::"):
            logical_id, attribute = token.split(".", 1)
            return str(values.get_att(logical_id, attribute))
        return str(values.ref(token))

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def _if(arg, values: Values):
    name, when_true, when_false = arg
    return resolve(when_true if values.condition(name) else when_false, values)


def _find_in_map(arg, values: Values):
    mapping, first, second = (resolve(item, values) for item in arg)
    try:
        return values.mappings[mapping][first][second]
    except KeyError:
        raise UnresolvedReference(f"FindInMap {mapping}.{first}.{second}: no such entry") from None


_FUNCTIONS = {
    "Ref": lambda arg, values: values.ref(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": lambda arg, values: str(arg[0]).join(str(part) for part in resolve(arg[1], values)),
    "Fn::If": _if,
    "Fn::Equals": lambda arg, values: str(resolve(arg[0], values)) == str(resolve(arg[1], values)),
    "Fn::Not": lambda arg, values: not resolve(arg[0], values),
    "Fn::And": lambda arg, values: all(resolve(item, values) for item in arg),
    "Fn::Or": lambda arg, values: any(resolve(item, values) for item in arg),
    "Condition": lambda arg, values: values.condition(arg),
    "Fn::Select": lambda arg, values: resolve(arg[1], values)[int(resolve(arg[0], values))],
    "Fn::Split": lambda arg, values: str(resolve(arg[1], values)).split(arg[0]),
    "Fn::FindInMap": _find_in_map,
}


def attributes_of(resource_type: str, physical_id: str, region: str, account_id: str = ACCOUNT_ID) -> dict:
    """Ref and the attributes CloudFormation gives a resource of `resource_type`, from its physical id."""
    arn = f"arn:aws:{{}}:{region}:{account_id}:{{}}"
    if resource_type == "AWS::DynamoDB::Table":
        return {"Ref": physical_id, "Arn": arn.format("dynamodb", f"table/{physical_id}")}
    if resource_type == "AWS::S3::Bucket":
        return {
            "Ref": physical_id,
            "Arn": f"arn:aws:s3:::{physical_id}",
            "DomainName": f"{physical_id}.s3.amazonaws.com",
        }
    if resource_type == "AWS::SQS::Queue":  # physical id: the queue URL
        name = physical_id.rstrip("/").rsplit("/", 1)[-1]
        return {
            "Ref": physical_id,
            "QueueUrl": physical_id,
            "QueueName": name,
            "Arn": arn.format("sqs", name),
        }
    if resource_type == "AWS::KMS::Key":
        return {"Ref": physical_id, "KeyId": physical_id, "Arn": arn.format("kms", f"key/{physical_id}")}
    if resource_type == "AWS::Lambda::Function":
        return {"Ref": physical_id, "Arn": arn.format("lambda", f"function:{physical_id}")}
    if resource_type == "AWS::IAM::Role":
        return {
            "Ref": physical_id,
            "Arn": f"arn:aws:iam::{account_id}:role/{physical_id}",
            "RoleId": physical_id,
        }
    if resource_type == "AWS::Events::EventBus":
        return {
            "Ref": physical_id,
            "Name": physical_id,
            "Arn": arn.format("events", f"event-bus/{physical_id}"),
        }
    if resource_type in ("AWS::SecretsManager::Secret", "AWS::SNS::Topic"):  # physical id: the ARN
        name = physical_id.rsplit(":", 1)[-1]
        return {"Ref": physical_id, "Id": physical_id, "TopicArn": physical_id, "TopicName": name}
    if resource_type == "AWS::StepFunctions::StateMachine":  # physical id: the ARN
        return {"Ref": physical_id, "Arn": physical_id, "Name": physical_id.rsplit(":", 1)[-1]}
    if resource_type == "AWS::Logs::LogGroup":
        return {"Ref": physical_id, "Arn": arn.format("logs", f"log-group:{physical_id}:*")}
    return {"Ref": physical_id}
