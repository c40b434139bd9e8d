"""Fixtures for running the retraining state machine in moto's Step Functions interpreter.

The template is deployed in moto by local mode's deployer and its Lambda steps run in local mode's in-process
runner. SageMaker's `.sync` training integration, which moto lacks, is local mode's own (local/sagemaker.py):
CreateTrainingJob is recorded in moto's SageMaker backend, the job trains on a background thread and the .sync
resolver reads DescribeTrainingJob, as AWS does.
A job runs the real entry point the way the default training image runs it (local mode's `run_entry_point`:
sourcedir.tar.gz from PrepareData, requirements installed from its wheels with no network, the image's
Python 3.12 and library versions); the only test change is FAST_TRAINING added to its hyperparameters. Tests
can make the next CreateTrainingJob calls throttle or make jobs fail.
"""

from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local.in_process_lambda import InProcessLambda
from local.template import load_template
from local.waiting import WaitTimeout, wait_until
from tests.support.aws_stack import deploy_stack
from tests.support.handler_calls import REGION

FAST_TRAINING = {"embeddings": "none", "char_ngrams": False, "max_iter": 100}
RETRY_INTERVAL_FOR_TESTS = 1  # the real definition waits 2-30 s between retries


@pytest.fixture(autouse=True, scope="session")
def training_on_the_image_python():
    """A job here runs on the training image's Python or the test fails: no fallback to this interpreter."""
    from local import training_image

    training_image.allow_fallback = False


@dataclass
class TrainingBehaviour:
    refuse_next_creates: list[str] = field(default_factory=list)  # SageMaker error codes, one per create
    fail_jobs: bool = False
    created: list[str] = field(default_factory=list)

    def train(self, job, root: Path, log_path: Path) -> None:
        """How a created job trains here: local mode's runner (the real entry point under the image's Python
        and the toolkit's conventions), with FAST_TRAINING in the job's hyperparameters (JSON strings, as
        CreateTrainingJob carries them) unless the execution set them."""
        from local.sagemaker import JobFailure, run_entry_point

        self.created.append(job.training_job_name)
        if self.fail_jobs:
            raise JobFailure("AlgorithmError: the training script failed (test)")
        fast = {key: json.dumps(value) for key, value in FAST_TRAINING.items()}
        job.hyper_parameters = {**fast, **(job.hyper_parameters or {})}
        run_entry_point(job, root, log_path)


@contextmanager
def local_sagemaker(behaviour: TrainingBehaviour):
    """local/sagemaker.py installed over moto, training the `behaviour` way; CreateTrainingJob is refused with
    the next code of `behaviour.refuse_next_creates` (e.g. ResourceLimitExceeded, ValidationException) while
    any are left."""
    from moto.sagemaker.exceptions import SagemakerClientError
    from moto.sagemaker.models import SageMakerModelBackend

    from local import sagemaker

    class Refused(SagemakerClientError):
        pass

    warnings.filterwarnings("ignore", message=r"Exception\(Refused\)", category=UserWarning)

    with sagemaker.TrainingJobs(train=behaviour.train).installed():
        create = SageMakerModelBackend.create_training_job

        def throttled_create(backend, *args, **kwargs):
            if behaviour.refuse_next_creates:
                code = behaviour.refuse_next_creates.pop(0)
                raise Refused(code, f"{code} (test)")
            return create(backend, *args, **kwargs)

        SageMakerModelBackend.create_training_job = throttled_create
        try:
            yield
        finally:
            SageMakerModelBackend.create_training_job = create


