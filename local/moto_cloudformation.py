"""What moto's CloudFormation cannot take, done another way (moto 5.2.5):
- API Gateway resources are left out (moto crashes on SAM's RestApi; `local.http_front` serves the routes) and
  so are state machines (moto would put them in its non-executing backend) and secrets (not in moto's
  CloudFormation; created through the API first); references to them are replaced by the values they have;
- state machines are then created through the executing Step Functions API with `DefinitionSubstitutions`
  applied, their values resolved by moto itself through extra stack outputs (so are schedule targets);
- `AWS::Lambda::EventInvokeConfig` is applied through the Lambda API;
- moto parses every template body with PyYAML's pure-Python loader first, 0.4 s for this project's template on
  every deployment (every test deploys it): a JSON body is parsed as JSON instead (same result).
"""

from __future__ import annotations

import json
import re
from typing import Any

from local.cfn import ACCOUNT_ID, Values, resolve
from local.deployment import ScheduleTarget
from local.template import DeployError

REMOVED_PREFIXES = ("AWS::ApiGateway::", "AWS::ApiGatewayV2::")
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
SECRET = "AWS::SecretsManager::Secret"


def parse_json_bodies_as_json() -> None:
    """moto's Stack.parse_template tries JSON first (idempotent, process-wide, same result for every body)."""
    from moto.cloudformation.models import Stack

    yaml_first = Stack.parse_template
    if getattr(yaml_first, "json_first", False):
        return

    def parse_template(template: str) -> dict[str, Any]:
        try:
            return json.loads(template)
        except ValueError:
            return yaml_first(template)

    parse_template.json_first = True
    Stack.parse_template = staticmethod(parse_template)


def pseudo_parameters(stack_name: str, region: str, parameters: dict[str, str]) -> dict[str, str]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        **parameters,
    }


def resolve_static(value: Any, names: dict[str, str]) -> Any:
    """Resolve Ref/Sub that use only parameters and pseudo parameters (e.g. a resource name)."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in names:
        return names[value["Ref"]]
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        text = re.sub(r"\$\{([\w:]+)\}", lambda m: names.get(m.group(1), m.group(0)), value["Fn::Sub"])
        if "${" not in text:
            return text
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        parts = [resolve_static(part, names) for part in parts]
        if all(isinstance(part, str) for part in parts):
            return separator.join(parts)
    return value


def placeholders(
    cfn: dict, stack_name: str, region: str, parameters: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Values that references to left-out resources resolve to: {logical id: {attribute or '': value}}."""
    names = pseudo_parameters(stack_name, region, parameters or {})
    values = {}
    for logical_id, resource in cfn.get("Resources", {}).items():
        rtype = resource.get("Type", "")
        if rtype == STATE_MACHINE:
            name = (
                resolve_static((resource.get("Properties") or {}).get("StateMachineName"), names)
                or f"{stack_name}-{logical_id}"
            )
            if not isinstance(name, str):
                raise DeployError(f"{logical_id}: StateMachineName must use only parameters")
            arn = f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}"
            values[logical_id] = {"": arn, "Arn": arn, "Name": name}
        elif rtype.startswith(REMOVED_PREFIXES):
            values[logical_id] = {"": "local", "RootResourceId": "root", "ApiEndpoint": "http://127.0.0.1"}
        elif rtype == "AWS::Events::EventBus":  # moto 5.2.5 resolves its Ref to an object, not the name
            name = resolve_static((resource.get("Properties") or {}).get("Name"), names)
            if isinstance(name, str):
                arn = f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{name}"
                values[logical_id] = {"": name, "Name": name, "Arn": arn}
    return values


