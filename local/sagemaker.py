"""SageMaker training jobs for local mode.

Two gaps in moto 5.2.5 are closed here:
- its Step Functions interpreter has no SageMaker integration, so
  `arn:aws:states:::sagemaker:createTrainingJob.sync`
  fails; `StateTaskServiceSageMaker` calls CreateTrainingJob and then polls DescribeTrainingJob, as AWS does;
- its CreateTrainingJob records a job as instantly "Completed" without running anything; here the job stays
  "InProgress" while the training entry point runs in a subprocess with SageMaker's conventions (channels in
  <dir>/input/data/<channel>, SM_* variables, hyperparameters.json, model dir packed as model.tar.gz into the
  job's S3ModelArtifacts), and ends "Completed" or "Failed" with the script's last error lines as the reason.
SageMaker API errors fail the task as Step Functions names them: the SDK exception class, i.e. a modelled
error as `SageMaker.<Code>Exception` (`SageMaker.ResourceLimitExceededException`) and any other (validation,
throttling) as `SageMaker.AmazonSageMakerException`, so Retry and Catch match locally as they do on AWS.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.emulator import REPO_ROOT

DEFAULT_PROGRAM = REPO_ROOT / "training" / "train.py"
_TRAINING_SLOTS = threading.Semaphore(1)  # one training at a time: 2-core machines
_installed: dict[str, Any] = {}
work_root: Path | None = None  # where job directories go; None = a temp dir per job
keep_work_dirs = False


# ---------------------------------------------------------------- Step Functions integration


@functools.cache
def _modelled_errors() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(shape.name for shape in model.error_shapes)


def service_error(error) -> tuple[str, str]:
    """(error, cause) of a failed SageMaker call as Step Functions reports it: the name of the SDK's exception
    class (com.amazonaws.services.sagemaker.model: ResourceLimitExceededException, ..., and the base
    AmazonSageMakerException for errors the service model does not declare)."""
    details = error.response.get("Error") or {}
    metadata = error.response.get("ResponseMetadata") or {}
    code = details.get("Code") or ""
    if code in _modelled_errors():
        name = code if code.endswith("Exception") else f"{code}Exception"
    else:
        name = "AmazonSageMakerException"
    cause = (
        f"{details.get('Message', '')} (Service: AmazonSageMaker; "
        f"Status Code: {metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; "
        f"Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
    )
    return f"SageMaker.{name}", cause


def _service_class():
    from botocore.exceptions import ClientError
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
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    actions = {"createtrainingjob", "describetrainingjob", "stoptrainingjob"}

    class StateTaskServiceSageMaker(callback.StateTaskServiceCallback):
        def __init__(self):
            # WaitForTaskToken is listed only because moto's callback base class needs its endpoint to exist
            # (it calls callback_endpoint.interrupt_all() unconditionally after a .sync task).
            super().__init__(
                supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
            )

        def _validate_service_integration_is_supported(self):
            if self.resource.api_action.lower() not in actions:
                raise ValueError(f"local mode does not support sagemaker:{self.resource.api_action}")

        def _client(self, region, credentials):
            return boto_client_for(service="sagemaker", region=region, state_credentials=credentials)

        def _from_error(self, env, ex):
            if not isinstance(ex, ClientError):
                return super()._from_error(env=env, ex=ex)
            error, cause = service_error(ex)
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            client = self._client(resource_runtime_part.region, state_credentials)
            response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
            response.pop("ResponseMetadata", None)
            env.stack.append(response)

        def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            env.stack.pop()  # CreateTrainingJob's own response; the .sync result is DescribeTrainingJob
            name = normalised_parameters["TrainingJobName"]
            client = self._client(resource_runtime_part.region, state_credentials)

            def _sync_resolver():
                job = client.describe_training_job(TrainingJobName=name)
                job.pop("ResponseMetadata", None)
                status = job["TrainingJobStatus"]
                if status in ("InProgress", "Stopping"):
                    return None
                job = json.loads(to_json_str(job))  # datetimes -> strings, as in the real execution history
                if status == "Completed":
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

            return _sync_resolver

    return StateTaskServiceSageMaker


# ---------------------------------------------------------------- training jobs that really train


def _boto(service: str):
    import boto3

    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _download_prefix(s3, uri: str, target: Path) -> int:
    bucket, prefix = _split_s3(uri)
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            relative = key[len(prefix) :].lstrip("/") if key != prefix else Path(key).name
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(destination))
            count += 1
    return count


def _decode_hyperparameter(value: str) -> Any:
    try:  # SageMaker framework estimators JSON-encode every value ('"train.py"')
        return json.loads(value)
    except (TypeError, ValueError):
        return value


TrainJob = Callable[[Any, Path, Path], None]  # (moto FakeTrainingJob, work dir, log path)


def run_training_job(job, train: TrainJob | None = None) -> None:
    """Run one moto FakeTrainingJob to completion (called on a background thread). `train` does the work
    (default: the entry point in a subprocess); an exception fails the job with its message as the reason."""
    with _TRAINING_SLOTS:
        started = time.time()
        job.secondary_status = "Training"
        root = Path(tempfile.mkdtemp(prefix=f"{job.training_job_name}-", dir=work_root))
        log_path = root / "training.log"
        try:
            (train or run_entry_point)(job, root, log_path)
            job.training_job_status = job.secondary_status = "Completed"
        except Exception as error:  # the job fails; the state machine sees the reason
            job.training_job_status = job.secondary_status = "Failed"
            job.failure_reason = f"{type(error).__name__}: {error}"[:1024]
        finally:
            job.training_end_time = job.last_modified_time = _now()
            job.training_time_in_seconds = job.billable_time_in_seconds = max(1, int(time.time() - started))
            if not keep_work_dirs:
                shutil.rmtree(root, ignore_errors=True)


def run_entry_point(job, root: Path, log_path: Path) -> None:
    """Train as SageMaker script mode does: channels and config under `root`, the program in a subprocess,
    the model dir packed as model.tar.gz to the job's S3ModelArtifacts."""
    s3 = _boto("s3")
    input_dir, model_dir, output_dir = root / "input", root / "model", root / "output"
    data_dir, config_dir = input_dir / "data", input_dir / "config"
    for path in (config_dir, model_dir, output_dir / "data"):
        path.mkdir(parents=True, exist_ok=True)
    channels = []
    for channel in job.input_data_config or []:
        name = channel["ChannelName"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        if _download_prefix(s3, uri, data_dir / name) == 0:
            raise RuntimeError(f"ClientError: no objects under {uri} for channel '{name}'")
        channels.append(name)
    raw = {k: str(v) for k, v in (job.hyper_parameters or {}).items()}
    hyperparameters = {k: _decode_hyperparameter(v) for k, v in raw.items()}
    user_hps = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    (config_dir / "hyperparameters.json").write_text(json.dumps(raw))
    (config_dir / "inputdataconfig.json").write_text(json.dumps({c: {} for c in channels}))
    (config_dir / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )

    program, code_dir = _entry_point(s3, hyperparameters, root)
    env = dict(os.environ)
    env.update(
        {
            "SM_MODEL_DIR": str(model_dir),
            "SM_OUTPUT_DATA_DIR": str(output_dir / "data"),
            "SM_OUTPUT_DIR": str(output_dir),
            "SM_INPUT_DIR": str(input_dir),
            "SM_INPUT_CONFIG_DIR": str(config_dir),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(user_hps),
            "SM_CURRENT_HOST": "algo-1",
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            "SM_MODULE_DIR": str(code_dir),
            "SM_TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_NAME": job.training_job_name,
            "PYTHONPATH": os.pathsep.join([str(code_dir), str(REPO_ROOT), env.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SM_CHANNEL_{name.upper()}": str(data_dir / name) for name in channels})
    command = [
        sys.executable,
        str(program),
        "--model-dir",
        str(model_dir),
        "--output-data-dir",
        str(output_dir / "data"),
        "--hyperparameters",
        json.dumps(user_hps),
    ]
    if "train" in channels:
        command[2:2] = ["--train", str(data_dir / "train")]
    timeout = int((job.stopping_condition or {}).get("MaxRuntimeInSeconds") or 86400)
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            done = subprocess.run(
                command,
                cwd=code_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"MaxRuntimeExceeded: training ran longer than {timeout}s") from error
    output = log_path.read_text(encoding="utf-8", errors="replace")
    _save_logs(job, output)
    if done.returncode != 0:
        tail = " | ".join(line for line in output.strip().splitlines()[-5:])
        raise RuntimeError(f"AlgorithmError: exit code {done.returncode}: {tail}")
    if not any(model_dir.iterdir()):
        raise RuntimeError("AlgorithmError: the training script wrote nothing to SM_MODEL_DIR")
    artifact_uri = job.model_artifacts["S3ModelArtifacts"]
    bucket, key = _split_s3(artifact_uri)
    s3.upload_file(str(_pack(model_dir, root / "model.tar.gz")), bucket, key)
    if any((output_dir / "data").iterdir()):
        s3.upload_file(
            str(_pack(output_dir / "data", root / "output.tar.gz")),
            bucket,
            key.rsplit("/", 1)[0] + "/output.tar.gz",
        )


def _entry_point(s3, hyperparameters: dict, root: Path) -> tuple[Path, Path]:
    program = hyperparameters.get("sagemaker_program")
    submit = hyperparameters.get("sagemaker_submit_directory")
    if submit and str(submit).startswith("s3://"):
        code_dir = root / "code"
        code_dir.mkdir()
        bucket, key = _split_s3(str(submit))
        archive = root / "sourcedir.tar.gz"
        s3.download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            tar.extractall(code_dir, filter="data")
        path = code_dir / (program or "train.py")
    elif program:
        code_dir = REPO_ROOT
        path = (
            (REPO_ROOT / "training" / program) if not (REPO_ROOT / program).exists() else REPO_ROOT / program
        )
    else:
        code_dir, path = REPO_ROOT, DEFAULT_PROGRAM
    if not path.is_file():
        raise RuntimeError(f"ClientError: training program {path.name} not found")
    return path, code_dir


def _pack(directory: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(directory.iterdir()):
            tar.add(item, arcname=item.name)
    return archive


def _save_logs(job, output: str) -> None:
    try:
        logs = _boto("logs")
        group, stream = "/aws/sagemaker/TrainingJobs", f"{job.training_job_name}/algo-1"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [
            {"timestamp": int(time.time() * 1000), "message": line} for line in output.splitlines()[-2000:]
        ]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except Exception:  # logs are a convenience, never the job's outcome
        pass


def _now():
    from moto.core.utils import utcnow

    return utcnow()


# ---------------------------------------------------------------- install / uninstall


def install(train: TrainJob | None = None) -> None:
    """Patch moto (idempotent): Step Functions SageMaker integration + jobs that run training.

    `train` replaces how a created job trains (default `run_entry_point`; tests train in-process)."""
    _installed["train"] = train
    if "factory" in _installed:
        return
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    service_class = _service_class()
    original_factory = state_task_factory.state_task_service_for
    original_create = SageMakerModelBackend.create_training_job

    def state_task_service_for(service_name: str):
        if service_name == "sagemaker":
            return service_class()
        return original_factory(service_name)

    def create_training_job(self, *args, **kwargs):
        job = original_create(self, *args, **kwargs)
        job.training_job_status, job.secondary_status = "InProgress", "Starting"
        job.training_end_time = None
        threading.Thread(
            target=run_training_job,
            args=(job, _installed.get("train")),
            name=f"training-{job.training_job_name}",
            daemon=True,
        ).start()
        return job

    state_task_factory.state_task_service_for = state_task_service_for
    SageMakerModelBackend.create_training_job = create_training_job
    _installed.update(factory=original_factory, create=original_create)


def uninstall() -> None:
    _installed.pop("train", None)
    if "factory" not in _installed:
        return
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    state_task_factory.state_task_service_for = _installed.pop("factory")
    SageMakerModelBackend.create_training_job = _installed.pop("create")
