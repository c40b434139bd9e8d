"""The report on the committed measurement, the measurement's shape, and the measurement helpers."""

import json

import pytest

from cost.inputs import load_measured
from cost.measure import _request_units, parse_emf, prediction_cache_study
from cost.report import build, main, parser, render_text


@pytest.fixture(scope="module")
def result():
    return build(parser().parse_args([]))


def test_the_committed_measurement_has_what_the_model_needs():
    measured = load_measured()
    for function in ("PredictFunction", "FeedbackApiFunction", "FeedbackConsumerFunction",
                     "RetrainCheckFunction", "PrepareDataFunction", "EvaluateModelFunction",
                     "RecordOutcomeFunction"):
        assert measured["functions"][function]["cold"], function
    assert measured["training"]["records"] > 1000 and measured["training"]["script_seconds"] > 0
    assert measured["training"]["first"]["transitions"] == 5
    names = {m["name"] for m in measured["metrics"]["emitted"]}
    assert {"ModelAccuracy", "PredictionDrift", "FeedbackStored"} <= names
    # measured at the template defaults: DetailedMetrics off, so metrics that repeat free ones are absent
    assert not names & {"Predictions", "PredictionLatency", "ColdStart", "FeedbackAccepted"}
    assert measured["commit"] and measured["machine"]["cores"]


def test_the_table_at_four_levels(result):
    text = render_text(result)
    assert "TOTAL" in text and "per 1,000 predictions" in text and "free tier would remove" in text
    assert [b["predictions_per_day"] for b in result["bills"]] == [1_000, 10_000, 100_000, 1_000_000]
    totals = [b["total_usd"] for b in result["bills"]]
    assert totals == sorted(totals)
    goal = result["goal_5_usd_at_1k"]
    assert goal["holds"] == (goal["total_usd"] <= 5.0)
    json.dumps(result, default=str)  # the --json output serialises


def test_free_tier_is_apart_from_the_totals(result):
    for bill in result["bills"]:
        assert bill["total_usd"] == pytest.approx(sum(line["usd"] for line in bill["lines"]), abs=1e-3)
        assert bill["free_tier_would_remove"]["always"] >= 0


def test_main_prints_json(capsys):
    assert main(["--json", "--levels", "1000"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["levels"] == [1000]


def test_parse_emf_counts_each_name_and_dimension_set():
    line = json.dumps({
        "_aws": {"CloudWatchMetrics": [{
            "Namespace": "MLNews", "Dimensions": [["service", "environment"]],
            "Metrics": [{"Name": "Predictions"}, {"Name": "PredictionLatency"}],
        }]},
        "service": "ml-news-pipeline", "environment": "dev", "Predictions": 1, "PredictionLatency": 2.0,
    })
    found = parse_emf("START\n" + line + "\nnot json {\n")
    assert [name for _, name, _ in found] == ["Predictions", "PredictionLatency"]
    assert found[0][2] == (("environment", "dev"), ("service", "ml-news-pipeline"))


def test_dynamodb_request_units():
    assert _request_units("UpdateItem", {"Key": {"pk": {"S": "a"}}}, {}) == (0.0, 1)
    assert _request_units("GetItem", {}, {"Item": {"a": {"S": "x"}}}) == (0.5, 0.0)
    assert _request_units("GetItem", {"ConsistentRead": True}, {"Item": {"a": {"S": "x"}}}) == (1.0, 0.0)
    three = {"TransactItems": [{"Put": {"Item": {}}}, {"Update": {}}, {"ConditionCheck": {}}]}
    assert _request_units("TransactWriteItems", three, {}) == (0.0, 6.0)


def test_prediction_cache_study(tmp_path):
    data = tmp_path / "d.jsonl"
    rows = [{"headline": h, "date": f"2020-01-0{i}"} for i, h in enumerate(["a", "b", "a", "c"], 1)]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    study = prediction_cache_study(data, cache_size=1)
    assert study["headline_only"]["repeated_fraction"] == 0.25
    assert study["headline_only"]["lru_hit_rate"] == 0.0  # a one-item cache forgot "a"
    assert prediction_cache_study(data, cache_size=8)["headline_only"]["lru_hit_rate"] == 0.25
