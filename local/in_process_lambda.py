"""Lambda functions run in this process: the one in-process runner, for local mode and the tests.

moto 5.2.5 never runs a Lambda handler without Docker, so `LambdaFunction._invoke_lambda` (the one method
every invoke path goes through: Invoke API, Step Functions, event source mappings) is replaced, while
`InProcessLambda.installed()` is active, by a version that imports the function's handler from its code
directory and calls it with the function's environment and, when local IAM knows its role, the role's
credentials. Lambda functions each get their own copy of the project modules (`core`, `handlers`,
`training`), the way each function has its own container in AWS, so per-process caches (settings, clients,
loaded models) never leak from one function into another. Invocations are serialised by one re-entrant lock,
ENVIRONMENT_LOCK, because environment variables are process-global (code that changes them for a handler it
calls itself, as the tests do, takes it too).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from local.iam.enforcement import access_control
from local.packaging import lambda_sources
from local.template import REPO_ROOT

# Modules each function gets its own copy of: what its package holds.
PROJECT_PACKAGES = lambda_sources()

# Environment every process of local mode shares: dummy credentials, never a real AWS account.
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
ENVIRONMENT_LOCK = threading.RLock()


class ThreadRoutedStream(io.TextIOBase):
    """sys.stdout stand-in: writes from a thread running a Lambda handler go to that function's log."""

    def __init__(self, fallback):
        self._fallback = fallback
        self._local = threading.local()

    def route(self, target) -> None:
        self._local.target = target

    def write(self, text: str) -> int:
        target = getattr(self._local, "target", None)
        return (target or self._fallback).write(text)

    def flush(self) -> None:
        target = getattr(self._local, "target", None)
        (target or self._fallback).flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):  # noqa: D401 - mirrors TextIOBase
        return getattr(self._fallback, "encoding", "utf-8")


class LambdaContext:
    """The attributes of the AWS Lambda context object that handlers and Powertools read."""

    def __init__(self, function, request_id: str):
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.function_arn
        self.memory_limit_in_mb = int(function.memory_size or 128)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function.function_name}"
        self.log_stream_name = f"local/{request_id}"
        self._deadline = time.monotonic() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionRuntime:
    """What stays warm between invocations of one function (its 'container')."""

    modules: dict = field(default_factory=dict)
    invocations: int = 0


@dataclass
class InProcessLambda:
    """Runs Lambda handlers in this process; installed over moto's Docker-based invoke."""

    repo_root: Path = REPO_ROOT
    log_dir: Path | None = None
    echo_logs: bool = False
    code_dirs: dict[str, Path] = field(default_factory=dict)  # function name -> CodeUri directory
    lock: threading.RLock = ENVIRONMENT_LOCK
    runtimes: dict[str, FunctionRuntime] = field(default_factory=dict)
    stream: ThreadRoutedStream | None = None
    tmp_root: Path | None = None  # stands in for each function's /tmp

    @contextmanager
    def installed(self):
        """While the block runs, every invocation moto makes runs its handler here."""
        from moto.awslambda.models import LambdaFunction

        original = LambdaFunction._invoke_lambda

        def _invoke_lambda(function, event=None):
            return self.invoke(function, event)

        LambdaFunction._invoke_lambda = _invoke_lambda
        try:
            yield self
        finally:
            LambdaFunction._invoke_lambda = original

    def invoke(self, function, event) -> tuple[str, bool, str]:
        """Replacement body of `LambdaFunction._invoke_lambda`: (payload json, errored, logs)."""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        request_id = str(uuid.uuid4())
        buffer = io.StringIO()
        with self.lock:
            runtime = self.runtimes.setdefault(function.function_name, FunctionRuntime())
            with self._function_env(function), self._function_modules(function, runtime), self._route(buffer):
                try:
                    handler = self._load_handler(function)
                    result = handler(event, LambdaContext(function, request_id))
                    payload, errored = json.dumps(result, default=str), False
                except Exception as error:  # the handler's failure is the invocation's result
                    traceback.print_exc(file=buffer)
                    payload = json.dumps(
                        {
                            "errorMessage": str(error),
                            "errorType": type(error).__name__,
                            "requestId": request_id,
                            "stackTrace": traceback.format_tb(error.__traceback__),
                        }
                    )
                    errored = True
            runtime.invocations += 1
        logs = buffer.getvalue()
        self._keep_logs(function, request_id, logs, errored)
        return payload, errored, logs

    def call_in_function(self, function, call):
        """Run call(handler module) in the function's environment and module copy (e.g. read its schema)."""
        with self.lock:
            runtime = self.runtimes.setdefault(function.function_name, FunctionRuntime())
            with (
                self._function_env(function),
                self._function_modules(function, runtime),
                self._route(io.StringIO()),
            ):
                module_name = function.handler.rpartition(".")[0].replace("/", ".")
                return call(importlib.import_module(module_name))

    @contextmanager
    def _function_env(self, function):
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size or 128),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "_HANDLER": function.handler,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "LAMBDA_TASK_ROOT": str(self._code_dir(function)),
        }
        env.update(
            {k: self._private_tmp(function, str(v)) for k, v in (function.environment_vars or {}).items()}
        )
        env.update(LOCAL_ENV)  # tracing stays off locally
        if access_control.knows(function.role):  # as Lambda does: the role's credentials, checked (local/iam)
            env.update(access_control.credentials(function.role, function.function_name))
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        # Each Lambda function has its own process, so boto3's default session (which keeps the credentials
        # it first found) must not carry another caller's credentials into this function's calls.
        host_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = host_session
            restore_environ(saved)

    @contextmanager
    def _function_modules(self, function, runtime: FunctionRuntime):
        host = _take_project_modules()
        sys.modules.update(runtime.modules)
        code_dir = str(self._code_dir(function))
        added = code_dir not in sys.path
        if added:
            sys.path.insert(0, code_dir)
        try:
            yield
        finally:
            if added:
                sys.path.remove(code_dir)
            runtime.modules = _take_project_modules()
            sys.modules.update(host)

    @contextmanager
    def _route(self, buffer: io.StringIO):
        if self.stream is None or self.echo_logs:
            yield
            return
        self.stream.route(buffer)
        try:
            yield
        finally:
            self.stream.route(None)

    def _private_tmp(self, function, value: str) -> str:
        # Each Lambda container has its own /tmp; in one process, each function gets a directory instead.
        if self.tmp_root is None or not (value == "/tmp" or value.startswith("/tmp/")):
            return value
        return str(self.tmp_root / function.function_name) + value[len("/tmp") :]

    def _code_dir(self, function) -> Path:
        return self.code_dirs.get(function.function_name, self.repo_root)

    def _load_handler(self, function):
        module_name, _, attribute = function.handler.rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        return getattr(module, attribute)

    def _keep_logs(self, function, request_id: str, logs: str, errored: bool) -> None:
        header = f"--- {time.strftime('%H:%M:%S')} {request_id}{' ERROR' if errored else ''}\n"
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / f"{function.function_name}.log", "a", encoding="utf-8") as fh:
                fh.write(header + logs)
        try:  # also into moto's CloudWatch Logs, so `aws logs` works against local mode
            function.logs_backend.ensure_log_group(function.logs_group_name)
            function.save_logs(logs or header)
        except Exception:  # logging must never turn a result into a failure
            pass


def restore_environ(saved: dict[str, str | None]) -> None:
    """Put back variables as they were (None: was not set)."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _take_project_modules() -> dict:
    names = [name for name in sys.modules if name.split(".", 1)[0] in PROJECT_PACKAGES]
    return {name: sys.modules.pop(name) for name in names}
