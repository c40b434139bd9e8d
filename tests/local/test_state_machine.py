"""The retraining state machine (statemachines/retraining.asl.json) executed by moto's ASL interpreter."""

from __future__ import annotations

import io
import json
import re
import tarfile

import pytest

from core.registry.archives import tar_gz
from core.registry.versions import ModelRegistry
from core.retraining.sourcedir import build_sourcedir
from core.retraining.status import execution_status
from local.iam.enforcement import expected_denials
from tests.support.handler_calls import call_handler
from tests.support.records import make_records, train_model


@pytest.fixture
def base_dataset(pipeline):
    pipeline.upload_base_dataset(make_records(50, seed=3))


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory):
    return train_model(make_records(40, seed=2, label_noise=0.9), tmp_path_factory.mktemp("weak"))


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return train_model(make_records(40, seed=1), tmp_path_factory.mktemp("good"))


def job_log(pipeline, job_name: str) -> str:
    """The training job's log, where SageMaker puts it (CloudWatch Logs)."""
    events = pipeline.client("logs").get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"{job_name}/algo-1"
    )["events"]
    return "\n".join(event["message"] for event in events)


def entered_states(pipeline, arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in pipeline.history(arn)
        if event["type"].endswith("StateEntered")
    ]


def test_better_candidate_is_promoted_over_a_weak_active_model(pipeline, base_dataset, weak_model):
    active = pipeline.deploy(weak_model)
    arn = pipeline.start("retrain-promote", hyperparameters={"C": 5.0})
    result = pipeline.wait(arn)
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    output = json.loads(result["output"])
    assert entered_states(pipeline, arn) == ["PrepareData", "Train", "Evaluate", "PromotionGate", "Deploy"]
    evaluation = output["evaluation"]
    assert (evaluation["active_version"], evaluation["candidate_version"]) == (active, "v0002")
    assert evaluation["decision"]["promote"] is True
    assert evaluation["golden"]["candidate"]["accuracy"] > evaluation["golden"]["active"]["accuracy"]
    assert evaluation["decision"]["checks"]["mcnemar_p_value"] < 0.05
    assert output["outcome"] == {
        "status": "deployed",
        "version": "v0002",
        "previous_version": active,
        "revision": 2,
        "reasons": evaluation["decision"]["reasons"],
    }

    registry = ModelRegistry()
    assert registry.active_pointer()["active_version"] == "v0002"
    assert registry.require(active)["status"] == "retired"
    candidate = registry.require("v0002")
    assert (
        candidate["training_job"] == output["prepared"]["training_job_name"] == "mlnews-dev-retrain-promote"
    )
    assert candidate["data_summary"]["n_golden"] == output["prepared"]["data_summary"]["n_golden"] > 0

    # The candidate's model card: the training job's part (pictures from its copy of the golden set, latency),
    # then the Evaluate step's (the golden-set figures the gate used, the comparison, the decision).
    assert candidate["card"]["uri"].endswith("/models/v0002/card/card.json")
    card, images = registry.card("v0002")
    assert (card.status, card.source, card.training_job) == ("active", "training", candidate["training_job"])
    assert card.decision.promote is True and card.decision.reasons == evaluation["decision"]["reasons"]
    assert card.comparison.active_version == active
    assert card.comparison.active.accuracy == evaluation["golden"]["active"]["accuracy"]
    assert card.golden.accuracy == evaluation["golden"]["candidate"]["accuracy"]
    golden_n = candidate["data_summary"]["n_golden"]
    assert card.golden.n == golden_n == sum(map(sum, card.golden.confusion.matrix))
    assert card.golden.scored_by.startswith("the Evaluate step")
    assert {(plot.made_by, plot.data_fingerprint) for plot in card.plots.values()} == {
        ("the training job", card.golden.data_fingerprint)
    }
    assert sorted(images) == ["confusion_matrix.png", "reliability.png"]
    assert all(data.startswith(b"\x89PNG") for data in images.values())
    assert card.data.sources[0].startswith(f"s3://{pipeline.name('DataBucket')}/")
    assert card.data.feedback_share == 0
    assert card.serving_cost.latency.n > 0 and card.serving_cost.measured_in.startswith("the training job")
    assert card.missing == []

    # What training received: the channel without any golden record, the user's hyperparameters and code.
    create = next(
        e
        for e in pipeline.history(arn)
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sagemaker"
    )
    request = json.loads(create["taskScheduledEventDetails"]["parameters"])
    assert request["EnableManagedSpotTraining"] is True
    assert [channel["ChannelName"] for channel in request["InputDataConfig"]] == ["train", "golden"]
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["HyperParameters"]["C"] == "5.0"
    assert json.loads(request["HyperParameters"]["sagemaker_program"]) == "train.py"
    assert "CheckpointConfig" not in request  # nothing writes or resumes checkpoints: a Spot restart retrains
    s3 = pipeline.client("s3")
    bucket = pipeline.name("DataBucket")
    train_lines = s3.get_object(Bucket=bucket, Key="runs/retrain-promote/train/train.jsonl")["Body"].read()
    golden_lines = s3.get_object(Bucket=bucket, Key="runs/retrain-promote/golden/golden.jsonl")["Body"].read()
    train_headlines = {json.loads(line)["headline"] for line in train_lines.splitlines()}
    golden_headlines = {json.loads(line)["headline"] for line in golden_lines.splitlines()}
    assert golden_headlines and not train_headlines & golden_headlines

    code_key = json.loads(request["HyperParameters"]["sagemaker_submit_directory"])[len(f"s3://{bucket}/") :]
    with tarfile.open(fileobj=s3.get_object(Bucket=bucket, Key=code_key)["Body"], mode="r|gz") as tar:
        names = tar.getnames()
    assert {"train.py", "core/fitting/training.py", "core/model/bundle.py", "training/train.py"} <= set(names)
    assert any(name.startswith("wheels/pydantic-2.") for name in names)

    # How the job ran: the image's Python, pydantic from the shipped wheels, the hyperparameters read under
    # the toolkit's convention (-C 5.0 --char_ngrams False ... as arguments, SM_HPS in the environment).
    log = job_log(pipeline, "mlnews-dev-retrain-promote")
    runtime = r"runtime: Python 3\.12\.\d+ .*scikit-learn 1\.9\.0, .*pydantic 2\.13\.5$"
    assert re.search(runtime, log, re.M), log
    assert "Successfully installed" in log and "pydantic-2.13.5" in log
    assert "train.py -C 5.0 --char_ngrams False --embeddings none --max_iter 100" in log
    job = pipeline.client("sagemaker").describe_training_job(TrainingJobName="mlnews-dev-retrain-promote")
    model_bucket, _, model_key = job["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    model = s3.get_object(Bucket=model_bucket, Key=model_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["hyperparameters"]["C"] == 5.0 and manifest["hyperparameters"]["embeddings"] == "none"

    published = pipeline.published_events()
    assert [event["detail-type"] for event in published] == ["ModelPromoted"]
    assert published[0]["detail"]["correlation_id"] == "corr-retrain-promote"

    status = execution_status("retrain-promote")
    assert (status["status"], status["current_step"]) == ("SUCCEEDED", "Deploy")
    assert status["outcome"]["version"] == "v0002" and status["training_job"]["status"] == "Completed"


def test_first_model_is_promoted_when_above_the_floor(pipeline, base_dataset):
    result = pipeline.wait(pipeline.start("retrain-first"))
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    output = json.loads(result["output"])
    assert output["evaluation"]["active_version"] is None
    assert (
        output["evaluation"]["decision"]["reasons"][-1]
        == "no active model: candidate is above the accuracy floor"
    )
    assert ModelRegistry().active_pointer()["active_version"] == "v0001"


def test_candidate_that_is_not_better_is_rejected(pipeline, base_dataset, good_model):
    active = pipeline.deploy(good_model)
    arn = pipeline.start("retrain-reject")
    result = pipeline.wait(arn)
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    output = json.loads(result["output"])
    assert entered_states(pipeline, arn)[-2:] == ["PromotionGate", "Reject"]
    assert output["outcome"]["status"] == "rejected" and output["outcome"]["version"] == "v0002"
    registry = ModelRegistry()
    assert registry.active_pointer()["active_version"] == active
    assert registry.require("v0002")["status"] == "rejected"
    assert registry.require("v0002")["reasons"] == output["evaluation"]["decision"]["reasons"]
    assert [event["detail-type"] for event in pipeline.published_events()] == ["ModelRejected"]


def test_failed_training_is_recorded_then_the_execution_fails(pipeline, base_dataset, good_model):
    active = pipeline.deploy(good_model)
    pipeline.training.fail_jobs = True
    arn = pipeline.start("retrain-fail")
    result = pipeline.wait(arn)
    assert result["status"] == "FAILED" and result["error"] == "RetrainingFailed"
    assert entered_states(pipeline, arn) == ["PrepareData", "Train", "RecordFailure", "RetrainingFailed"]
    events = pipeline.published_events()
    assert [event["detail-type"] for event in events] == ["RetrainingFailed"]
    assert events[0]["detail"]["error"] == "States.TaskFailed" and "Failed" in events[0]["detail"]["cause"]
    registry = ModelRegistry()
    assert [item["version"] for item in registry.list_versions()] == [active]
    assert registry.active_pointer()["active_version"] == active
    status = execution_status("retrain-fail")
    assert status["status"] == "FAILED" and status["error"]["error"] == "RetrainingFailed"


def test_a_requirement_the_image_cannot_satisfy_fails_the_job_with_pips_message(pipeline, base_dataset):
    """The old defect: a training pin the image does not have (scikit-learn 1.9.1, the image has 1.9.0) needs
    PyPI at run time; with no network, as in a private subnet, the job fails in its install step."""
    sourcedir, digest = build_sourcedir()
    with tarfile.open(fileobj=io.BytesIO(sourcedir)) as tar:
        entries = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}
    entries["requirements.txt"] += b"scikit-learn==1.9.1\n"
    body = tar_gz(entries.items())
    # PrepareData uploads its code once under the sha256 of its bytes: this one takes the real one's place.
    pipeline.client("s3").put_object(
        Bucket=pipeline.name("DataBucket"), Key=f"code/sourcedir-{digest[:16]}.tar.gz", Body=body
    )
    arn = pipeline.start("retrain-unsatisfiable")
    result = pipeline.wait(arn)
    assert result["status"] == "FAILED" and result["error"] == "RetrainingFailed"
    assert entered_states(pipeline, arn) == ["PrepareData", "Train", "RecordFailure", "RetrainingFailed"]
    sagemaker = pipeline.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName="mlnews-dev-retrain-unsatisfiable")
    reason = job["FailureReason"]
    assert job["TrainingJobStatus"] == "Failed"
    assert reason.startswith("AlgorithmError: InstallRequirementsError")
    assert "No matching distribution found for scikit-learn==1.9.1" in reason
    (event,) = pipeline.published_events()
    assert event["detail-type"] == "RetrainingFailed"
    assert "No matching distribution found for scikit-learn==1.9.1" in event["detail"]["cause"]
    assert ModelRegistry().list_versions() == []


