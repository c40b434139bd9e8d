"""Deploy template.yaml into the embedded moto: SAM -> CloudFormation (offline) -> moto CloudFormation.

Every resource comes from the template; nothing is listed twice. What `sam package` / AWS would do and moto
cannot is done here, and only that:
- code is zipped and uploaded to (moto) S3, and `DefinitionUri` files are inlined, before translation;
- API Gateway resources are left out (moto's CloudFormation crashes on SAM's RestApi; `local.http_front`
  serves the routes instead) and so are state machines (moto would put them in its non-executing backend)
  and secrets (not in moto's CloudFormation; created through the API first); references to them are
  replaced by the values they have;
- state machines are then created through the executing Step Functions API with `DefinitionSubstitutions`
  applied, their values resolved by moto itself through extra stack outputs.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.cfn import Values, attributes_of, resolve
from local.emulator import ACCOUNT_ID, lambda_sources
from local.iam import roles as iam_roles

DEFAULT_STACK_NAME = "mlnews-local"
DEPLOY_BUCKET = "mlnews-local-deployment"
_REMOVED_PREFIXES = ("AWS::ApiGateway::", "AWS::ApiGatewayV2::")
_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_SECRET = "AWS::SecretsManager::Secret"


class DeployError(RuntimeError):
    """The template could not be deployed into the emulator (message says why)."""


# ---------------------------------------------------------------- template loading


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


# ---------------------------------------------------------------- deployment description


@dataclass
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # /models/{version}/deploy, /{proxy+}
    function_id: str  # logical id of the function
    auth: str = "NONE"  # NONE or AWS_IAM (or an authorizer name)
    function_name: str = ""

    @property
    def pattern(self) -> re.Pattern:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.path.rstrip("/") or "/"):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{_group(part[1:-2])}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{_group(part[1:-1])}>[^/]+)"
            else:
                regex += re.escape(part)
        return re.compile(f"^{regex}/?$")

    def parameter_names(self) -> list[str]:
        return [name.rstrip("+") for name in re.findall(r"\{([^}]+)\}", self.path)]


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass
class ScheduleTarget:
    source_id: str  # logical id of the rule / schedule
    expression: str  # rate(...) / cron(...)
    target_arn: str
    input: str | None
    enabled: bool = True

    @property
    def kind(self) -> str:
        return "states" if ":states:" in self.target_arn else "lambda"


@dataclass
class Deployment:
    stack_name: str
    region: str
    template_path: Path
    parameters: dict[str, str]
    sam: dict
    cfn: dict
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical -> (type, physical id)
    functions: dict[str, str] = field(default_factory=dict)  # logical -> function name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical -> arn
    routes: list[Route] = field(default_factory=list)
    schedules: list[ScheduleTarget] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    not_emulated: dict[str, int] = field(default_factory=dict)  # resource type -> count (moto lacks them)
    role_arns: dict[str, str] = field(default_factory=dict)  # function / state machine -> its role ARN

    def physical(self, logical_id: str) -> str:
        if logical_id in self.state_machines:
            return self.state_machines[logical_id]
        try:
            return self.resources[logical_id][1]
        except KeyError:
            raise DeployError(f"no resource {logical_id} in {self.template_path.name}") from None

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {k: v for k, (t, v) in self.resources.items() if t == resource_type}

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Resolved environment variables of a function (as moto holds them)."""
        return dict(self._function_env.get(logical_id, {}))

    _function_env: dict[str, dict[str, str]] = field(default_factory=dict)


# ---------------------------------------------------------------- SAM -> CloudFormation


