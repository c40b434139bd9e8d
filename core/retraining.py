"""Retraining orchestration logic shared by the state machine steps, the schedule and the admin API.

- `run_retrain_check`: measure signals, decide (core.policies), start the state machine (one at a time).
- `start_retraining` / `execution_status`: the admin API's train routes.
- `prepare_data`, `evaluate_candidate`, `record_outcome`: the state machine's Lambda steps.
- `request_evaluation`, `evaluate_version`, `get_evaluation`: asynchronous evaluation runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import tarfile
import tempfile
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from core import aws_clients, feedback
from core.errors import Conflict, InvalidInput, NotFound
from core.policies import (
    PromotionPolicy,
    RetrainPolicy,
    RetrainSignals,
    population_stability_index,
    promotion_decision,
    retrain_decision,
    total_variation,
)
from core.registry import ModelRegistry, split_s3_uri, utc_now
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EVENT_SOURCE = "ml-news-pipeline.retraining"
SUMMARY_METRICS = ("n", "accuracy", "macro_f1", "top3_accuracy", "ece")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_EVALUATION_ID = re.compile(r"^[0-9a-f]{32}$")
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# ================================================================ starting executions
def _with_state_machine(settings: Settings | None) -> Settings:
    """Settings of a caller that starts or reads retraining executions (fails fast without the ARN)."""
    settings = settings or get_settings()
    settings.require("state_machine_arn")
    return settings


def training_job_name(settings: Settings, execution_name: str) -> str:
    """The SageMaker training job of an execution: PrepareData names it, the status route looks it up.
    SageMaker allows letters, digits and inner hyphens, at most 63 characters."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", f"{settings.training_job_prefix}-{execution_name}")
    return name[:63].rstrip("-")


def execution_arn(settings: Settings, name: str) -> str:
    prefix, _, machine = settings.state_machine_arn.rpartition(":stateMachine:")
    if not machine:
        raise InvalidInput("STATE_MACHINE_ARN is not a state machine ARN")
    return f"{prefix}:execution:{machine}:{name}"


def list_executions(settings: Settings, status: str | None = None, limit: int = 100) -> list[dict]:
    kwargs = {"stateMachineArn": settings.state_machine_arn, "maxResults": limit}
    if status:
        kwargs["statusFilter"] = status
    executions = aws_clients.client("stepfunctions").list_executions(**kwargs)["executions"]
    return sorted(executions, key=lambda item: _parse_time(item["startDate"]), reverse=True)


def start_retraining(
    *,
    trigger: str,
    reasons: list[str],
    include_feedback: bool = True,
    hyperparameters: dict | None = None,
    correlation_id: str | None = None,
    name: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """Start one retraining execution; Conflict if one is running or `name` was already used."""
    settings = _with_state_machine(settings)
    now = now or _now()
    running = list_executions(settings, status="RUNNING")
    if running:
        raise Conflict(
            f"retraining execution {running[0]['name']} is still running",
            details={"job_id": running[0]["name"]},
        )
    name = name or f"train-{now:%Y%m%d%H%M%S}"
    execution_input = {
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "trigger": trigger,
        "reasons": reasons,
        "include_feedback": bool(include_feedback),
        "hyperparameters": {key: value for key, value in (hyperparameters or {}).items()},
        "requested_at": now.isoformat(timespec="seconds"),
    }
    # The RUNNING check above is a read; the lock makes "one at a time" hold when two starters race.
    registry = ModelRegistry(settings)
    registry.acquire_retraining_lock(name, settings.retraining_lock_seconds, now)
    try:
        response = aws_clients.client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(execution_input)
        )
    except ClientError as error:
        registry.release_retraining_lock(name)
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            raise Conflict(f"retraining execution {name} already exists", details={"job_id": name}) from error
        raise
    return {
        "job_id": name,
        "execution_arn": response["executionArn"],
        "status": "RUNNING",
        "input": execution_input,
    }


