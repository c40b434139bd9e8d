"""The embedded AWS: a moto server on 127.0.0.1 whose Lambda functions run in this process
(local.in_process_lambda), asynchronous invocations on a worker thread (local.async_invocations) and
SageMaker training jobs that train (local.sagemaker).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

from local.async_invocations import AsyncInvoker
from local.iam.enforcement import access_control
from local.iam.enforcement import install as install_iam_checks
from local.in_process_lambda import LOCAL_ENV, InProcessLambda, ThreadRoutedStream, restore_environ
from local.sagemaker import TrainingJobs

_UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


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
        self.async_invoker = AsyncInvoker()
        self.training = TrainingJobs()
        self._server = None
        self._saved_env: dict[str, str | None] = {}
        self._patches = ExitStack()  # what start() replaced in moto and sys, put back by stop()
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
        self._patches.enter_context(self.lambdas.installed())
        self._patches.enter_context(self.async_invoker.installed(self.lambdas))
        self._route_stdout()
        self._patches.enter_context(self.training.installed())
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
                **LOCAL_ENV,
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
        self._patches.close()
        self._restore_moto_config()
        restore_environ(self._saved_env)
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

    def _route_stdout(self) -> None:
        """Handlers' prints go to their function's log (unless echoed): sys.stdout routes by thread."""
        if self.lambdas.echo_logs or isinstance(sys.stdout, ThreadRoutedStream):
            return
        saved = sys.stdout
        self.lambdas.stream = ThreadRoutedStream(saved)
        sys.stdout = self.lambdas.stream

        def put_back() -> None:
            if sys.stdout is self.lambdas.stream:
                sys.stdout = saved

        self._patches.callback(put_back)


def _reset_project_clients() -> None:
    """Host-side cached boto3 clients/settings must follow the endpoint we just set."""
    for name in ("core.aws_clients", "core.settings"):
        module = sys.modules.get(name)
        for reset in ("reset_clients", "reset_settings"):
            if module is not None and hasattr(module, reset):
                getattr(module, reset)()