def _replace_refs(node: Any, removed: dict[str, dict[str, str]]) -> Any:
    if isinstance(node, dict):
        if len(node) == 1 and "Ref" in node and node["Ref"] in removed:
            return removed[node["Ref"]][""]
        if len(node) == 1 and "Fn::GetAtt" in node:
            target, attribute = (
                (node["Fn::GetAtt"] + [""])[:2]
                if isinstance(node["Fn::GetAtt"], list)
                else node["Fn::GetAtt"].split(".", 1)
            )
            if target in removed:
                return removed[target].get(attribute, f"local-{target}-{attribute}")
        if len(node) == 1 and "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            text = _substitute_removed(text, removed, variables)
            variables = _replace_refs(variables, removed)
            return {"Fn::Sub": text if not variables else [text, variables]}
        return {key: _replace_refs(value, removed) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_refs(item, removed) for item in node]
    return node


def _substitute_removed(text: str, removed: dict, variables: dict) -> str:
    def value(match: re.Match) -> str:
        name, _, attribute = match.group(1).partition(".")
        if name in removed and name not in variables:
            return removed[name].get(attribute, f"local-{name}")
        return match.group(0)

    return re.sub(r"\$\{([\w.:]+)\}", value, text)


def create_secrets(cfn: dict, secretsmanager, stack_name: str, names: dict[str, str]) -> dict[str, dict]:
    """moto's CloudFormation has no AWS::SecretsManager::Secret: create them through the API instead."""
    values = {}
    for logical_id, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") != SECRET:
            continue
        props = resource.get("Properties") or {}
        name = resolve_static(props.get("Name"), names) or f"{stack_name}-{logical_id}"
        if not isinstance(name, str):
            raise DeployError(f"{logical_id}: secret Name must use only parameters")
        secret = props.get("SecretString")
        if not isinstance(secret, str):
            secret = _generated_secret(secretsmanager, props.get("GenerateSecretString") or {})
        arn = secretsmanager.create_secret(Name=name, SecretString=secret)["ARN"]
        values[logical_id] = {"": arn, "Id": arn, "Name": name}
    return values


def _generated_secret(secretsmanager, spec: dict) -> str:
    options = {
        key: spec[key]
        for key in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if key in spec
    }
    password = secretsmanager.get_random_password(**options)["RandomPassword"]
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password


def prepare_for_moto(
    cfn: dict,
    stack_name: str,
    region: str,
    parameters: dict[str, str] | None = None,
    created: dict[str, dict] | None = None,
) -> tuple[dict, dict[str, dict]]:
    """Leave out what moto cannot take; return (template for moto, left-out state machines).

    `created`: resources made through the API beforehand ({logical id: {attribute or '': value}}).
    """
    removed = {**placeholders(cfn, stack_name, region, parameters), **(created or {})}
    state_machines = {
        k: cfn["Resources"][k] for k, v in removed.items() if cfn["Resources"][k]["Type"] == STATE_MACHINE
    }
    kept = {
        k: v
        for k, v in cfn["Resources"].items()
        if v["Type"] not in (STATE_MACHINE, SECRET) and not v["Type"].startswith(REMOVED_PREFIXES)
    }
    template = _replace_refs({**cfn, "Resources": kept}, removed)
    for resource in template["Resources"].values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str):
            depends = [depends]
        if depends is not None:
            resource["DependsOn"] = [d for d in depends if d in kept]
            if not resource["DependsOn"]:
                resource.pop("DependsOn")
    # Values moto must resolve for us (state machine roles and substitutions, schedule targets).
    outputs = template.setdefault("Outputs", {})
    for index, resource in enumerate(state_machines.values()):
        props = _replace_refs(resource.get("Properties") or {}, removed)
        outputs[f"LocalSfn{index}Role"] = {
            "Value": props.get("RoleArn", f"arn:aws:iam::{ACCOUNT_ID}:role/local")
        }
        for j, value in enumerate((props.get("DefinitionSubstitutions") or {}).values()):
            outputs[f"LocalSfn{index}Sub{j}"] = {"Value": value}
    for index, (_, target) in enumerate(_schedule_targets(template)):
        outputs[f"LocalSchedule{index}Arn"] = {"Value": target.get("Arn")}
        if target.get("Input") is not None:
            outputs[f"LocalSchedule{index}Input"] = {"Value": target["Input"]}
    return template, {k: _replace_refs(v, removed) for k, v in state_machines.items()}


