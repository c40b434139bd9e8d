"""SageMaker training jobs for local mode.

Two gaps in moto 5.2.5 are closed here:
- its Step Functions interpreter has no SageMaker integration, so
  `arn:aws:states:::sagemaker:createTrainingJob.sync`
  fails; `StateTaskServiceSageMaker` calls CreateTrainingJob and then polls DescribeTrainingJob, as AWS does;
- its CreateTrainingJob records a job as instantly "Completed" without running anything; here the job stays
  "InProgress" while it runs the way the default training image runs it (`run_entry_point`: the image's Python
  and library versions from local/training_image.py, the sagemaker-training toolkit's layout, requirements
  install with no network, arguments and SM_* variables), packs the model dir as model.tar.gz into the job's
  S3ModelArtifacts, and ends "Completed" or "Failed" with a FailureReason worded as SageMaker words it.
SageMaker API errors fail the task as Step Functions names them: the SDK exception class, i.e. a modelled
error as `SageMaker.<Code>Exception` (`SageMaker.ResourceLimitExceededException`) and any other (validation,
throttling) as `SageMaker.AmazonSageMakerException`, so Retry and Catch match locally as they do on AWS.
`TrainingJobs` holds what one emulator needs (the patches, how jobs train, where their files go); nothing
here is module-level state.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.fitting.hyperparameters import decode_hyperparameters
from core.registry.artifacts import split_s3_uri
from local import training_image
from local.cfn import ACCOUNT_ID

SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"  # the managed rule `.sync` relies on


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
    from moto.stepfunctions.parser.asl.utils import boto_client  # looked up per call: local IAM wraps it
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

        def _client(self, region, credentials, service="sagemaker"):
            return boto_client.boto_client_for(service=service, region=region, state_credentials=credentials)

        def _watch_training_jobs(self, region, credentials):
            """What `.sync` does first on AWS: Step Functions keeps a managed EventBridge rule for SageMaker
            job events, created and read with the execution role, so the role needs events:PutRule, PutTargets
            and DescribeRule on it (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html)."""
            events = self._client(region, credentials, "events")
            pattern = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]}
            events.put_rule(Name=SYNC_RULE, EventPattern=json.dumps(pattern), State="ENABLED")
            target = f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{SYNC_RULE}"  # Step Functions' own
            events.put_targets(Rule=SYNC_RULE, Targets=[{"Id": "StepFunctions", "Arn": target}])
            events.describe_rule(Name=SYNC_RULE)

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
            if self.resource.condition == ResourceCondition.Sync:
                self._watch_training_jobs(resource_runtime_part.region, state_credentials)
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
# How the default image (local/training_image.json) runs a job, from the sagemaker-training toolkit 4.8.0 it
# uses (src/sagemaker_training/{environment,entry_point,modules,process,mapping,errors}.py): sourcedir.tar.gz
# extracted to /opt/ml/code; `<python> -m pip install -r requirements.txt` there when the file exists; then
# `<python> <program> --key value ...` with cwd and PYTHONPATH at the code dir and the SM_* variables set.

# sagemaker_training.params.SAGEMAKER_HYPERPARAMETERS: the toolkit's own keys, never passed to the script
TOOLKIT_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
CURRENT_HOST = "algo-1"
# No network in a job (private subnets without NAT, network isolation): no index and a proxy nobody listens
# on, so a requirement the image and the shipped wheels cannot satisfy fails as it would there.
NO_NETWORK = {
    "PIP_CONFIG_FILE": os.devnull,  # this machine's pip settings (mirrors, find-links) are not the image's
    "PIP_NO_INDEX": "1",
    "PIP_RETRIES": "0",  # fail at once, not after pip's back-off, when a requirements file names an index
    **{name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
}
_HOST_ENV_KEPT = ("TMPDIR", "TEMP", "TMP", "SYSTEMROOT")  # what a process needs from this machine to start


class JobFailure(RuntimeError):
    """A training job's FailureReason, worded as SageMaker words it (AlgorithmError: ...)"""


def _boto(service: str):
    import boto3

    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),  # local mode's server; unset under moto's mock_aws
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