def test_missing_base_dataset_fails_in_prepare_data(pipeline):
    arn = pipeline.start("retrain-nodata")
    result = pipeline.wait(arn)
    assert result["status"] == "FAILED"
    assert entered_states(pipeline, arn) == ["PrepareData", "RecordFailure", "RetrainingFailed"]
    detail = pipeline.published_events()[0]["detail"]
    assert detail["error"] == "NotFound" and "base dataset" in detail["cause"]
    assert pipeline.training.created == []


def test_bad_step_input_is_recorded_naming_the_field(pipeline):
    arn = pipeline.start("retrain-bad-input", include_feedback="sometimes")
    result = pipeline.wait(arn)
    assert result["status"] == "FAILED"
    assert entered_states(pipeline, arn) == ["PrepareData", "RecordFailure", "RetrainingFailed"]
    (event,) = pipeline.published_events()
    assert event["detail"]["error"] == "ValidationError"
    assert "include_feedback" in event["detail"]["cause"]
    assert "Input should be a valid boolean" in event["detail"]["cause"]
    assert pipeline.training.created == []


def test_training_refused_for_a_resource_limit_is_retried_under_the_name_step_functions_raises(
    pipeline, base_dataset
):
    pipeline.training.refuse_next_creates = ["ResourceLimitExceeded"]
    arn = pipeline.start("retrain-retry")
    result = pipeline.wait(arn)
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in pipeline.history(arn)
        if event["type"] == "TaskFailed"
    ]
    assert failures == ["SageMaker.ResourceLimitExceededException"]
    assert pipeline.training.created == ["mlnews-dev-retrain-retry"]
    assert json.loads(result["output"])["outcome"]["status"] == "deployed"