def _schedule_targets(cfn: dict) -> list[tuple[str, dict]]:
    found = []
    for logical_id, resource in cfn.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Events::Rule" and props.get("ScheduleExpression"):
            found += [(logical_id, target) for target in props.get("Targets", [])]
        elif resource.get("Type") == "AWS::Scheduler::Schedule" and props.get("Target"):
            found.append((logical_id, props["Target"]))
    return found


def _definition_text(props: dict) -> str:
    definition = props.get("DefinitionString") or props.get("Definition")
    if isinstance(definition, dict) and "Fn::Join" in definition:
        separator, parts = definition["Fn::Join"]
        if all(isinstance(p, str) for p in parts):
            return separator.join(parts)
        raise DeployError("state machine definition uses intrinsic functions; use DefinitionSubstitutions")
    if isinstance(definition, dict):
        return json.dumps(definition)
    if isinstance(definition, str):
        return definition
    raise DeployError("state machine has no inline definition")


def put_event_invoke_configs(lam, cfn: dict, values: Values) -> None:
    """moto's CloudFormation has no AWS::Lambda::EventInvokeConfig: applied through the Lambda API (local
    mode's asynchronous invocations honour its retries and OnFailure destination)."""
    for resource in cfn.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resolve(resource.get("Properties") or {}, values)
        config = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in props}
        if props.get("DestinationConfig"):
            config["DestinationConfig"] = props["DestinationConfig"]
        lam.put_function_event_invoke_config(FunctionName=props["FunctionName"], **config)


def not_emulated(for_moto: dict) -> dict[str, int]:
    from moto.cloudformation.parsing import get_model_map

    known = {*get_model_map(), "AWS::Lambda::EventInvokeConfig"}  # applied by put_event_invoke_configs
    counts: dict[str, int] = {}
    for resource in for_moto["Resources"].values():
        rtype = resource.get("Type", "")
        if rtype not in known and not rtype.startswith("Custom::"):
            counts[rtype] = counts.get(rtype, 0) + 1
    return counts


def create_state_machines(
    sfn, machines: dict[str, dict], outputs: dict, stack_name: str, region: str, parameters: dict[str, str]
) -> dict[str, str]:
    """The left-out state machines, created through the Step Functions API; returns logical id -> ARN."""
    created = {}
    for index, (logical_id, resource) in enumerate(machines.items()):
        props = resource.get("Properties") or {}
        names = list((props.get("DefinitionSubstitutions") or {}).keys())
        values = {name: outputs.get(f"LocalSfn{index}Sub{j}", "") for j, name in enumerate(names)}
        definition = _definition_text(props)
        unresolved = set(re.findall(r"\$\{(\w+)\}", definition)) - set(values)
        if unresolved:
            raise DeployError(f"{logical_id}: no DefinitionSubstitutions for {', '.join(sorted(unresolved))}")
        definition = re.sub(r"\$\{(\w+)\}", lambda m, v=values: str(v[m.group(1)]), definition)
        left_out = placeholders({"Resources": {logical_id: resource}}, stack_name, region, parameters)
        name = left_out[logical_id]["Name"]
        created[logical_id] = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=outputs[f"LocalSfn{index}Role"],
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
    return created


def resolved_schedules(for_moto: dict, outputs: dict, names: dict[str, str]) -> list[ScheduleTarget]:
    schedules = []
    for index, (logical_id, _) in enumerate(_schedule_targets(for_moto)):
        props = for_moto["Resources"][logical_id].get("Properties") or {}
        state = str(resolve_static(props.get("State", "ENABLED"), names)).upper()
        expression = resolve_static(props.get("ScheduleExpression", ""), names)
        schedules.append(
            ScheduleTarget(
                logical_id,
                str(expression),
                outputs.get(f"LocalSchedule{index}Arn", ""),
                outputs.get(f"LocalSchedule{index}Input"),
                enabled=state == "ENABLED",
            )
        )
    return schedules
