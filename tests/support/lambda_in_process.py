"""Run moto Lambda functions in-process: create them from template.yaml and patch moto's invoke path.

moto 5.2.5 routes every invoke (Invoke API, Step Functions tasks, event source mappings) through
`LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`; replacing it lets the real handler
run in this process with the function's environment. Environment variables are process-global, so calls are
serialised with a re-entrant lock.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import threading
import traceback
import uuid
import zipfile
from contextlib import contextmanager

from local.iam.enforcement import access_control
from tests.support.template_resources import REGION, Stack, create_role, shared_session

_LOCK = threading.RLock()
PATCHED_NAME = "_invoke_lambda"


class LambdaContext:
    def __init__(self, function_name: str = "test-function", memory: int = 512):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _reset_process_caches() -> None:
    from core.aws_clients import reset_clients
    from core.settings import reset_settings

    reset_settings()
    reset_clients()


@contextmanager
def overlaid_environ(environment: dict[str, str]):
    """`environment` on top of os.environ for the block, with the process's cached settings and clients
    made again on entry and exit (they read the environment once)."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    _reset_process_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_process_caches()


def call_handler(handler_path: str, event, environment: dict[str, str], function_name: str = "fn"):
    """Import `handlers/x.lambda_handler` and call it with `environment` overlaid on os.environ."""
    module_name, _, attribute = handler_path.rpartition(".")
    with _LOCK, overlaid_environ(environment):
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), attribute)
        return handler(event, LambdaContext(function_name))


def _in_process_invoke(self, event):
    payload = event if not isinstance(event, str) else json.loads(event or "{}")
    environment = dict(self.environment_vars or {})
    if access_control.knows(self.role):  # Lambda gives the handler its role's credentials
        environment.update(access_control.credentials(self.role, self.function_name))
    try:
        result = call_handler(self.handler, payload, environment, self.function_name)
        return json.dumps(result), False, ""
    except Exception as error:  # reported to the caller like Lambda does
        body = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exc().splitlines()[-5:],
        }
        return json.dumps(body), True, ""


@contextmanager
def in_process_lambda():
    from moto.awslambda.models import LambdaFunction

    original = getattr(LambdaFunction, PATCHED_NAME)  # AttributeError here = moto moved the private name
    setattr(LambdaFunction, PATCHED_NAME, _in_process_invoke)
    try:
        yield
    finally:
        setattr(LambdaFunction, PATCHED_NAME, original)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# code runs in-process in tests\n")
    return buffer.getvalue()


def create_functions(
    stack: Stack, logical_ids: list[str] | None = None, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Create the template's functions in moto (environment from the template); returns logical id -> ARN."""
    lambda_client = shared_session().client("lambda")
    globals_ = stack.template.get("Globals", {}).get("Function", {})
    arns = {}
    for logical in logical_ids or stack.logical_ids("AWS::Serverless::Function"):
        props = stack.properties(logical)
        environment = stack.function_environment(logical)
        environment.update(overrides or {})
        name = f"mlnews-test-{logical}"
        arn = lambda_client.create_function(
            FunctionName=name,
            Runtime=globals_.get("Runtime", "python3.12"),
            Role=create_role(stack, logical, "lambda.amazonaws.com"),
            Handler=props["Handler"],
            Code={"ZipFile": _dummy_zip()},
            Timeout=int(props.get("Timeout", globals_.get("Timeout", 30))),
            Environment={"Variables": environment},
        )["FunctionArn"]
        stack.attributes.setdefault(logical, {}).update({"Ref": name, "Arn": arn})
        arns[logical] = arn
    return arns


def refresh_environments(stack: Stack, overrides: dict[str, str] | None = None) -> None:
    """Re-resolve every created function's environment (after resources they reference exist)."""
    lambda_client = shared_session().client("lambda")
    for logical in stack.logical_ids("AWS::Serverless::Function"):
        if logical not in stack.attributes:
            continue
        environment = stack.function_environment(logical)
        environment.update(overrides or {})
        lambda_client.update_function_configuration(
            FunctionName=stack.attributes[logical]["Ref"], Environment={"Variables": environment}
        )