def _job_client(service: str, job):
    """A client that calls as the job's RoleArn (SageMaker reads the channels, writes the model and the logs
    with it), authorized by local IAM when the role is the deployed template's; else the host's client."""
    from local.iam.enforcement import access_control, role_client

    role = getattr(job, "role_arn", None)
    if role and access_control.knows(role):
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        return role_client(service, role, job.training_job_name, region, os.environ.get("AWS_ENDPOINT_URL"))
    return _boto(service)


def _download_prefix(s3, uri: str, target: Path) -> int:
    bucket, prefix = split_s3_uri(uri)
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


def toolkit_args(hyperparameters: dict[str, Any]) -> list[str]:
    """The script's arguments as sagemaker_training.mapping.to_cmd_args makes them: keys sorted, `--key value`
    (`-k value` for a one-letter key), a value as str() of its decoded JSON, a dict as k=v,k=v."""
    args = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(str(key)) > 1 else f"-{key}")
        if hasattr(value, "items"):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def _env_value(value: Any) -> str:
    """sagemaker_training.mapping.to_env_vars: strings as they are, anything else as compact sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


TrainJob = Callable[[Any, Path, Path], None]  # (moto FakeTrainingJob, work dir, log path)


def run_entry_point(job, root: Path, log_path: Path) -> None:
    """Run the job as the default image does: `root/ml` is its /opt/ml, the program runs on the image's Python
    (local/training_image.py) in a fresh environment per job, after installing the source dir's requirements
    with no network; the model dir is packed as model.tar.gz to the job's S3ModelArtifacts."""
    runtime = training_image.ensure()
    deadline = time.monotonic() + int((job.stopping_condition or {}).get("MaxRuntimeInSeconds") or 86400)
    s3 = _job_client("s3", job)
    ml = root / "ml"
    code_dir, input_dir, model_dir, output_dir = ml / "code", ml / "input", ml / "model", ml / "output"
    data_dir, config_dir = input_dir / "data", input_dir / "config"
    for path in (code_dir, config_dir, model_dir, output_dir / "data", output_dir / "intermediate"):
        path.mkdir(parents=True, exist_ok=True)

    channels: dict[str, dict] = {}
    for channel in job.input_data_config or []:
        name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        if _download_prefix(s3, source["S3Uri"], data_dir / name) == 0:
            raise JobFailure(f"ClientError: no objects under {source['S3Uri']} for channel '{name}'")
        channels[name] = {
            "TrainingInputMode": channel.get("InputMode") or "File",
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
    raw = {key: str(value) for key, value in (job.hyper_parameters or {}).items()}
    decoded = decode_hyperparameters(raw)  # as the toolkit's read_hyperparameters
    toolkit = {k: v for k, v in decoded.items() if k in TOOLKIT_HYPERPARAMETERS or k.startswith("sagemaker_")}
    user_hps = {k: v for k, v in decoded.items() if k not in toolkit}
    resource = {
        "current_host": CURRENT_HOST,
        "hosts": [CURRENT_HOST],
        "current_instance_type": (job.resource_config or {}).get("InstanceType", "local"),
        "current_group_name": "homogeneousCluster",
        "network_interface_name": "eth0",
    }
    (config_dir / "hyperparameters.json").write_text(json.dumps(raw))  # as CreateTrainingJob gave them
    (config_dir / "inputdataconfig.json").write_text(json.dumps(channels))
    (config_dir / "resourceconfig.json").write_text(json.dumps(resource))

    program = _extract_code(s3, toolkit, code_dir, root)
    python = training_image.create_job_env(runtime, root / "venv")
    base_env = {key: os.environ[key] for key in _HOST_ENV_KEPT if key in os.environ}
    base_env.update(training_image.load()["environment"])
    base_env.update(
        {
            "PATH": os.pathsep.join([str(python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(root / "home"),
            "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "TRAINING_JOB_NAME": job.training_job_name,
            **NO_NETWORK,
        }
    )
    args = toolkit_args(user_hps)
    sm = {
        "hosts": resource["hosts"],
        "network_interface_name": "eth0",
        "hps": user_hps,
        "user_entry_point": program,
        "framework_params": {k: v for k, v in toolkit.items() if k not in TOOLKIT_HYPERPARAMETERS},
        "resource_config": resource,
        "input_data_config": channels,
        "output_data_dir": str(output_dir / "data"),
        "channels": sorted(channels),
        "current_host": CURRENT_HOST,
        "current_instance_type": resource["current_instance_type"],
        "module_name": program.removesuffix(".py"),
        "log_level": toolkit.get("sagemaker_container_log_level", 20),
        "framework_module": base_env.get("SAGEMAKER_TRAINING_MODULE"),
        "input_dir": str(input_dir),
        "input_config_dir": str(config_dir),
        "output_dir": str(output_dir),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "model_dir": str(model_dir),
        "module_dir": toolkit.get("sagemaker_submit_directory"),
        "user_args": args,
        "output_intermediate_dir": str(output_dir / "intermediate"),
        **{f"channel_{name}": str(data_dir / name) for name in channels},
        **{f"hp_{key}": value for key, value in user_hps.items()},
    }
    script_env = {
        **base_env,
        **{f"SM_{key.upper()}": _env_value(value) for key, value in sm.items()},
        "CURRENT_HOST": CURRENT_HOST,
        "SAGEMAKER_REGION": str(toolkit.get("sagemaker_region") or base_env["AWS_REGION"]),
        "PYTHONPATH": str(code_dir),  # the toolkit's: the code dir first, then its own sys.path (the image's)
    }

    with open(log_path, "w", encoding="utf-8") as log:
        try:
            if (code_dir / "requirements.txt").is_file():
                install = [str(python), "-m", "pip", "install", "-r", "requirements.txt"]
                log.write("Installing dependencies from requirements.txt\n")
                log.flush()
                _step(install, code_dir, base_env, log, deadline, "InstallRequirementsError")
            command = [str(python), program, *args]
            log.write(f"Invoking script with the following command:\n\n{shlex.join(command)}\n\n")
            log.flush()
            _step(command, code_dir, script_env, log, deadline, "ExecuteUserScriptError", output_dir)
        finally:
            log.flush()
            _save_logs(job, log_path.read_text(encoding="utf-8", errors="replace"))
    if not any(model_dir.iterdir()):
        raise JobFailure("AlgorithmError: the training script wrote nothing to SM_MODEL_DIR")
    artifact_uri = job.model_artifacts["S3ModelArtifacts"]
    bucket, key = split_s3_uri(artifact_uri)
    s3.upload_file(str(_pack(model_dir, root / "model.tar.gz")), bucket, key)
    if any((output_dir / "data").iterdir()):
        s3.upload_file(
            str(_pack(output_dir / "data", root / "output.tar.gz")),
            bucket,
            key.rsplit("/", 1)[0] + "/output.tar.gz",
        )


def _step(command, cwd: Path, env: dict, log, deadline: float, error: str, output_dir: Path | None = None):
    """Run one step of the job into its log; a failure becomes the FailureReason SageMaker gives it."""
    remaining = deadline - time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", timeout=max(1.0, remaining), check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as timeout:
        output = timeout.output or ""
        log.write(output if isinstance(output, str) else output.decode("utf-8", "replace"))
        raise JobFailure("MaxRuntimeExceeded: Training job runtime exceeded MaxRuntimeInSeconds") from None
    log.write(done.stdout)
    if done.returncode == 0:
        return
    failure = output_dir / "failure" if output_dir is not None else None
    if failure is not None and failure.is_file():  # the script's own reason (SageMaker reads this file)
        message = failure.read_text(encoding="utf-8", errors="replace").strip()
    else:
        # sagemaker_training.errors._CalledProcessError's wording. The toolkit leaves ErrorMessage empty (it
        # does not capture the output; the log has it): here it carries pip's ERROR lines or the output's end.
        lines = done.stdout.strip().splitlines()
        shown = [line for line in lines if line.startswith("ERROR:")] or lines[-5:]
        message = f'{error}:\nExitCode {done.returncode}\nErrorMessage "{" | ".join(shown)}"\n'
        message += f'Command "{shlex.join(command)}"'
    raise JobFailure(f"AlgorithmError: {message}, exit code: {done.returncode}")


def _extract_code(s3, toolkit: dict, code_dir: Path, root: Path) -> str:
    """The source dir into the code dir; returns the program (sagemaker_program), checked to be there."""
    program = toolkit.get("sagemaker_program")
    submit = toolkit.get("sagemaker_submit_directory")
    if not isinstance(program, str) or not program.endswith(".py"):
        raise JobFailure(
            f"ClientError: sagemaker_program must name a Python program (a .py file), got {program!r}"
        )
    if not (isinstance(submit, str) and submit.startswith("s3://")):
        raise JobFailure(
            f"ClientError: sagemaker_submit_directory must be the S3 URI of sourcedir.tar.gz, got {submit!r}"
        )
    bucket, key = split_s3_uri(submit)
    archive = root / "sourcedir.tar.gz"
    try:
        s3.download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            tar.extractall(code_dir, filter="data")
    except Exception as error:  # missing object, not a tarball, unsafe member
        raise JobFailure(f"ClientError: cannot extract {submit}: {error}") from None
    path = (code_dir / program).resolve()
    if not path.is_relative_to(code_dir.resolve()) or not path.is_file():
        raise JobFailure(f"ClientError: training program {program} not found in {submit}")
    return program


def _pack(directory: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(directory.iterdir()):
            tar.add(item, arcname=item.name)
    return archive


def _save_logs(job, output: str) -> None:
    try:
        logs = _job_client("logs", job)
        group, stream = "/aws/sagemaker/TrainingJobs", f"{job.training_job_name}/{CURRENT_HOST}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = [line for line in output.splitlines() if line.strip()]  # CloudWatch refuses empty messages
        events = [{"timestamp": int(time.time() * 1000), "message": line} for line in lines[-2000:]]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except Exception:  # logs are a convenience, never the job's outcome
        pass


def _now():
    from moto.core.utils import utcnow

    return utcnow()


# ---------------------------------------------------------------- the training jobs of one emulator


class TrainingJobs:
    """SageMaker training jobs for one emulator (or one test): how a created job trains (`train`, default
    `run_entry_point`), where its work directories go, and the moto patches that make jobs run."""

    def __init__(self, train: TrainJob | None = None, work_root: Path | None = None, keep_work_dirs=False):
        self.train = train or run_entry_point
        self.work_root = work_root  # None: a temp dir per job
        self.keep_work_dirs = keep_work_dirs
        self._slots = threading.Semaphore(1)  # one training at a time: 2-core machines

    def run(self, job) -> None:
        """Run one moto FakeTrainingJob to completion (called on a background thread); an exception of
        `train` fails the job with its message as the reason."""
        with self._slots:
            started = time.time()
            job.secondary_status = "Training"
            root = Path(tempfile.mkdtemp(prefix=f"{job.training_job_name}-", dir=self.work_root))
            log_path = root / "training.log"
            try:
                self.train(job, root, log_path)
                job.training_job_status = job.secondary_status = "Completed"
            except Exception as error:  # the job fails; the state machine sees the reason
                job.training_job_status = job.secondary_status = "Failed"
                reason = str(error) if isinstance(error, JobFailure) else f"{type(error).__name__}: {error}"
                job.failure_reason = reason[:1024]  # DescribeTrainingJob's limit
            finally:
                job.training_end_time = job.last_modified_time = _now()
                seconds = max(1, int(time.time() - started))
                job.training_time_in_seconds = job.billable_time_in_seconds = seconds
                if not self.keep_work_dirs:
                    shutil.rmtree(root, ignore_errors=True)

    @contextmanager
    def installed(self):
        """While the block runs, moto's Step Functions has the SageMaker integration and a created training
        job runs (`run`, on a thread). Makes sure the local training image and the training wheels are there
        first (local/training_image.py: built lazily when missing)."""
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

        training_image.ensure()
        service_class = _service_class()
        original_factory = state_task_factory.state_task_service_for
        original_create = SageMakerModelBackend.create_training_job

        def state_task_service_for(service_name: str):
            if service_name == "sagemaker":
                return service_class()
            return original_factory(service_name)

        def create_training_job(backend, *args, **kwargs):
            job = original_create(backend, *args, **kwargs)
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.training_end_time = None
            threading.Thread(
                target=self.run, args=(job,), name=f"training-{job.training_job_name}", daemon=True
            ).start()
            return job

        state_task_factory.state_task_service_for = state_task_service_for
        SageMakerModelBackend.create_training_job = create_training_job
        try:
            yield self
        finally:
            state_task_factory.state_task_service_for = original_factory
            SageMakerModelBackend.create_training_job = original_create