@dataclass
class Pipeline:
    stack: object
    state_machine_arn: str
    events_queue_url: str
    training: TrainingBehaviour

    def name(self, logical_id: str) -> str:
        return self.stack.attributes[logical_id]["Ref"]

    def upload_base_dataset(self, records: list[dict]) -> None:
        body = "".join(json.dumps(record) + "\n" for record in records).encode()
        self.client("s3").put_object(Bucket=self.name("DataBucket"), Key="datasets/base.jsonl", Body=body)

    @staticmethod
    def deploy(model_dir) -> str:
        """Register `model_dir` and make it the active model (test setup, with the tests' credentials)."""
        from core.registry.versions import ModelRegistry

        registry = ModelRegistry()
        version = registry.register_model_dir(model_dir)["version"]
        registry.activate(version, reason="test setup")
        return version

    def client(self, service: str):
        """A client with the tests' own credentials. Functions run on the state machine's thread with their
        role's credentials in the (process-wide) environment, so a client made from the environment while an
        execution runs could pick those up and be checked as that function."""
        return boto3.client(
            service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    def start(self, name: str, **overrides) -> str:
        execution_input = {
            "correlation_id": f"corr-{name}",
            "trigger": "test",
            "reasons": ["test"],
            "include_feedback": True,
            "hyperparameters": {},
            **overrides,
        }
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 90.0) -> dict:
        sfn = self.client("stepfunctions")
        try:
            return wait_until(
                lambda: sfn.describe_execution(executionArn=execution_arn),
                lambda described: described["status"] != "RUNNING",
                timeout=timeout,
                interval=0.1,
            )
        except WaitTimeout:
            raise AssertionError(f"{execution_arn} still running after {timeout} s") from None

    def history(self, execution_arn: str) -> list[dict]:
        return self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]

    def failures(self, execution_arn: str) -> list[dict]:
        """Error details of every failed step (for assertion messages)."""
        return [
            details
            for event in self.history(execution_arn)
            for key, details in event.items()
            if key.endswith("FailedEventDetails") or key == "executionFailedEventDetails"
        ]

    def published_events(self) -> list[dict]:
        sqs = self.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def pipeline(request, monkeypatch, tmp_path):
    """The retraining state machine of template.yaml in moto, or of a copy changed by the test's
    `@pytest.mark.template_change.with_args(function)`: function(template dict) changes it in place."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "MLNews",
        "MODEL_CACHE_DIR": str(tmp_path / "models"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from core.aws_clients import reset_clients
    from core.feedback.signing_keys import signing_key_cache
    from core.settings import reset_settings

    behaviour = TrainingBehaviour()
    lambdas = InProcessLambda(tmp_root=tmp_path / "lambda-tmp")  # each function its own /tmp
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        local_sagemaker(behaviour),
        lambdas.installed(),
    ):
        reset_settings(), reset_clients(), signing_key_cache.clear()
        template = load_template()
        change = request.node.get_closest_marker("template_change")
        if change is not None:
            change.args[0](template)
        stack = deploy_stack(lambdas, template=template, parameters={"GoldenFraction": "0.2"})
        arn = stack.deployment.state_machines["RetrainingStateMachine"]
        sfn = boto3.client("stepfunctions")
        parsed = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        for state in parsed["States"].values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = RETRY_INTERVAL_FOR_TESTS
        sfn.update_state_machine(
            stateMachineArn=arn, definition=json.dumps(parsed), tracingConfiguration={"enabled": True}
        )
        for logical in ("EvaluateModelFunction", "RetrainCheckFunction"):
            for key, value in stack.function_environment(logical).items():
                monkeypatch.setenv(key, value)
        monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "models"))
        reset_settings(), reset_clients()
        # Everything the state machine announces on the bus lands in a queue the tests read.
        sqs, events = boto3.client("sqs"), boto3.client("events")
        queue_url = sqs.create_queue(QueueName="bus-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = stack.attributes["EventBus"]["Ref"]
        events.put_rule(
            Name="all-retraining",
            EventBusName=bus,
            EventPattern=json.dumps({"source": ["ml-news-pipeline.retraining"]}),
        )
        events.put_targets(Rule="all-retraining", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
        yield Pipeline(stack=stack, state_machine_arn=arn, events_queue_url=queue_url, training=behaviour)
        reset_settings(), reset_clients(), signing_key_cache.clear()
