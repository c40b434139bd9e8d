"""The embedded AWS: a moto server on 127.0.0.1 whose Lambda functions run in this process.

moto 5.2.5 never runs a Lambda handler without Docker, so `LambdaFunction._invoke_lambda` (the one method
every
invoke path goes through: Invoke API, Step Functions, event source mappings) is replaced by a version that
imports the function's handler from the repository and calls it. Lambda functions each get their own copy of
the project modules (`core`, `handlers`, `training`), the way each function has its own container in AWS, so
per-process caches (settings, clients, loaded models) never leak from one function into another.
Invocations are serialised by one re-entrant lock because environment variables are process-global.
Async invokes (InvocationType=Event) return 202 at once and run on a worker thread, as on AWS: run inline, a
handler that invokes another function asynchronously would wait on the lock it holds (another server thread).
"""

from __future__ import annotations

import io
import json
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from local.iam.enforcement import access_control, role_client
from local.iam.enforcement import install as install_iam_checks
from local.packaging import lambda_sources
from local.template import REPO_ROOT

# Modules each function gets its own copy of: what its package holds.
PROJECT_PACKAGES = lambda_sources()

# Environment every process of local mode shares: dummy credentials, never a real AWS account.
_LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
_UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


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
    lock: threading.RLock = field(default_factory=threading.RLock)
    runtimes: dict[str, FunctionRuntime] = field(default_factory=dict)
    stream: ThreadRoutedStream | None = None
    tmp_root: Path | None = None  # stands in for each function's /tmp

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
        import importlib

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
        env.update(_LOCAL_ENV)  # tracing stays off locally
        if access_control.knows(function.role):  # as Lambda does: the role's credentials, checked (local/iam)
            env.update(access_control.credentials(function.role, function.function_name))
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            _restore_environ(saved)

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
        import importlib

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


class AsyncInvoker:
    """One daemon worker that runs queued async invocations in order, after their caller returned."""

    def __init__(self):
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._guard = threading.Lock()

    def submit(self, call) -> None:
        with self._guard:
            if self._thread is None:
                self._queue, self._closing = queue.Queue(), threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue, self._closing), name="lambda-async", daemon=True
                )
                self._thread.start()
            self._queue.put(call)

    @staticmethod
    def _run(work: queue.Queue, closing: threading.Event) -> None:
        while (call := work.get()) is not None:
            if closing.is_set():
                continue  # stopping: drop what is left
            try:
                call()
            except Exception:  # a failed async invoke must not kill the worker (AWS would retry it)
                traceback.print_exc(file=sys.stderr)

    def close(self, timeout: float = 10.0) -> None:
        """Let queued invocations finish for up to `timeout` seconds, then drop the rest."""
        with self._guard:
            thread, work, closing = self._thread, self._queue, self._closing
            self._thread = self._queue = None
        if thread is None:
            return
        work.put(None)
        thread.join(timeout)
        closing.set()


def run_async_invocation(lambdas: InProcessLambda, function, body) -> None:
    """An asynchronous invocation as Lambda runs it: retried up to the function's MaximumRetryAttempts
    (default 2) on a function error, then, if it still fails, a failure record sent to its OnFailure
    destination with the function's role (as Lambda does; checked by local IAM). AWS waits a minute and
    then two between attempts; here they follow at once. Only SQS destinations are emulated.
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"""
    configs = getattr(function, "event_invoke_config", None) or []
    config = configs[0].config if configs else {}
    attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
    event = json.loads(body or "{}") if isinstance(body, str | bytes) else body
    for _attempt in range(attempts):
        payload, errored, _logs = lambdas.invoke(function, event)
        if not errored:
            return
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if not destination:
        return  # dropped, as on AWS
    record = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function.function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": json.loads(payload),
    }
    if not destination.startswith("arn:aws:sqs:"):
        print(f"local mode: OnFailure destination {destination} is not emulated (SQS only)", file=sys.stderr)
        return
    import boto3

    region, account, name = destination.split(":")[3:6]
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if access_control.knows(function.role):
        sqs = role_client("sqs", function.role, function.function_name, region, endpoint)
    else:
        sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint, aws_access_key_id="local",
                           aws_secret_access_key="local")
    sqs.send_message(QueueUrl=f"{endpoint}/{account}/{name}", MessageBody=json.dumps(record))


