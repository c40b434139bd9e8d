"""Fixtures for running the retraining state machine in moto's Step Functions interpreter.

Lambda steps run in-process (tests.lambda_in_process). SageMaker's `.sync` training integration, which moto
lacks, is replaced by `FakeSageMakerTraining`: CreateTrainingJob is recorded in moto's SageMaker backend and
trains a tiny model in-process from the job's channel (same conventions as a real job: model.tar.gz at
S3ModelArtifacts); the .sync resolver then reads DescribeTrainingJob, as AWS does. Tests can make the next
CreateTrainingJob calls throttle or make the job fail.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests.*` helpers importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.lambda_in_process import create_functions, in_process_lambda, refresh_environments
from tests.template_resources import ACCOUNT_ID, REGION, create_stack, state_machine_definition

FAST_TRAINING = {"embeddings": "none", "char_ngrams": False, "max_iter": 100}
RETRY_INTERVAL_FOR_TESTS = 1  # the real definition waits 2-30 s between retries


@dataclass
class TrainingBehaviour:
    throttle_next_creates: int = 0
    fail_jobs: bool = False
    created: list[str] = field(default_factory=list)


def _train_job(parameters: dict) -> None:
    """Run the job's training the SageMaker way: channel files in, model.tar.gz to S3ModelArtifacts out."""
    from core.dataset import load_records
    from core.training import train_to_dir

    s3 = boto3.client("s3", region_name=REGION)
    bucket, _, prefix = parameters["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"][5:].partition(
        "/"
    )
    output_bucket, _, output_prefix = parameters["OutputDataConfig"]["S3OutputPath"][5:].partition("/")
    hyperparameters = {
        key: json.loads(value)
        for key, value in parameters["HyperParameters"].items()
        if not key.startswith("sagemaker_")
    }
    with tempfile.TemporaryDirectory() as tmp:
        channel = Path(tmp) / "train"
        channel.mkdir()
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            s3.download_file(bucket, obj["Key"], str(channel / Path(obj["Key"]).name))
        model_dir = Path(tmp) / "model"
        train_to_dir(
            load_records(sorted(channel.iterdir())),
            model_dir,
            hyperparameters={**FAST_TRAINING, **hyperparameters},
        )
        archive = Path(tmp) / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(model_dir.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(model_dir)))
        key = f"{output_prefix.rstrip('/')}/{parameters['TrainingJobName']}/output/model.tar.gz".lstrip("/")
        s3.upload_file(str(archive), output_bucket, key)


def fake_sagemaker_service(behaviour: TrainingBehaviour):
    from botocore.exceptions import ClientError
    from moto.sagemaker.models import sagemaker_backends
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class FakeSageMakerTraining(callback.StateTaskServiceCallback):
        def __init__(self):
            # WaitForTaskToken too: moto's callback base calls callback_endpoint.interrupt_all() after a .sync
            # task, and that endpoint only exists when the pattern is listed.
            super().__init__(
                supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
            )

        def _validate_service_integration_is_supported(self):
            if self.resource.api_action.lower() != "createtrainingjob":
                raise ValueError(
                    f"only sagemaker:createTrainingJob is emulated, not {self.resource.api_action}"
                )

        def _from_error(self, env, ex):
            if isinstance(ex, ClientError):  # as AWS names service errors: SageMaker.<Code>
                name = f"SageMaker.{ex.response['Error']['Code']}"
                return FailureEvent(
                    env=env,
                    error_name=CustomErrorName(name),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=name,
                            cause=ex.response["Error"]["Message"],
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                        )
                    ),
                )
            return super()._from_error(env=env, ex=ex)

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            if behaviour.throttle_next_creates > 0:
                behaviour.throttle_next_creates -= 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                    "CreateTrainingJob",
                )
            client = boto3.client("sagemaker", region_name=REGION)
            response = client.create_training_job(**normalised_parameters)
            name = normalised_parameters["TrainingJobName"]
            behaviour.created.append(name)
            job = sagemaker_backends[ACCOUNT_ID][REGION].training_jobs[name]
            if behaviour.fail_jobs:
                job.training_job_status = job.secondary_status = "Failed"
            else:
                _train_job(normalised_parameters)
            env.stack.append({"TrainingJobArn": response["TrainingJobArn"]})

        def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            env.stack.pop()
            name = normalised_parameters["TrainingJobName"]
            client = boto3.client("sagemaker", region_name=REGION)

            def resolve():
                job = json.loads(to_json_str(client.describe_training_job(TrainingJobName=name)))
                job.pop("ResponseMetadata", None)
                if job["TrainingJobStatus"] in ("InProgress", "Stopping"):
                    return None
                if job["TrainingJobStatus"] == "Completed":
                    return job
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(job),
                            )
                        ),
                    )
                )

            return resolve

    return FakeSageMakerTraining


@dataclass
class Pipeline:
    stack: object
    state_machine_arn: str
    events_queue_url: str
    training: TrainingBehaviour

    def name(self, logical_id: str) -> str:
        return self.stack.attributes[logical_id]["Ref"]

    def start(self, name: str, **overrides) -> str:
        execution_input = {
            "correlation_id": f"corr-{name}",
            "trigger": "test",
            "reasons": ["test"],
            "include_feedback": True,
            "hyperparameters": {},
            **overrides,
        }
        return boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 90.0) -> dict:
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def history(self, execution_arn: str) -> list[dict]:
        return boto3.client("stepfunctions").get_execution_history(
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
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def pipeline(monkeypatch, tmp_path):
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
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    from core.aws_clients import reset_clients
    from core.feedback import signing_key_cache
    from core.settings import reset_settings

    behaviour = TrainingBehaviour()
    fake_service = fake_sagemaker_service(behaviour)
    original_factory = state_task_factory.state_task_service_for  # AttributeError = moto moved the name
    monkeypatch.setattr(
        state_task_factory,
        "state_task_service_for",
        lambda service_name: (
            fake_service() if service_name == "sagemaker" else original_factory(service_name)
        ),
    )
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        reset_settings(), reset_clients(), signing_key_cache.clear()
        stack = create_stack(parameters={"GoldenFraction": 0.2})
        overrides = {"MODEL_CACHE_DIR": str(tmp_path / "models")}
        arns = create_functions(
            stack,
            ["PrepareDataFunction", "EvaluateModelFunction", "RecordOutcomeFunction", "RetrainCheckFunction"],
            overrides=overrides,
        )
        definition = state_machine_definition(stack, arns)
        parsed = json.loads(definition)
        for state in parsed["States"].values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = RETRY_INTERVAL_FOR_TESTS
        sfn = boto3.client("stepfunctions")
        role = boto3.client("iam").create_role(RoleName="retraining", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        name = stack.resolve(stack.properties("RetrainingStateMachine")["Name"])
        arn = sfn.create_state_machine(
            name=name, roleArn=role, definition=json.dumps(parsed), tracingConfiguration={"enabled": True}
        )["stateMachineArn"]
        stack.attributes["RetrainingStateMachine"] = {"Ref": arn, "Name": name, "Arn": arn}
        refresh_environments(stack, overrides)
        for logical in ("EvaluateModelFunction", "RetrainCheckFunction"):
            for key, value in stack.function_environment(logical).items():
                monkeypatch.setenv(key, value)
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
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
        with in_process_lambda():
            yield Pipeline(stack=stack, state_machine_arn=arn, events_queue_url=queue_url, training=behaviour)
        reset_settings(), reset_clients(), signing_key_cache.clear()
