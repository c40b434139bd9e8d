"""Safety of the retraining loop against the state machine: a retried Reject step, the feedback signal and
training job names (the promotion gate's arithmetic is in tests/unit/test_policies.py)."""

from __future__ import annotations

import json

import pytest

from core.errors import Conflict
from core.feedback import counters
from core.registry.versions import ModelRegistry
from core.retraining.check import measure_signals
from core.retraining.executions import training_job_name
from core.retraining.outcome import reject_candidate
from core.retraining.status import execution_status
from core.retraining.steps import CandidateEvaluation
from core.settings import get_settings, load_settings
from tests.support.records import make_records, train_model


# ---------------------------------------------------------------- outcome steps
@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return train_model(make_records(40, seed=1), tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory):
    return train_model(make_records(40, seed=2, label_noise=0.9), tmp_path_factory.mktemp("weak"))


def rejected_evaluation(candidate: str, active: str | None, revision: int) -> CandidateEvaluation:
    return CandidateEvaluation(
        candidate_version=candidate,
        active_version=active,
        active_revision=revision,
        decision={"promote": False, "reasons": ["test reject"]},
        golden={"n": 10, "candidate": {"n": 10}, "active": {"n": 10}},
        feedback={"n": 0, "candidate": {"n": 0}, "active": {"n": 0}},
        evaluated_at="2026-01-01T12:40:00+00:00",
    )


def test_a_retried_reject_step_completes_instead_of_failing(pipeline, good_model, weak_model):
    registry = ModelRegistry()
    active = pipeline.deploy(good_model)
    candidate = registry.register_model_dir(weak_model)["version"]
    rejected = rejected_evaluation(candidate, active, revision=1)
    step = {"job_id": "retrain-2", "correlation_id": "c"}
    assert reject_candidate(rejected, **step) == reject_candidate(rejected, **step)
    assert registry.require(candidate)["status"] == "rejected"
    assert registry.require(candidate)["reasons"] == ["test reject"]
    registry.activate(candidate, reason="operator override", allow_rejected=True)
    with pytest.raises(Conflict):  # an active version is never marked rejected
        reject_candidate(rejected, **step)


# ---------------------------------------------------------------- signals and names
def test_new_feedback_counts_from_the_last_training_not_the_newest_version(pipeline, good_model, weak_model):
    registry = ModelRegistry()
    trained = registry.register_model_dir(good_model, data_summary={"feedback_total": 600})["version"]
    registry.activate(trained, reason="promoted by retraining")
    registry.register_model_dir(weak_model)  # registered by hand afterwards: records no feedback total
    pk, sk = counters.COUNTER_TOTAL  # 650 verified feedback so far
    pipeline.client("dynamodb").put_item(
        TableName=pipeline.name("StatsTable"), Item={"pk": {"S": pk}, "sk": {"S": sk}, "total": {"N": "650"}}
    )
    assert counters.feedback_stats(None)["total"] == 650
    assert measure_signals(get_settings()).new_feedback == 50


def test_training_job_names_are_valid_and_the_status_route_finds_long_ones(pipeline):
    settings = load_settings({"ENVIRONMENT": "dev"})
    assert training_job_name(settings, "retrain-2026010112") == "mlnews-dev-retrain-2026010112"
    assert training_job_name(settings, "under_score") == "mlnews-dev-under-score"
    long_id = "a" * 51 + "-" + "b" * 10  # the 63-character cut falls right after the hyphen
    assert training_job_name(settings, long_id) == "mlnews-dev-" + "a" * 51
    pipeline.upload_base_dataset(make_records(50, seed=3))
    result = pipeline.wait(pipeline.start(long_id))
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    assert json.loads(result["output"])["prepared"]["training_job_name"] == "mlnews-dev-" + "a" * 51
    job = execution_status(long_id)["training_job"]
    assert job is not None and (job["name"], job["status"]) == ("mlnews-dev-" + "a" * 51, "Completed")