def _restore_environ(saved: dict[str, str | None]) -> None:
    """Put back variables as they were (None: was not set)."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _take_project_modules() -> dict:
    names = [name for name in sys.modules if name.split(".", 1)[0] in PROJECT_PACKAGES]
    return {name: sys.modules.pop(name) for name in names}


class Emulator:
    """moto server on 127.0.0.1 with Step Functions execution on and in-process Lambda."""

    def __init__(
        self, port: int = 0, region: str | None = None, log_dir: Path | None = None, echo_logs: bool = False
    ):
        self.requested_port = port
        self.region = (
            region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        )
        self.lambdas = InProcessLambda(log_dir=log_dir, echo_logs=echo_logs)
        self._server = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_stdout = None
        self._original_invoke = None
        self._original_function_invoke = None
        self.async_invoker = AsyncInvoker()
        self._saved_moto_config: dict = {}
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        # moto's settings are process-wide: kept to be put back on stop, so code that runs moto in the same
        # process afterwards (a test suite) gets moto as it was, e.g. state machines that do not execute.
        self._saved_moto_config = {key: default_user_config.get(key) for key in ("stepfunctions", "lambda")}
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        # use_docker stays on ("off" routes invokes to a no-op backend); the Docker call itself is replaced.
        default_user_config["lambda"] = {"use_docker": True}
        install_iam_checks()
        access_control.reset()  # roles of an earlier deployment in this process no longer exist
        self._install_lambda()
        from local import sagemaker

        sagemaker.install()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.requested_port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.reset()  # moto's backends are process-global: start from nothing, whatever ran before
        self._set_env(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "MOTO_PORT": str(self.port),
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                **_LOCAL_ENV,
            }
        )
        return self

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"), timeout=30
        ).read()

    def stop(self) -> None:
        self.async_invoker.close()  # before the reset: queued work still sees its resources
        if self._server is not None:
            self.reset()
            self._server.stop()
            self._server = None
        from local import sagemaker

        sagemaker.uninstall()
        self._uninstall_lambda()
        self._restore_moto_config()
        _restore_environ(self._saved_env)
        self._saved_env = {}
        _reset_project_clients()

    def _restore_moto_config(self) -> None:
        from moto.core.config import default_user_config

        for key, value in self._saved_moto_config.items():
            if value is None:
                default_user_config.pop(key, None)
            else:
                default_user_config[key] = value
        self._saved_moto_config = {}

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def _set_env(self, values: dict[str, str]) -> None:
        for key in (*values, *_UNSET_ENV):
            self._saved_env.setdefault(key, os.environ.get(key))
        for key in _UNSET_ENV:
            os.environ.pop(key, None)
        os.environ.update(values)
        _reset_project_clients()

    def _install_lambda(self) -> None:
        from moto.awslambda.models import LambdaFunction

        lambdas = self.lambdas
        self._original_invoke = LambdaFunction._invoke_lambda

        def _invoke_lambda(function, event=None):
            return lambdas.invoke(function, event)

        LambdaFunction._invoke_lambda = _invoke_lambda
        original_invoke = self._original_function_invoke = LambdaFunction.invoke
        invoker = self.async_invoker

        def invoke(function, body, request_headers, response_headers):
            if (request_headers or {}).get("x-amz-invocation-type") != "Event":
                return original_invoke(function, body, request_headers, response_headers)
            invoker.submit(lambda: run_async_invocation(lambdas, function, body))
            return b""  # AWS answers 202 with an empty body; not None, which moto turns into a 404

        LambdaFunction.invoke = invoke
        if not lambdas.echo_logs and not isinstance(sys.stdout, ThreadRoutedStream):
            self._saved_stdout = sys.stdout
            lambdas.stream = ThreadRoutedStream(sys.stdout)
            sys.stdout = lambdas.stream

    def _uninstall_lambda(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original_invoke is not None:
            LambdaFunction._invoke_lambda = self._original_invoke
            self._original_invoke = None
        if self._original_function_invoke is not None:
            LambdaFunction.invoke = self._original_function_invoke
            self._original_function_invoke = None
        if self._saved_stdout is not None and sys.stdout is self.lambdas.stream:
            sys.stdout = self._saved_stdout
        self._saved_stdout = None


def _reset_project_clients() -> None:
    """Host-side cached boto3 clients/settings must follow the endpoint we just set."""
    for name in ("core.aws_clients", "core.settings"):
        module = sys.modules.get(name)
        for reset in ("reset_clients", "reset_settings"):
            if module is not None and hasattr(module, reset):
                getattr(module, reset)()