# ================================================================ retrain check
def measure_signals(settings: Settings, now: datetime | None = None) -> RetrainSignals:
    now = now or _now()
    registry = ModelRegistry(settings)
    pointer = registry.active_pointer()
    active = registry.get(pointer["active_version"]) if pointer else None
    signals = RetrainSignals(active_version=active["version"] if active else None)
    stats = feedback.feedback_stats(signals.active_version, settings)
    signals.live_accuracy, signals.live_samples = stats["live_accuracy"], stats["live_total"]
    # The feedback total only grows: the largest one a training recorded is the last training's (versions
    # registered by hand record none and must not reset the count).
    trained_with = max(
        (int((item.get("data_summary") or {}).get("feedback_total", 0)) for item in registry.list_versions()),
        default=0,
    )
    signals.new_feedback = max(0, stats["total"] - trained_with)
    if active:
        served = feedback.prediction_distribution(active["version"], settings)
        trained = active.get("training_distribution") or {}
        signals.drift_samples = sum(served.values())
        if served and trained:
            signals.drift_tvd = round(total_variation(trained, served), 6)
            signals.drift_psi = round(population_stability_index(trained, served), 6)
        created = _parse_time(active.get("created_at"))
        if created:
            signals.model_age_days = round((now - created).total_seconds() / 86400, 3)
    executions = list_executions(settings, limit=20)
    running = [item for item in executions if item["status"] == "RUNNING"]
    signals.running_execution = running[0]["name"] if running else None
    if executions:
        started = _parse_time(executions[0]["startDate"])
        signals.hours_since_last_run = round((now - started).total_seconds() / 3600, 3)
    return signals