def test_invalid_training_request_fails_at_once_without_retrying_the_same_job_name(pipeline, base_dataset):
    pipeline.training.refuse_next_creates = ["ValidationException"]
    arn = pipeline.start("retrain-invalid")
    result = pipeline.wait(arn)
    assert result["status"] == "FAILED"
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in pipeline.history(arn)
        if event["type"] == "TaskFailed"
    ]
    # One attempt: a validation error is not retryable, and Step Functions reports it under the base name.
    assert failures == ["SageMaker.AmazonSageMakerException"]
    assert pipeline.training.refuse_next_creates == [] and pipeline.training.created == []


def test_scheduled_retrain_check_starts_one_execution(pipeline, base_dataset, load_schedule_event):
    environment = pipeline.stack.function_environment("RetrainCheckFunction")
    environment["STATE_MACHINE_ARN"] = pipeline.state_machine_arn
    first = call_handler("handlers/retrain_check.lambda_handler", load_schedule_event, environment)
    assert first["retrain"] is True and first["execution"]["job_id"].startswith("retrain-")
    second = call_handler("handlers/retrain_check.lambda_handler", load_schedule_event, environment)
    assert second["retrain"] is False and second["execution"] is None  # running or cooling down
    execution = pipeline.client("stepfunctions").describe_execution(
        executionArn=first["execution"]["execution_arn"]
    )
    assert json.loads(execution["input"])["trigger"] == "schedule"
    assert pipeline.wait(first["execution"]["execution_arn"])["status"] == "SUCCEEDED"


