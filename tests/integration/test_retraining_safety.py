"""Safety logic of retraining: promotion gate arithmetic, a retried Reject step, signals and job names.

The pure policy cases sit here with the registry cases they protect (tests/unit/test_policies.py holds the
policy's table of ordinary cases).
"""

from __future__ import annotations

import json

import pytest
from scipy.stats import binomtest

from core.errors import Conflict
from core.feedback import counters
from core.registry.versions import ModelRegistry
from core.retraining.check import measure_signals
from core.retraining.executions import execution_status, training_job_name
from core.retraining.outcome import record_outcome
from core.retraining.policies import PromotionPolicy, mcnemar_exact, promotion_decision
from core.settings import get_settings, load_settings
from tests.integration.test_state_machine import deploy, upload_base_dataset
from tests.unit.conftest import make_records, train_model


# ---------------------------------------------------------------- promotion gate
@pytest.mark.parametrize("b,c", [(600, 500), (5000, 5200), (1024, 0), (700, 701)])
def test_mcnemar_exact_on_golden_sets_of_the_real_dataset_size(b, c):
    # 2.0**n overflowed from 1024 discordant pairs: the Evaluate step crashed on the full dataset.
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_an_improvement_of_exactly_the_margin_meets_it():
    candidate_correct = [True] * 70 + [False] * 30
    active_correct = [True] * 60 + [False] * 40
    decide = lambda margin: promotion_decision(  # noqa: E731
        {"accuracy": 70 / 100, "per_class": {}},
        {"accuracy": 60 / 100, "per_class": {}},  # 0.7 - 0.6 == 0.09999999999999998
        candidate_correct=candidate_correct,
        active_correct=active_correct,
        policy=PromotionPolicy(min_improvement=margin, alpha=0.05, accuracy_floor=0.0),
    )
    assert decide(0.1)["promote"] is True
    refused = decide(0.11)
    assert refused["promote"] is False and "margin 0.11" in refused["reasons"][0]


# ---------------------------------------------------------------- outcome steps
@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return train_model(make_records(40, seed=1), tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory):
    return train_model(make_records(40, seed=2, label_noise=0.9), tmp_path_factory.mktemp("weak"))


def outcome_event(action: str, candidate: str, active: str | None, revision: int) -> dict:
    evaluation = {
        "candidate_version": candidate,
        "active_version": active,
        "active_revision": revision,
        "decision": {"promote": action == "deploy", "reasons": [f"test {action}"]},
        "golden": {"n": 10},
    }
    return {"action": action, "execution_name": "retrain-2", "correlation_id": "c", "evaluation": evaluation}


def test_a_retried_reject_step_completes_instead_of_failing(pipeline, good_model, weak_model):
    registry = ModelRegistry()
    active = deploy(good_model)
    candidate = registry.register_model_dir(weak_model)["version"]
    event = outcome_event("reject", candidate, active, revision=1)
    assert record_outcome(event) == record_outcome(event)
    assert registry.require(candidate)["status"] == "rejected"
    assert registry.require(candidate)["reasons"] == ["test reject"]
    registry.activate(candidate, reason="operator override", allow_rejected=True)
    with pytest.raises(Conflict):  # an active version is never marked rejected
        record_outcome(event)


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
    upload_base_dataset(pipeline, make_records(50, seed=3))
    result = pipeline.wait(pipeline.start(long_id))
    assert result["status"] == "SUCCEEDED", pipeline.failures(result["executionArn"])
    assert json.loads(result["output"])["prepared"]["training_job_name"] == "mlnews-dev-" + "a" * 51
    job = execution_status(long_id)["training_job"]
    assert job is not None and (job["name"], job["status"]) == ("mlnews-dev-" + "a" * 51, "Completed")
