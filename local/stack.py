"""Deploy template.yaml into the embedded moto: SAM -> CloudFormation (offline) -> moto CloudFormation.

Every resource comes from the template; nothing is listed twice. The steps, each in its own module: read the
template (local.template), package the code as `sam package` would (local.packaging), translate SAM offline
(local.translation), fill in what moto's CloudFormation cannot take (local.moto_cloudformation), then record
where everything is (local.deployment) and make the roles known to local IAM.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from local import moto_cloudformation as moto_cfn
from local.deployment import Deployment
from local.iam import roles as iam_roles
from local.packaging import package
from local.routes import routes_of
from local.template import DeployError, default_parameters, load_template
from local.translation import translate

DEFAULT_STACK_NAME = "mlnews-local"


@dataclass
class MotoInThisProcess:
    """Where `deploy` deploys for the tests and the benchmarks: moto's backends in this process (mock_aws),
    reached with the caller's own credentials (never checked by local IAM); `lambdas` runs the deployed
    functions (a local.in_process_lambda.InProcessLambda)."""

    lambdas: object
    region: str = "us-east-1"

    def client(self, service: str):
        return _host_session(self.region).client(service)


@functools.cache
def _host_session(region: str):
    """One session per region: botocore's service models are parsed once (~0.1 s a client)."""
    import boto3

    return boto3.session.Session(
        region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def deploy(
    emulator,
    template_path: Path,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: dict[str, str] | None = None,
    template: dict | None = None,
) -> Deployment:
    """Deploy the SAM template into moto; returns where everything is. `emulator` is where to: its `region`,
    `client(service)` and the `lambdas` runner that will run the functions (a running Emulator, or
    MotoInThisProcess). `template`: a changed copy of the file's template, deployed instead of it (its
    paths are relative to the file's directory)."""
    template_path = Path(template_path).resolve()
    sam = load_template(template_path) if template is None else template
    params = default_parameters(sam, parameters)
    s3, cfn_client = emulator.client("s3"), emulator.client("cloudformation")
    packaged, code_dirs = package(sam, template_path.parent, s3, emulator.region)
    cfn = translate(packaged, params)
    names = moto_cfn.pseudo_parameters(stack_name, emulator.region, params)
    secrets = moto_cfn.create_secrets(cfn, emulator.client("secretsmanager"), stack_name, names)
    for_moto, state_machines = moto_cfn.prepare_for_moto(cfn, stack_name, emulator.region, params, secrets)
    moto_cfn.parse_json_bodies_as_json()
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
    deployment.left_out = moto_cfn.placeholders(cfn, stack_name, emulator.region, params)
    for page in cfn_client.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for item in page["StackResourceSummaries"]:
            if not item.get("LogicalResourceId"):
                continue
            deployment.resources[item["LogicalResourceId"]] = (
                item["ResourceType"],
                item.get("PhysicalResourceId", ""),
            )
    for logical_id, values in secrets.items():
        deployment.resources[logical_id] = (moto_cfn.SECRET, values[""])
    deployment.functions = deployment.of_type("AWS::Lambda::Function")
    deployment.outputs = {k: v for k, v in outputs.items() if not k.startswith("Local")}
    lam = emulator.client("lambda")
    moto_cfn.put_event_invoke_configs(lam, cfn, deployment.values())
    deployment.not_emulated = moto_cfn.not_emulated(for_moto)
    machines = moto_cfn.create_state_machines(
        emulator.client("stepfunctions"), state_machines, outputs, stack_name, emulator.region, params
    )
    for logical_id, arn in machines.items():
        deployment.state_machines[logical_id] = arn
        deployment.resources[logical_id] = (moto_cfn.STATE_MACHINE, arn)
    deployment.schedules = moto_cfn.resolved_schedules(for_moto, outputs, names)
    deployment.routes = routes_of(sam)
    for route in deployment.routes:
        route.function_name = deployment.functions.get(route.function_id, "")
        if not route.function_name:
            raise DeployError(f"route {route.method} {route.path}: function {route.function_id} not deployed")
    for logical_id, name in deployment.functions.items():
        emulator.lambdas.code_dirs[name] = code_dirs.get(logical_id, template_path.parent)
        config = lam.get_function_configuration(FunctionName=name)
        deployment._function_env[logical_id] = (config.get("Environment") or {}).get("Variables", {})
    deployment.role_arns = iam_roles.register(cfn, deployment.values())
    return deployment
