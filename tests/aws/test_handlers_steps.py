"""The state machine's Lambda steps and the schedule target, driven by the sample events in events/."""

from __future__ import annotations

import json
import tarfile

import boto3
import pytest
from pydantic import ValidationError

from tests.support.handler_calls import LambdaContext
from tests.support.records import make_records


@pytest.fixture
def base_dataset(aws):
    body = "".join(json.dumps(record) + "\n" for record in make_records(30, seed=5)).encode()
    boto3.client("s3").put_object(Bucket=aws.name("DataBucket"), Key="datasets/base.jsonl", Body=body)


def test_prepare_data_sample_event(aws, base_dataset, load_event, registry, good_model_dir):
    import handlers.prepare_data as module

    aws.use_function_env("PrepareDataFunction")
    prepared = module.lambda_handler(load_event("sfn_prepare_data.json"), LambdaContext())
    bucket = aws.name("DataBucket")
    assert prepared["training_job_name"] == "mlnews-dev-retrain-2026010112"
    assert prepared["train_uri"] == f"s3://{bucket}/runs/retrain-2026010112/train/"
    assert (prepared["max_runtime_seconds"], prepared["max_wait_seconds"]) == (3600, 7200)
    summary = prepared["data_summary"]
    assert summary["n_train"] + summary["n_golden"] == 120 and summary["n_golden"] > 0
    assert sum(summary["categories"].values()) == summary["n_train"]
    assert json.loads(prepared["hyperparameters"]["sagemaker_program"]) == "train.py"
    s3 = boto3.client("s3")
    golden = s3.get_object(Bucket=bucket, Key="golden/golden.jsonl")["Body"].read().decode().splitlines()
    assert len(golden) == summary["n_golden"]
    code_key = prepared["sourcedir_uri"].split(f"{bucket}/", 1)[1]
    with tarfile.open(fileobj=s3.get_object(Bucket=bucket, Key=code_key)["Body"], mode="r|gz") as tar:
        assert "train.py" in tar.getnames()
    again = module.lambda_handler(load_event("sfn_prepare_data.json"), LambdaContext())
    assert again["sourcedir_uri"] == prepared["sourcedir_uri"]  # same code, same object


def test_prepare_data_without_a_base_dataset_names_the_missing_key(aws, load_event):
    import handlers.prepare_data as module

    aws.use_function_env("PrepareDataFunction")
    with pytest.raises(Exception, match="datasets/base.jsonl is missing"):
        module.lambda_handler(load_event("sfn_prepare_data.json"), LambdaContext())


def test_record_outcome_sample_events(aws, load_event, registry, good_model_dir, weak_model_dir):
    import handlers.record_outcome as module

    aws.use_function_env("RecordOutcomeFunction")
    active = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(active)
    candidate = registry.register_model_dir(weak_model_dir)["version"]
    assert (active, candidate) == ("v0001", "v0002")  # what the sample events refer to
    reject_event = load_event("sfn_record_outcome_reject.json")
    registry.acquire_retraining_lock(reject_event["execution_name"], ttl_seconds=3600)
    rejected = module.lambda_handler(reject_event, LambdaContext())
    assert rejected["status"] == "rejected" and registry.require(candidate)["status"] == "rejected"
    registry.acquire_retraining_lock("next-run", ttl_seconds=3600)  # the outcome released the slot
    registry.release_retraining_lock("next-run")

    failure = module.lambda_handler(load_event("sfn_record_outcome_failure.json"), LambdaContext())
    assert failure["status"] == "failed" and failure["error"] == "States.TaskFailed"

    retry = registry.register_model_dir(weak_model_dir)["version"]
    event = load_event("sfn_record_outcome_deploy.json")
    event["evaluation"]["candidate_version"] = retry
    deployed = module.lambda_handler(event, LambdaContext())
    assert deployed["status"] == "deployed" and deployed["previous_version"] == active
    again = module.lambda_handler(event, LambdaContext())  # Step Functions retried a step that succeeded
    assert again["status"] == "deployed" and again["previous_version"] == active
    assert registry.active_pointer()["active_version"] == retry
    stale = load_event("sfn_record_outcome_deploy.json")  # evaluated against the pointer before `retry`
    stale["evaluation"]["candidate_version"] = registry.register_model_dir(weak_model_dir)["version"]
    with pytest.raises(Exception, match="active model changed"):  # revision moved on since the evaluation
        module.lambda_handler(stale, LambdaContext())
    assert registry.active_pointer()["active_version"] == retry
    with pytest.raises(Exception, match="unknown outcome action"):
        module.lambda_handler({"action": "celebrate"}, LambdaContext())


def test_evaluate_version_sample_event_records_failure_for_unknown_version(aws, load_event):
    import handlers.evaluate_model as module
    from core.retraining.evaluations import get_evaluation

    aws.use_function_env("EvaluateModelFunction")
    event = load_event("evaluate_version.json")
    result = module.lambda_handler(event, LambdaContext())
    assert result["status"] == "failed" and "v0001" in result["error"]
    assert get_evaluation(event["evaluation_id"])["status"] == "failed"
    with pytest.raises(ValueError, match="unknown action"):
        module.lambda_handler({"action": "guess"}, LambdaContext())


def test_bad_step_input_fails_naming_the_field_before_any_work(aws, load_event, registry):
    import handlers.evaluate_model as module

    aws.use_function_env("EvaluateModelFunction")
    event = load_event("sfn_evaluate_candidate.json")
    del event["training"]["S3ModelArtifacts"]
    missing = r"evaluate_candidate\.training\.S3ModelArtifacts\n  Field required"
    with pytest.raises(ValidationError, match=missing):
        module.lambda_handler(event, LambdaContext())
    assert registry.list_versions() == []  # refused before registering anything


def test_retrain_check_needs_its_state_machine(aws, load_event, monkeypatch):
    import handlers.retrain_check as module

    aws.use_function_env("RetrainCheckFunction")
    monkeypatch.delenv("STATE_MACHINE_ARN")  # deployed without it
    with pytest.raises(Exception, match="STATE_MACHINE_ARN"):
        module.lambda_handler(load_event("schedule_retrain_check.json"), LambdaContext())


def test_a_failed_run_rejects_the_candidate_it_had_registered(aws, load_event, registry, good_model_dir):
    """Evaluate registers the candidate first; if it then fails, RecordFailure must not leave it a candidate
    forever (issue 9)."""
    import handlers.record_outcome as module
    from core.retraining.executions import training_job_name
    from core.settings import get_settings

    aws.use_function_env("RecordOutcomeFunction")
    event = load_event("sfn_record_outcome_failure.json")
    job = training_job_name(get_settings(), event["execution_name"])
    orphan = registry.register_model_dir(good_model_dir, training_job=job)["version"]
    untouched = registry.register_model_dir(good_model_dir)["version"]  # another run's, or by hand
    failed = module.lambda_handler(event, LambdaContext())
    assert failed["status"] == "failed"
    item = registry.require(orphan)
    assert item["status"] == "rejected"
    run = event["execution_name"]
    assert item["reasons"] == [f"not evaluated: retraining {run} failed with States.TaskFailed"]
    assert registry.require(untouched)["status"] == "candidate"
    module.lambda_handler(event, LambdaContext())  # a retried RecordFailure step completes
    assert registry.require(orphan)["status"] == "rejected"
