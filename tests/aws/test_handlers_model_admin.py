from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest

from tests.support.api_events import api_event, call
from tests.support.records import make_records


@pytest.fixture
def admin(aws):
    """ModelAdminFunction of the deployed stack; its state machine is in moto's recording backend (executions
    stay RUNNING) and the evaluation function it invokes asynchronously runs in-process."""
    import handlers.api_model_admin as module

    aws.use_function_env("ModelAdminFunction")
    return module


def test_versions_deploy_and_rollback(admin, registry, good_model_dir, weak_model_dir):
    status, body, _ = call(admin, api_event("api_model_versions.json"))
    assert status == 200 and body == {"active_version": None, "versions": []}
    v1 = registry.register_model_dir(good_model_dir)["version"]
    v2 = registry.register_model_dir(weak_model_dir)["version"]
    deploy = api_event("api_model_deploy.json", body={"reason": "first"}, path_parameters={"version": v1})
    status, body, _ = call(admin, deploy)
    assert status == 200 and body == {
        "version": v1,
        "previous_version": None,
        "revision": 1,
        "status": "active",
    }
    status, body, _ = call(admin, api_event("api_model_deploy.json", path_parameters={"version": v2}))
    assert status == 200 and body["previous_version"] == v1
    status, body, _ = call(admin, api_event("api_model_versions.json"))
    assert body["active_version"] == v2
    assert {(v["version"], v["status"]) for v in body["versions"]} == {(v1, "retired"), (v2, "active")}
    assert body["versions"][0]["metrics"] and body["versions"][0]["artifact"].endswith(f"{v2}/model.tar.gz")
    status, body, _ = call(admin, api_event("api_model_deploy.json", path_parameters={"version": v1}))
    assert status == 200 and body["version"] == v1  # rollback


def test_deploy_errors_are_4xx(admin, registry, good_model_dir):
    status, body, _ = call(admin, api_event("api_model_deploy.json", path_parameters={"version": "v0042"}))
    assert (status, body["error"]) == (404, "not_found")
    version = registry.register_model_dir(good_model_dir)["version"]
    registry.reject(version, ["worse"])
    status, body, _ = call(admin, api_event("api_model_deploy.json", path_parameters={"version": version}))
    assert (status, body["error"]) == (409, "conflict")
    forced = api_event(
        "api_model_deploy.json",
        body={"reason": "override", "allow_rejected": True},
        path_parameters={"version": version},
    )
    assert call(admin, forced)[0] == 200
    bad = api_event("api_model_deploy.json", body={"reason": 7}, path_parameters={"version": version})
    assert call(admin, bad)[0] == 422


def test_train_starts_one_execution_at_a_time(admin, aws, monkeypatch):
    status, body, _ = call(admin, api_event("api_model_train.json"))
    assert status == 202, body
    job_id = body["job_id"]
    assert job_id.startswith("train-") and body["status"] == "RUNNING"
    execution = boto3.client("stepfunctions").describe_execution(executionArn=body["execution_arn"])
    execution_input = json.loads(execution["input"])
    assert execution_input["hyperparameters"] == {"C": 8.0, "max_iter": 200}
    assert (
        execution_input["correlation_id"] == "demo-correlation-0001" and execution_input["trigger"] == "api"
    )
    status, again, _ = call(admin, api_event("api_model_train.json"))
    assert (status, again["error"], again["details"]["job_id"]) == (409, "conflict", job_id)

    status, state, _ = call(
        admin, api_event("api_model_train_status.json", path_parameters={"job_id": job_id})
    )
    assert status == 200 and (state["job_id"], state["status"]) == (job_id, "RUNNING")
    assert (
        call(admin, api_event("api_model_train_status.json", path_parameters={"job_id": "train-1"}))[0] == 404
    )
    assert (
        call(admin, api_event("api_model_train_status.json", path_parameters={"job_id": "bad id!"}))[0] == 404
    )
    # a second starter racing the first: its RUNNING check read nothing, the lock still refuses it
    import core.retraining.executions
    from core.registry.versions import ModelRegistry
    from core.retraining.executions import start_retraining

    registry = ModelRegistry()
    registry.release_retraining_lock(job_id)  # however far that run got, another starter holds the slot now
    registry.acquire_retraining_lock("train-other", ttl_seconds=3600)
    monkeypatch.setattr(core.retraining.executions, "list_executions", lambda *args, **kwargs: [])
    with pytest.raises(Exception, match="retraining train-other is in progress"):
        start_retraining(trigger="schedule", reasons=["race"], name="retrain-race")
    sfn = boto3.client("stepfunctions")
    machine = sfn.describe_execution(executionArn=body["execution_arn"])["stateMachineArn"]
    started = [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
    assert "retrain-race" not in started


def test_train_rejects_reserved_hyperparameters(admin):
    event = api_event("api_model_train.json", body={"hyperparameters": {"sagemaker_program": "evil.py"}})
    status, body, _ = call(admin, event)
    assert status == 422 and "sagemaker_program" in body["message"]


def test_retrain_check_starts_retraining_without_a_model_then_blocks(admin):
    status, body, _ = call(admin, api_event("api_model_retrain_check.json"))
    assert status == 200, body
    assert body["retrain"] is True and "no active model is deployed" in body["reasons"]
    assert body["execution"]["job_id"] == f"retrain-{datetime.now(UTC):%Y%m%d%H}"
    status, body, _ = call(admin, api_event("api_model_retrain_check.json", body={"force": True}))
    assert status == 200 and body["retrain"] is False and body["execution"] is None
    assert any("still running" in reason for reason in body["reasons"])


def test_evaluation_runs_asynchronously_and_reports_metrics(admin, aws, active_model):
    golden = make_records(5, seed=7)
    boto3.client("s3").put_object(
        Bucket=aws.name("DataBucket"),
        Key="golden/golden.jsonl",
        Body="".join(json.dumps(record) + "\n" for record in golden).encode(),
    )
    status, body, _ = call(admin, api_event("api_model_evaluate.json"))
    assert status == 202, body
    assert body["version"] == "v0001"
    status, result, _ = call(
        admin,
        api_event(
            "api_model_evaluation_status.json", path_parameters={"evaluation_id": body["evaluation_id"]}
        ),
    )
    assert status == 200 and result["status"] == "completed", result
    assert result["created_at"] == body["created_at"]  # the run keeps when it was requested
    assert result["golden"]["n"] == 20 and result["golden"]["accuracy"] >= 0.9
    assert result["feedback"] == {"n": 0}


def test_evaluation_errors_are_4xx(admin, aws):
    assert call(admin, api_event("api_model_evaluate.json", body={}))[0] == 404  # nothing deployed
    assert call(admin, api_event("api_model_evaluate.json", body={"version": "latest"}))[0] == 422
    missing = api_event("api_model_evaluation_status.json", path_parameters={"evaluation_id": "0" * 32})
    assert call(admin, missing)[0] == 404
    malformed = api_event("api_model_evaluation_status.json", path_parameters={"evaluation_id": "../etc"})
    assert call(admin, malformed)[0] == 404