@pytest.fixture
def load_schedule_event():
    from local.template import REPO_ROOT

    return json.loads((REPO_ROOT / "events" / "schedule_retrain_check.json").read_text())


def _without_sync_rule_permissions(template: dict) -> None:
    policies = template["Resources"]["RetrainingStateMachine"]["Properties"]["Policies"]
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "SyncIntegrationRule"]


@pytest.mark.template_change.with_args(_without_sync_rule_permissions)
def test_train_step_fails_without_the_permissions_sync_needs(pipeline, base_dataset):
    """createTrainingJob.sync keeps an EventBridge rule with the execution role: without events:PutRule,
    PutTargets and DescribeRule the Train step fails before any job starts, as on AWS (issue 7)."""
    with expected_denials() as denied:
        result = pipeline.wait(pipeline.start("retrain-no-sync-rule"))
    assert result["status"] == "FAILED"
    assert entered_states(pipeline, result["executionArn"])[:3] == ["PrepareData", "Train", "RecordFailure"]
    assert pipeline.training.created == []  # refused before CreateTrainingJob
    assert [(d.principal.label, f"{d.call.service}:{d.call.operation}") for d in denied] == [
        ("RetrainingStateMachine", "events:PutRule")
    ]
    assert "events:PutRule" in json.dumps(pipeline.failures(result["executionArn"]))