class _AnyManagedPolicy(dict):
    """Offline stand-in for IAM ListPolicies: every AWS managed policy name maps to its ARN."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name, default=None):
        return self[name] if isinstance(name, str) else default


class _OfflinePolicyLoader:
    def load(self) -> dict[str, str]:
        return _AnyManagedPolicy()


def package(sam: dict, template_dir: Path, s3, region: str) -> tuple[dict, dict[str, Path]]:
    """What `sam build` + `sam package` do: code to S3, DefinitionUri inlined. Returns (template, code dir
    per id). A function built with `Metadata: BuildMethod: makefile` gets what its Makefile's build targets
    copy (`LAMBDA_SOURCES`); any other gets its whole CodeUri directory."""
    sam = copy.deepcopy(sam)
    resources = sam.get("Resources", {})
    globals_fn = (sam.get("Globals") or {}).get("Function") or {}
    global_code = globals_fn.get("CodeUri")
    if _is_local_path(global_code):
        globals_fn.pop("CodeUri")  # each function gets its own uploaded package below
    uploads: dict[tuple[Path, tuple[str, ...] | None], str] = {}
    code_dirs: dict[str, Path] = {}
    _ensure_bucket(s3, DEPLOY_BUCKET, region)

    def upload(directory: Path, sources: tuple[str, ...] | None = None) -> str:
        if (directory, sources) not in uploads:
            data = function_package(directory, sources)
            key = f"code/{hashlib.sha256(data).hexdigest()[:16]}.zip"
            s3.put_object(Bucket=DEPLOY_BUCKET, Key=key, Body=data)
            uploads[directory, sources] = f"s3://{DEPLOY_BUCKET}/{key}"
        return uploads[directory, sources]

    for logical_id, resource in resources.items():
        props = resource.setdefault("Properties", {}) or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri", global_code)
            if code_uri is None and props.get("InlineCode") is None:
                code_uri = "."  # SAM's default: the template's directory
            code_dirs[logical_id] = template_dir.resolve()
            if _is_local_path(code_uri):
                directory = code_dirs[logical_id] = (template_dir / code_uri).resolve()
                props["CodeUri"] = upload(directory, _build_sources(logical_id, resource, directory))
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = props.get("ContentUri")
            if _is_local_path(content):
                props["ContentUri"] = upload((template_dir / content).resolve())
        elif resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            with open(template_dir / props.pop("DefinitionUri"), encoding="utf-8") as fh:
                props["Definition"] = json.load(fh) if fh.name.endswith(".json") else yaml.safe_load(fh)
    return sam, code_dirs


def _is_local_path(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _build_sources(logical_id: str, resource: dict, directory: Path) -> tuple[str, ...] | None:
    if (resource.get("Metadata") or {}).get("BuildMethod") != "makefile":
        return None
    try:
        return lambda_sources(directory / "Makefile")
    except RuntimeError as error:
        raise DeployError(f"{logical_id}: {error}") from None


def function_package(directory: Path, sources: tuple[str, ...] | None = None) -> bytes:
    """The package of a function: `sources` (folders of `directory`) or the whole directory."""
    roots = [directory / name for name in sources] if sources is not None else [directory]
    missing = [root.name for root in roots if not root.is_dir()]
    if missing:
        raise DeployError(f"{directory}: no folder {', '.join(missing)} to package")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root in roots:
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def translate(sam: dict, parameters: dict[str, str]) -> dict:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    try:
        return transform(sam, dict(parameters), _OfflinePolicyLoader())
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in getattr(error, "causes", [])) or str(error)
        raise DeployError(f"SAM template is invalid: {causes}") from error


def routes_of(sam: dict) -> list[Route]:
    """API routes of the SAM template (Api and HttpApi events), with their authorization."""
    resources = sam.get("Resources", {})
    globals_api = ((sam.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") not in ("Api", "HttpApi"):
                continue
            props = event.get("Properties") or {}
            api_auth = globals_api
            api_ref = props.get("RestApiId") or props.get("ApiId")
            if isinstance(api_ref, dict) and "Ref" in api_ref:
                api_props = resources.get(api_ref["Ref"], {}).get("Properties") or {}
                api_auth = api_props.get("Auth") or api_auth
            auth = (props.get("Auth") or {}).get("Authorizer") or api_auth.get("DefaultAuthorizer") or "NONE"
            method = str(props.get("Method", "ANY")).upper()
            routes.append(
                Route(
                    "ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method,
                    props.get("Path", "/"),
                    logical_id,
                    str(auth),
                )
            )
    # literal segments win over parameters, longer paths over shorter ones (API Gateway's precedence)
    routes.sort(key=lambda r: (r.path.count("{"), -r.path.count("/"), r.method == "ANY"))
    return routes


# ---------------------------------------------------------------- what moto can take


def _pseudo(stack_name: str, region: str, parameters: dict[str, str]) -> dict[str, str]:
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


def _placeholders(
    cfn: dict, stack_name: str, region: str, parameters: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Values that references to left-out resources resolve to: {logical id: {attribute or '': value}}."""
    names = _pseudo(stack_name, region, parameters or {})
    values = {}
    for logical_id, resource in cfn.get("Resources", {}).items():
        rtype = resource.get("Type", "")
        if rtype == _STATE_MACHINE:
            name = (
                resolve_static((resource.get("Properties") or {}).get("StateMachineName"), names)
                or f"{stack_name}-{logical_id}"
            )
            if not isinstance(name, str):
                raise DeployError(f"{logical_id}: StateMachineName must use only parameters")
            arn = f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}"
            values[logical_id] = {"": arn, "Arn": arn, "Name": name}
        elif rtype.startswith(_REMOVED_PREFIXES):
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
        if resource.get("Type") != _SECRET:
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
    removed = {**_placeholders(cfn, stack_name, region, parameters), **(created or {})}
    state_machines = {
        k: cfn["Resources"][k] for k, v in removed.items() if cfn["Resources"][k]["Type"] == _STATE_MACHINE
    }
    kept = {
        k: v
        for k, v in cfn["Resources"].items()
        if v["Type"] not in (_STATE_MACHINE, _SECRET) and not v["Type"].startswith(_REMOVED_PREFIXES)
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


# ---------------------------------------------------------------- deploy


def _ensure_bucket(s3, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:
        kwargs = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **kwargs)


def default_parameters(sam: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {
        name: str(spec["Default"])
        for name, spec in (sam.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }
    values.update(overrides or {})
    unknown = set(overrides or {}) - set(sam.get("Parameters") or {})
    if unknown:
        raise DeployError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    missing = set(sam.get("Parameters") or {}) - set(values)
    if missing:
        raise DeployError(f"template parameters without a value: {', '.join(sorted(missing))}")
    return values


def deploy(
    emulator,
    template_path: Path,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: dict[str, str] | None = None,
) -> Deployment:
    """Deploy the SAM template into the running emulator; returns where everything is."""
    template_path = Path(template_path).resolve()
    sam = load_template(template_path)
    params = default_parameters(sam, parameters)
    s3, cfn_client = emulator.client("s3"), emulator.client("cloudformation")
    packaged, code_dirs = package(sam, template_path.parent, s3, emulator.region)
    cfn = translate(packaged, params)
    secrets = create_secrets(
        cfn, emulator.client("secretsmanager"), stack_name, _pseudo(stack_name, emulator.region, params)
    )
    for_moto, state_machines = prepare_for_moto(cfn, stack_name, emulator.region, params, secrets)
    cfn_client.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(for_moto),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn_client.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    deployment = Deployment(stack_name, emulator.region, template_path, params, sam, cfn)
    for page in cfn_client.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for item in page["StackResourceSummaries"]:
            if not item.get("LogicalResourceId"):
                continue
            deployment.resources[item["LogicalResourceId"]] = (
                item["ResourceType"],
                item.get("PhysicalResourceId", ""),
            )
    for logical_id, values in secrets.items():
        deployment.resources[logical_id] = (_SECRET, values[""])
    deployment.functions = deployment.of_type("AWS::Lambda::Function")
    deployment.outputs = {k: v for k, v in outputs.items() if not k.startswith("Local")}
    _put_event_invoke_configs(emulator, cfn, deployment)
    deployment.not_emulated = _not_emulated(for_moto)
    _create_state_machines(emulator, deployment, state_machines, outputs)
    deployment.schedules = _resolved_schedules(
        for_moto, outputs, _pseudo(stack_name, emulator.region, params)
    )
    deployment.routes = routes_of(sam)
    for route in deployment.routes:
        route.function_name = deployment.functions.get(route.function_id, "")
        if not route.function_name:
            raise DeployError(f"route {route.method} {route.path}: function {route.function_id} not deployed")
    lam = emulator.client("lambda")
    for logical_id, name in deployment.functions.items():
        emulator.lambdas.code_dirs[name] = code_dirs.get(logical_id, template_path.parent)
        config = lam.get_function_configuration(FunctionName=name)
        deployment._function_env[logical_id] = (config.get("Environment") or {}).get("Variables", {})
    deployment.role_arns = iam_roles.register(cfn, deployed_values(deployment))
    return deployment


def deployed_values(deployment: Deployment) -> Values:
    """What the template's intrinsics resolve to in this deployment (for local IAM: roles and keys)."""
    attributes = {
        logical_id: attributes_of(rtype, physical, deployment.region)
        for logical_id, (rtype, physical) in deployment.resources.items()
        if physical
    }
    for logical_id, values in _placeholders(
        deployment.cfn, deployment.stack_name, deployment.region, deployment.parameters
    ).items():
        attributes[logical_id] = {("Ref" if key == "" else key): value for key, value in values.items()}
    return Values(
        region=deployment.region,
        parameters=deployment.parameters,
        attributes=attributes,
        conditions=deployment.cfn.get("Conditions", {}),
        mappings=deployment.cfn.get("Mappings", {}),
        stack_name=deployment.stack_name,
    )


def _put_event_invoke_configs(emulator, cfn: dict, deployment: Deployment) -> None:
    """moto's CloudFormation has no AWS::Lambda::EventInvokeConfig: applied through the Lambda API (local
    mode's asynchronous invocations honour its retries and OnFailure destination)."""
    values = deployed_values(deployment)
    lam = emulator.client("lambda")
    for resource in cfn.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resolve(resource.get("Properties") or {}, values)
        config = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in props}
        if props.get("DestinationConfig"):
            config["DestinationConfig"] = props["DestinationConfig"]
        lam.put_function_event_invoke_config(FunctionName=props["FunctionName"], **config)


def _not_emulated(for_moto: dict) -> dict[str, int]:
    from moto.cloudformation.parsing import get_model_map

    known = {*get_model_map(), "AWS::Lambda::EventInvokeConfig"}  # applied by _put_event_invoke_configs
    counts: dict[str, int] = {}
    for resource in for_moto["Resources"].values():
        rtype = resource.get("Type", "")
        if rtype not in known and not rtype.startswith("Custom::"):
            counts[rtype] = counts.get(rtype, 0) + 1
    return counts


def _create_state_machines(
    emulator, deployment: Deployment, machines: dict[str, dict], outputs: dict
) -> None:
    sfn = emulator.client("stepfunctions")
    for index, (logical_id, resource) in enumerate(machines.items()):
        props = resource.get("Properties") or {}
        names = list((props.get("DefinitionSubstitutions") or {}).keys())
        values = {name: outputs.get(f"LocalSfn{index}Sub{j}", "") for j, name in enumerate(names)}
        definition = _definition_text(props)
        unresolved = set(re.findall(r"\$\{(\w+)\}", definition)) - set(values)
        if unresolved:
            raise DeployError(f"{logical_id}: no DefinitionSubstitutions for {', '.join(sorted(unresolved))}")
        definition = re.sub(r"\$\{(\w+)\}", lambda m, v=values: str(v[m.group(1)]), definition)
        name = _placeholders(
            {"Resources": {logical_id: resource}},
            deployment.stack_name,
            deployment.region,
            deployment.parameters,
        )[logical_id]["Name"]
        arn = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=outputs[f"LocalSfn{index}Role"],
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        deployment.state_machines[logical_id] = arn
        deployment.resources[logical_id] = (_STATE_MACHINE, arn)


def _resolved_schedules(for_moto: dict, outputs: dict, names: dict[str, str]) -> list[ScheduleTarget]:
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
