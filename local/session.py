"""One running local mode: emulator + deployed template + HTTP front + SQS poller + ticker (+ state)."""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from local import state as local_state
from local.cfn import ACCOUNT_ID
from local.deployment import Deployment
from local.emulator import Emulator
from local.http_front import HttpFront, merge_openapi
from local.sqs_poller import SqsPoller, disable_moto_sqs_mappings, invoke_payload, sqs_mappings
from local.stack import DEFAULT_STACK_NAME, deploy
from local.template import TEMPLATE_PATH
from local.ticker import Ticker
from local.waiting import WaitTimeout, wait_until

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class LocalConfig:
    port: int = 3000  # HTTP front; 0 = any free port
    moto_port: int = 0  # embedded AWS endpoint; 0 = any free port
    template: Path = TEMPLATE_PATH
    stack_name: str = DEFAULT_STACK_NAME
    parameters: dict[str, str] = field(default_factory=dict)
    state_dir: Path | None = None  # None = ephemeral
    tick_seconds: float = 0  # 0 = schedules fire only on `mlnews local tick`
    echo_logs: bool = False  # function logs to the console instead of <work>/logs
    max_batching_window: float | None = None  # cap on MaximumBatchingWindowInSeconds (tests use 0)


def _log_to_file(name: str, path: Path) -> None:
    logger = logging.getLogger(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    for handler in list(logger.handlers):
        if getattr(handler, "_mlnews_local", False):
            logger.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler._mlnews_local = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


class LocalSession:
    def __init__(self, config: LocalConfig | None = None):
        self.config = config or LocalConfig()
        self._work = tempfile.TemporaryDirectory(prefix="mlnews-local-")
        self.work_dir = Path(self._work.name)
        log_dir = (self.config.state_dir or self.work_dir) / "logs"
        self.emulator = Emulator(port=self.config.moto_port, log_dir=log_dir, echo_logs=self.config.echo_logs)
        self.emulator.lambdas.tmp_root = self.work_dir / "lambda-tmp"
        self.deployment: Deployment | None = None
        self.front: HttpFront | None = None
        self.poller: SqsPoller | None = None
        self.ticker: Ticker | None = None
        self.restored: dict[str, int] = {}
        self._lambda = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> LocalSession:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto's own warnings (unsupported resource types, Step Functions task failures) go to the logs dir;
        # describe() lists what is not emulated and executions keep their errors in their history.
        _log_to_file("moto", self.emulator.lambdas.log_dir / "moto.log")
        logging.getLogger("samtranslator").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", category=UserWarning, module="moto.cloudformation.parsing")
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.emulator.start()
        try:
            self.deployment = deploy(
                self.emulator, self.config.template, self.config.stack_name, self.config.parameters
            )
            self._lambda = self.emulator.client("lambda")
            if self.config.state_dir is not None:
                self.restored = local_state.restore(self.emulator, self.deployment, self.config.state_dir)
            disable_moto_sqs_mappings()
            sqs = self.emulator.client("sqs")
            self.poller = SqsPoller(
                sqs,
                self.invoke,
                sqs_mappings(self._lambda, sqs),
                self.emulator.region,
                max_window_seconds=self.config.max_batching_window,
            ).start()
            self.ticker = Ticker(
                self.deployment.schedules,
                self.invoke,
                self.start_execution,
                self.emulator.region,
                ACCOUNT_ID,
                self.config.tick_seconds,
            ).start()
            self.front = HttpFront(
                self.deployment.routes,
                self.invoke,
                port=self.config.port,
                stage=self.deployment.parameters.get("Environment", "local"),
                binary_types=self._binary_types(),
                region=self.emulator.region,
                openapi=self.openapi,
                control={"tick": lambda _: {"fired": self.tick()}, "status": lambda _: self.describe()},
            ).start()
        except BaseException:
            self.emulator.stop()
            raise
        return self

    def stop(self) -> dict[str, int]:
        """Stop everything; with a state dir, snapshot the data first. Returns the snapshot counts."""
        counts: dict[str, int] = {}
        for part in (self.ticker, self.front, self.poller):
            if part is not None:
                part.stop()
        if self.config.state_dir is not None and self.deployment is not None:
            counts = local_state.snapshot(self.emulator, self.deployment, self.config.state_dir)
        self.emulator.stop()
        self._work.cleanup()
        return counts

    def __enter__(self) -> LocalSession:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- operations
    def invoke(self, function: str, event: dict) -> tuple[object, bool]:
        return invoke_payload(self._lambda, function, event)

    def start_execution(self, state_machine_arn: str, payload: str, name: str | None = None) -> str:
        sfn = self.emulator.client("stepfunctions")
        name = name or f"local-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        return sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)[
            "executionArn"
        ]

    def wait_execution(self, execution_arn: str, timeout: float = 600, poll: float = 0.5) -> dict:
        """The execution once it ended, or as it is after `timeout` seconds."""
        sfn = self.emulator.client("stepfunctions")
        try:
            return wait_until(
                lambda: sfn.describe_execution(executionArn=execution_arn),
                lambda described: described["status"] in TERMINAL,
                timeout=timeout,
                interval=poll,
            )
        except WaitTimeout as timed_out:
            return timed_out.last

    def tick(self) -> list[dict]:
        return self.ticker.fire() if self.ticker else []

    def openapi(self, base_url: str) -> dict:
        schemas = {}
        for route in self.deployment.routes:
            if route.function_name not in schemas:
                schemas[route.function_name] = self._resolver_schema(route.function_name)
        return merge_openapi(base_url, self.deployment.routes, schemas)

    def _resolver_schema(self, function_name: str) -> dict | None:
        """The function's own Powertools OpenAPI schema, when its handler module exposes a resolver."""
        from moto.awslambda.models import lambda_backends

        try:
            function = lambda_backends[ACCOUNT_ID][self.emulator.region].get_function(function_name)

            def schema(module) -> dict | None:
                for value in vars(module).values():
                    if hasattr(value, "get_openapi_json_schema") and not isinstance(value, type):
                        return json.loads(value.get_openapi_json_schema())
                return None

            return self.emulator.lambdas.call_in_function(function, schema)
        except Exception:  # no resolver or no schema: the routes from the template are used
            return None

    def _binary_types(self) -> tuple[str, ...]:
        types: list[str] = []
        for resource in (self.deployment.sam.get("Resources") or {}).values():
            if resource.get("Type") == "AWS::Serverless::Api":
                types += (resource.get("Properties") or {}).get("BinaryMediaTypes") or []
        return tuple(t for t in types if isinstance(t, str))

    def describe(self) -> dict:
        d = self.deployment
        kinds = {
            "buckets": "AWS::S3::Bucket",
            "tables": "AWS::DynamoDB::Table",
            "queues": "AWS::SQS::Queue",
            "functions": "AWS::Lambda::Function",
            "secrets": "AWS::SecretsManager::Secret",
        }
        return {
            "api_url": self.front.base_url if self.front else None,
            "operator_url": f"{self.front.base_url}/" if self.front else None,
            "docs_url": f"{self.front.base_url}/docs" if self.front else None,
            "openapi_url": f"{self.front.base_url}/openapi.json" if self.front else None,
            "aws_endpoint_url": self.emulator.endpoint_url,
            "region": self.emulator.region,
            "stack": d.stack_name,
            **{name: d.of_type(kind) for name, kind in kinds.items()},
            "state_machines": dict(d.state_machines),
            "routes": [
                f"{r.method} {r.path}{' (IAM)' if r.auth.upper() == 'AWS_IAM' else ''}" for r in d.routes
            ],
            "schedules": [f"{s.source_id}: {s.expression} -> {s.target_arn}" for s in d.schedules],
            "outputs": dict(d.outputs),
            "not_emulated": d.not_emulated,
            "state_dir": str(self.config.state_dir) if self.config.state_dir else None,
            "logs_dir": str(self.emulator.lambdas.log_dir) if self.emulator.lambdas.log_dir else None,
            "tick_seconds": self.config.tick_seconds,
        }
