"""What the cost model reads from template.yaml and the state machine."""

import pytest

from cost.inputs import read_template, scaled_training_seconds, schedule_runs_per_month, transitions
from local.template import load_template


@pytest.fixture(scope="module")
def facts():
    return read_template()


def _resources_of_type(kind: str) -> list[str]:
    """Counted here without the cost model's reader: the template's resources of one type, unconditional."""
    resources = load_template()["Resources"]
    return [name for name, body in resources.items() if body["Type"] == kind and "Condition" not in body]


def test_memory_sizes_follow_globals_and_overrides(facts):
    memory = {name: config.memory_mb for name, config in facts.functions.items()}
    assert memory["PredictFunction"] == 1024
    assert memory["PrepareDataFunction"] == 2048
    assert memory["EvaluateModelFunction"] == 2048
    for name in ("FeedbackApiFunction", "FeedbackConsumerFunction", "ModelAdminFunction",
                 "RetrainCheckFunction", "RecordOutcomeFunction"):
        assert memory[name] == 512, name  # Globals
    assert set(facts.functions) == set(_resources_of_type("AWS::Serverless::Function"))
    assert {config.architecture for config in facts.functions.values()} == {"arm64"}
    assert facts.functions["PredictFunction"].timeout_s == 15
    assert facts.functions["PrepareDataFunction"].ephemeral_mb == 2048
    assert facts.functions["FeedbackConsumerFunction"].sqs_batch_size == 25


def test_alarms_and_metric_math(facts):
    alarms = _resources_of_type("AWS::CloudWatch::Alarm")
    assert sorted(alarm.logical_id for alarm in facts.alarms) == sorted(alarms)
    assert [alarm.logical_id for alarm in facts.metric_math_alarms] == ["RetrainingFailedAlarm"]
    assert facts.alarm_metrics == len(alarms) - 1 + 3  # the metric math alarm reads three metrics


def test_schedule_retention_training_and_api(facts):
    assert facts.retrain_schedule == "rate(1 day)"
    assert facts.checks_per_month() == pytest.approx(730 / 24)
    assert facts.log_retention_days == 30
    assert facts.training_instance_type == "ml.m5.large"
    assert facts.training_max_runtime_s == 3600
    assert facts.training_volume_gb == 10
    # per-method metrics follow the DetailedMetrics parameter, off by default (cost)
    assert facts.api_kind == "REST" and not facts.api_detailed_metrics and facts.api_tracing
    assert facts.kms_keys == 1 and facts.kms_rotation and facts.secrets == 1
    assert facts.buckets_with_bucket_key == ["ArtifactsBucket", "DataBucket"]
    assert set(facts.queues.values()) == {300}


def test_state_machine_paths(facts):
    paths = facts.state_machine_paths
    assert paths["ok:Deploy"] == ["PrepareData", "Train", "Evaluate", "PromotionGate", "Deploy"]
    assert transitions(paths, "Deploy") == 5
    assert transitions(paths, "Reject") == 5
    assert paths["caught:Train"] == ["PrepareData", "Train", "RecordFailure", "RetrainingFailed"]


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 day)", 730 / 24),
        ("rate(7 days)", 730 / 24 / 7),
        ("rate(6 hours)", 730 / 6),
        ("rate(30 minutes)", 730 * 2),
        ("cron(0 3 * * ? *)", 730 / 24),
        ("cron(0 3 ? * MON *)", 730 / 24 / 7),
    ],
)
def test_schedule_runs_per_month(expression, runs):
    assert schedule_runs_per_month(expression) == pytest.approx(runs)


def test_training_time_scales_linearly_by_records():
    measured = {"records": 2000, "script_seconds": 10.0}
    assert scaled_training_seconds(measured, 200_000) == pytest.approx(1000.0)


def test_benchmark_figures_replace_the_local_run_where_they_exist(tmp_path):
    """Training at the largest benchmarked size and the cold start of the Lambda package in a new process
    are closer to AWS than the local-mode run; without the benchmark files the local run stands."""
    import json

    from cost.inputs import load_measured

    plain = load_measured(bench_results=None)
    (tmp_path / "training-scale-latest.json").write_text(json.dumps(
        {"runs": {"10000": {"cpu_seconds": 30.0}, "210000": {"cpu_seconds": 420.0}}}))
    (tmp_path / "lambda-cold-start-latest.json").write_text(json.dumps({"median": {
        "process_cpu_s": 0.9, "phases_s": {"a": 0.3, "b": 0.1}, "phases_cpu_s": {"a": 0.1, "b": 0.1}}}))
    measured = load_measured(bench_results=tmp_path)
    assert measured["training"]["at_scale"]["records"] == 210_000
    assert scaled_training_seconds(measured["training"], 105_000) == pytest.approx(210.0)
    cold = measured["functions"]["PredictFunction"]["cold"]
    assert cold["cpu_ms"] == pytest.approx(900) and cold["wall_ms"] == pytest.approx(1100)
    assert cold["source"] == "bench/results/lambda-cold-start-latest.json"
    assert "at_scale" not in plain["training"]
    assert "source" not in plain["functions"]["PredictFunction"]["cold"]
    assert scaled_training_seconds(plain["training"], 105_000) == pytest.approx(
        plain["training"]["script_seconds"] * 105_000 / plain["training"]["records"])
    assert load_measured(bench_results=tmp_path / "nothing")["training"] == plain["training"]