def run_retrain_check(
    *,
    trigger: str,
    correlation_id: str | None = None,
    force: bool = False,
    include_feedback: bool = True,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """Decide from measured signals and start the state machine when warranted."""
    settings = _with_state_machine(settings)
    now = now or _now()
    signals = measure_signals(settings, now)
    decision = retrain_decision(signals, RetrainPolicy.from_settings(settings), force=force)
    execution = None
    if decision["retrain"]:
        try:
            execution = start_retraining(
                trigger=trigger,
                reasons=decision["reasons"],
                include_feedback=include_feedback,
                correlation_id=correlation_id,
                name=f"retrain-{now:%Y%m%d%H}",
                settings=settings,
                now=now,
            )
            execution.pop("input", None)
        except Conflict as error:  # lost a race with another starter: report, do not start twice
            decision["retrain"] = False
            decision["reasons"].append(error.message)
    return {
        "retrain": decision["retrain"],
        "reasons": decision["reasons"],
        "signals": decision["signals"],
        "execution": execution,
    }


# ================================================================ status of an execution
def execution_status(job_id: str, settings: Settings | None = None) -> dict:
    settings = _with_state_machine(settings)
    if not _JOB_ID.match(job_id):
        raise NotFound(f"no retraining job {job_id!r}")
    sfn = aws_clients.client("stepfunctions")
    arn = execution_arn(settings, job_id)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound"):
            raise NotFound(f"no retraining job {job_id!r}") from error
        raise
    output = json.loads(described.get("output") or "null") or {}
    current_step = None
    try:
        history = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
        entered = [event for event in history if event["type"].endswith("StateEntered")]
        if entered:
            current_step = max(entered, key=lambda event: event["id"])["stateEnteredEventDetails"]["name"]
    except ClientError as error:
        logger.warning("no history for %s: %s", job_id, error)
    training_job = None
    job_name = training_job_name(settings, job_id)
    try:
        job = aws_clients.client("sagemaker").describe_training_job(TrainingJobName=job_name)
        training_job = {
            "name": job_name,
            "status": job.get("TrainingJobStatus"),
            "secondary_status": job.get("SecondaryStatus"),
            "failure_reason": job.get("FailureReason"),
            "billable_seconds": job.get("BillableTimeInSeconds"),
        }
    except ClientError:
        training_job = None  # not created yet (or prepare failed)
    error = None
    if described["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
        error = {"error": described.get("error"), "cause": described.get("cause")}
    outcome = output.get("outcome") if isinstance(output, dict) else None
    return {
        "job_id": job_id,
        "status": described["status"],
        "current_step": current_step,
        "started_at": _iso(described.get("startDate")),
        "stopped_at": _iso(described.get("stopDate")),
        "training_job": training_job,
        "outcome": outcome,
        "error": error,
    }


def _iso(value) -> str | None:
    parsed = _parse_time(value)
    return parsed.isoformat(timespec="seconds") if parsed else None


# ================================================================ PrepareData step
TRAINING_WHEELS = "training-wheels"  # beside core/: the PrepareData package (Makefile), or the repository
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def _wheel_key(name: str, version: str) -> tuple[str, str]:
    return re.sub(r"[-_.]+", "_", name).lower(), version


def build_sourcedir(root: Path = _PACKAGE_ROOT) -> tuple[bytes, str]:
    """sourcedir.tar.gz of this deployment's own `core/` and `training/` packages, with `train.py` at the
    root (SageMaker's sagemaker_program), a requirements.txt for what the training image lacks and the wheels
    of those requirements in `wheels/` (the job installs them with no index: it must not need PyPI).
    Deterministic bytes, so the sha256 names the code version."""
    entries: list[tuple[str, bytes]] = []
    for package in ("core", "training"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                entries.append((path.relative_to(root).as_posix(), path.read_bytes()))
    train_script = root / "training" / "train.py"
    if not train_script.is_file():
        raise InvalidInput("training/train.py is missing from the deployment package")
    entries.append(("train.py", train_script.read_bytes()))
    requirements = (root / "training" / "requirements.txt").read_text(encoding="utf-8")
    entries.append(("requirements.txt", requirements.encode("utf-8")))
    wheels = sorted((root / TRAINING_WHEELS).glob("*.whl"))
    shipped = {_wheel_key(*wheel.name.split("-")[:2]) for wheel in wheels}
    missing = [
        f"{match.group(1)}=={match.group(2)}"
        for match in map(_PIN.match, requirements.splitlines())
        if match and _wheel_key(match.group(1), match.group(2)) not in shipped
    ]
    if missing:
        raise InvalidInput(
            f"no wheel for {', '.join(missing)} in {TRAINING_WHEELS}/ of the deployment package: the "
            "training job could not install them (build with `sam build`; `make training-wheels` locally)"
        )
    entries.extend((f"wheels/{wheel.name}", wheel.read_bytes()) for wheel in wheels)
    payload = tar_gz(entries)
    return payload, hashlib.sha256(payload).hexdigest()


def tar_gz(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A .tar.gz of (name, bytes) entries, sorted and without timestamps: the same entries, the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _write_jsonl(records) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")


def _record_dict(record) -> dict:
    data = record.model_dump() if hasattr(record, "model_dump") else dict(record)
    return {key: data.get(key) or "" for key in ("headline", "category", "short_description", "authors")}


def _load_base_dataset(settings: Settings, tmp: Path):
    from core.dataset import load_records

    s3 = aws_clients.client("s3")
    suffix = Path(settings.base_dataset_key).suffix or ".jsonl"
    target = tmp / f"base{suffix}"
    try:
        head = s3.head_object(Bucket=settings.data_bucket, Key=settings.base_dataset_key)
    except ClientError as error:
        raise NotFound(
            f"base dataset s3://{settings.data_bucket}/{settings.base_dataset_key} is missing; "
            "upload it before training"
        ) from error
    s3.download_file(settings.data_bucket, settings.base_dataset_key, str(target))
    return load_records([target], skip_invalid=True), head.get("VersionId") or head.get("ETag", "").strip('"')


def prepare_data(event: dict, settings: Settings | None = None) -> dict:
    from core.dataset import NewsRecord
    from core.splits import golden_split, is_golden

    settings = settings or get_settings()
    settings.require("data_bucket", "artifacts_bucket")
    execution_name = event["execution_name"]
    s3 = aws_clients.client("s3")
    with tempfile.TemporaryDirectory(prefix="mlnews-prepare-") as tmp:
        records, dataset_version = _load_base_dataset(settings, Path(tmp))
    train, golden = golden_split(records, settings.golden_fraction)
    known = {record.category for record in records}
    feedback_train, feedback_golden, feedback_unknown = [], 0, 0
    if event.get("include_feedback", True):
        for item in feedback.iter_all_feedback(settings):
            if item["category"] not in known:
                feedback_unknown += 1
            elif is_golden(item, settings.golden_fraction):
                feedback_golden += 1  # evaluated later, never trained on
            else:
                feedback_train.append(
                    NewsRecord(
                        **{k: item[k] for k in ("headline", "category", "short_description", "authors")}
                    )
                )
    train = list(train) + feedback_train
    if not train or not golden:
        raise InvalidInput(
            f"not enough data to train: {len(train)} training and {len(golden)} golden records"
        )
    prefix = f"runs/{execution_name}"
    s3.put_object(
        Bucket=settings.data_bucket,
        Key=f"{prefix}/train/train.jsonl",
        Body=_write_jsonl(_record_dict(record) for record in train),
    )
    golden_body = _write_jsonl(_record_dict(record) for record in golden)
    s3.put_object(Bucket=settings.data_bucket, Key=f"{prefix}/golden/golden.jsonl", Body=golden_body)
    s3.put_object(Bucket=settings.data_bucket, Key=settings.golden_key, Body=golden_body)
    sourcedir, digest = build_sourcedir()
    code_key = f"code/sourcedir-{digest[:16]}.tar.gz"
    try:  # content-addressed: the same deployed code is uploaded once
        s3.head_object(Bucket=settings.data_bucket, Key=code_key)
    except ClientError:
        s3.put_object(Bucket=settings.data_bucket, Key=code_key, Body=sourcedir)
    job_name = training_job_name(settings, execution_name)
    user_hps = event.get("hyperparameters") or {}
    hyperparameters = {key: json.dumps(value) for key, value in user_hps.items()}
    hyperparameters.update(
        {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{settings.data_bucket}/{code_key}"),
            "sagemaker_region": json.dumps(aws_clients.region()),
            "sagemaker_container_log_level": "20",
        }
    )
    categories: dict[str, int] = {}
    for record in train:
        categories[record.category] = categories.get(record.category, 0) + 1
    totals = feedback.feedback_stats(None, settings) if settings.stats_table else {"total": 0}
    return {
        "training_job_name": job_name,
        "train_uri": f"s3://{settings.data_bucket}/{prefix}/train/",
        "golden_uri": f"s3://{settings.data_bucket}/{prefix}/golden/golden.jsonl",
        "sourcedir_uri": f"s3://{settings.data_bucket}/{code_key}",
        "code_sha256": digest,
        "hyperparameters": hyperparameters,
        "max_runtime_seconds": settings.training_max_runtime_seconds,
        "max_wait_seconds": settings.training_max_wait_seconds,
        "data_summary": {
            "base_dataset": f"s3://{settings.data_bucket}/{settings.base_dataset_key}",
            "base_dataset_version": dataset_version,
            "n_train": len(train),
            "n_golden": len(golden),
            "n_feedback_train": len(feedback_train),
            "n_feedback_golden": feedback_golden,
            "n_feedback_unknown_category": feedback_unknown,
            "feedback_total": int(totals["total"]),
            "categories": dict(sorted(categories.items())),
        },
    }


# ================================================================ evaluation
def _read_jsonl_s3(uri: str) -> list[dict]:
    bucket, key = split_s3_uri(uri)
    body = aws_clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def score(model, records: list[dict]) -> tuple[dict, list[bool]]:
    """core.evaluation metrics of `model` on `records` and the per-record correctness (for paired tests)."""
    from core.evaluation import correct_vector, evaluate

    if not records:
        return {"n": 0}, []
    proba = model.predict_proba(records)
    labels = [record["category"] for record in records]
    metrics = evaluate(labels, proba, model.classes)
    correct = [bool(value) for value in correct_vector(labels, proba, model.classes)]
    return metrics, correct


def summarise(metrics: dict) -> dict:
    return {key: metrics[key] for key in SUMMARY_METRICS if key in metrics}


def golden_feedback(settings: Settings, days: int | None = None) -> list[dict]:
    from core.splits import is_golden

    recent = feedback.recent_feedback(days or settings.feedback_eval_days, settings)
    return [item for item in recent if is_golden(item, settings.golden_fraction)]


def evaluate_candidate(event: dict, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    registry = ModelRegistry(settings)
    prepared, training = event["prepared"], event["training"]
    candidate = registry.register_training_output(
        training["S3ModelArtifacts"],
        training_job=training["TrainingJobName"],
        training_distribution=prepared["data_summary"].get("categories"),
        data_summary=prepared["data_summary"],
    )
    pointer = registry.active_pointer()
    golden = _read_jsonl_s3(prepared["golden_uri"])
    recent = golden_feedback(settings)
    candidate_model = registry.load_model(candidate["version"])
    candidate_golden, candidate_correct = score(candidate_model, golden)
    candidate_feedback, _ = score(candidate_model, recent)
    active_golden = active_correct = active_feedback = None
    if pointer:
        active_model = registry.load_model(pointer["active_version"])
        active_golden, active_correct = score(active_model, golden)
        active_feedback, _ = score(active_model, recent)
    decision = promotion_decision(
        candidate_golden,
        active_golden,
        candidate_correct=candidate_correct,
        active_correct=active_correct,
        policy=PromotionPolicy.from_settings(settings),
    )
    result = {
        "candidate_version": candidate["version"],
        "active_version": pointer["active_version"] if pointer else None,
        "active_revision": int(pointer["revision"]) if pointer else 0,
        "golden": {
            "n": len(golden),
            "candidate": summarise(candidate_golden),
            "active": summarise(active_golden) if active_golden else None,
        },
        "feedback": {
            "n": len(recent),
            "candidate": summarise(candidate_feedback),
            "active": summarise(active_feedback) if active_feedback else None,
        },
        "decision": decision,
        "evaluated_at": utc_now(),
    }
    registry.record_evaluation(
        candidate["version"], {**result, "golden_per_class": candidate_golden.get("per_class", {})}
    )
    return result


def request_evaluation(
    version: str | None,
    *,
    feedback_days: int | None = None,
    correlation_id: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Record a pending evaluation and hand it to the evaluation function asynchronously."""
    settings = settings or get_settings()
    settings.require("evaluate_function_name", "artifacts_bucket")
    registry = ModelRegistry(settings)
    if version is None:
        pointer = registry.active_pointer()
        if not pointer:
            raise NotFound("no active model to evaluate; pass a version")
        version = pointer["active_version"]
    registry.require(version)
    evaluation_id = uuid.uuid4().hex
    record = {
        "evaluation_id": evaluation_id,
        "version": version,
        "status": "pending",
        "created_at": utc_now(),
    }
    _put_evaluation(settings, record)
    aws_clients.client("lambda").invoke(
        FunctionName=settings.evaluate_function_name,
        InvocationType="Event",
        Payload=json.dumps(
            {
                "action": "evaluate_version",
                "evaluation_id": evaluation_id,
                "version": version,
                "feedback_days": feedback_days,
                "correlation_id": correlation_id,
            }
        ).encode(),
    )
    return record


def _evaluation_key(evaluation_id: str) -> str:
    return f"evaluations/{evaluation_id}.json"


def _put_evaluation(settings: Settings, record: dict) -> None:
    aws_clients.client("s3").put_object(
        Bucket=settings.artifacts_bucket,
        Key=_evaluation_key(record["evaluation_id"]),
        Body=json.dumps(record).encode(),
        ContentType="application/json",
    )


def get_evaluation(evaluation_id: str, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    if not _EVALUATION_ID.match(evaluation_id):
        raise NotFound(f"no evaluation {evaluation_id!r}")
    try:
        body = (
            aws_clients.client("s3")
            .get_object(Bucket=settings.artifacts_bucket, Key=_evaluation_key(evaluation_id))["Body"]
            .read()
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise NotFound(f"no evaluation {evaluation_id!r}") from error
        raise
    return json.loads(body)


def golden_records(settings: Settings) -> list[dict]:
    """The golden holdout: the copy PrepareData maintains, else derived from the base dataset."""
    from core.splits import golden_split

    try:
        return _read_jsonl_s3(f"s3://{settings.data_bucket}/{settings.golden_key}")
    except ClientError:
        pass
    with tempfile.TemporaryDirectory(prefix="mlnews-golden-") as tmp:
        records, _ = _load_base_dataset(settings, Path(tmp))
    _, golden = golden_split(records, settings.golden_fraction)
    body = _write_jsonl(_record_dict(record) for record in golden)
    aws_clients.client("s3").put_object(Bucket=settings.data_bucket, Key=settings.golden_key, Body=body)
    return [_record_dict(record) for record in golden]


def evaluate_version(event: dict, settings: Settings | None = None) -> dict:
    """Asynchronous evaluation run: records completed metrics or the failure in the evaluation record."""
    settings = settings or get_settings()
    record = {
        "evaluation_id": event["evaluation_id"],
        "version": event["version"],
        "status": "running",
        "created_at": event.get("created_at") or utc_now(),
    }
    _put_evaluation(settings, record)
    try:
        model = ModelRegistry(settings).load_model(event["version"])
        golden_metrics, _ = score(model, golden_records(settings))
        feedback_metrics, _ = score(model, golden_feedback(settings, event.get("feedback_days")))
        record.update(status="completed", golden=golden_metrics, feedback=feedback_metrics)
    except Exception as error:  # recorded for the caller; an async retry would fail the same way
        logger.exception("evaluation %s failed", event["evaluation_id"])
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["completed_at"] = utc_now()
    _put_evaluation(settings, record)
    return record


# ================================================================ outcome recording
def publish_event(detail_type: str, detail: dict, settings: Settings) -> None:
    response = aws_clients.client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"event {detail_type} was not accepted: {response['Entries']}")


def record_outcome(event: dict, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    action = event.get("action")
    common = {"job_id": event.get("execution_name"), "correlation_id": event.get("correlation_id")}
    registry = ModelRegistry(settings)
    if action == "deploy":
        evaluation = event["evaluation"]
        deployed = registry.activate(
            evaluation["candidate_version"],
            expected_revision=evaluation["active_revision"],
            reason=f"promoted by retraining {common['job_id']}",
        )
        outcome = {"status": "deployed", **deployed, "reasons": evaluation["decision"]["reasons"]}
        publish_event("ModelPromoted", {**common, **outcome, "golden": evaluation.get("golden")}, settings)
    elif action == "reject":
        evaluation = event["evaluation"]
        # A retried Reject step (the state machine's Retry after a Lambda error) finds its own write done
        # and completes, event included, instead of failing the execution on the status condition.
        if registry.require(evaluation["candidate_version"])["status"] != "rejected":
            registry.reject(evaluation["candidate_version"], evaluation["decision"]["reasons"])
        outcome = {
            "status": "rejected",
            "version": evaluation["candidate_version"],
            "reasons": evaluation["decision"]["reasons"],
        }
        publish_event("ModelRejected", {**common, **outcome}, settings)
    elif action == "failure":
        error = event.get("error") or {}
        outcome = {
            "status": "failed",
            "error": str(error.get("Error", "unknown")),
            "cause": str(error.get("Cause", ""))[:2000],
        }
        publish_event("RetrainingFailed", {**common, **outcome}, settings)
    else:
        raise InvalidInput(f"unknown outcome action {action!r}")
    if common["job_id"]:
        registry.release_retraining_lock(common["job_id"])
    return outcome


def deploy_version(
    version: str,
    *,
    reason: str,
    allow_rejected: bool = False,
    correlation_id: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Manual promotion or rollback from the admin API, announced like an automatic one."""
    settings = settings or get_settings()
    deployed = ModelRegistry(settings).activate(version, reason=reason, allow_rejected=allow_rejected)
    publish_event("ModelDeployed", {**deployed, "reason": reason, "correlation_id": correlation_id}, settings)
    return deployed
