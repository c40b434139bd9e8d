"""The bill's arithmetic on hand-checkable inputs (a synthetic measurement, the real template and prices)."""

import math

import pytest

from cost.inputs import read_template
from cost.model import (
    Assumptions,
    Scenario,
    active_windows,
    cold_starts,
    cpu_share,
    hours_published,
    lambda_duration_ms,
    monthly_bill,
    xray_traces,
)
from cost.prices import load_prices

MONTH_DAYS = 730 / 24
NO_COLD_STARTS = Assumptions(keep_warm_minutes=1e9, environment_lifetime_hours=1e12)


def _kind(cpu=10.0, wait=2.0, calls=None, wru=0.0, rru=0.0, log=300, response=700, n=10, records=0.0):
    return {
        "invocations": n, "warm_invocations": n,
        "wall_ms": {"p50": cpu + wait}, "cpu_ms": {"p50": cpu}, "wait_ms": {"p50": wait},
        "request_body_bytes": {"mean": 200}, "event_bytes": {"mean": 900},
        "response_body_bytes": {"mean": response}, "log_bytes": {"mean": log},
        "aws_calls_per_invocation": calls or {}, "payload_bytes_per_invocation": {},
        "dynamodb_rru_per_invocation": rru, "dynamodb_wru_per_invocation": wru, "errors": 0,
        "sqs_records_per_invocation": records,
    }


def _function(kinds: dict, cold_cpu=100.0, cold_wall=200.0, cold_calls=None):
    return {
        "memory_mb_at_measurement": None,
        "invocations": sum(k["invocations"] for k in kinds.values()),
        "cold": {"kind": next(iter(kinds)), "wall_ms": cold_wall, "cpu_ms": cold_cpu,
                 "aws_calls": cold_calls or {"secretsmanager:GetSecretValue": 1}, "log_bytes": 300},
        "warm": {},
        "by_kind": kinds,
    }


def synthetic_measured() -> dict:
    return {
        "measured_at": "2026-12-03T00:00:00Z", "machine": {}, "commit": "test",
        "mix": {"feedback": 10},
        "functions": {
            "PredictFunction": _function({
                "POST /api/v1/predict (new)": _kind(calls={"dynamodb:UpdateItem": 1}, wru=1.0),
                "POST /api/v1/predict (repeat)": _kind(cpu=4.0, calls={"dynamodb:UpdateItem": 1}, wru=1.0),
                "POST /api/v1/predict/batch": _kind(cpu=40.0, calls={"dynamodb:UpdateItem": 5}, wru=5.0),
            }),
            "FeedbackApiFunction": _function({"POST /api/v1/feedback": _kind(calls={"sqs:SendMessage": 1})}),
            "FeedbackConsumerFunction": _function({"sqs batch": _kind(
                cpu=20.0, calls={"dynamodb:TransactWriteItems": 10}, wru=100.0, records=10.0)}),
            "ModelAdminFunction": _function({"GET /api/v1/model/versions": _kind()}),
            "RetrainCheckFunction": _function({"schedule": _kind(calls={"dynamodb:Query": 4}, rru=2.0)}),
            "PrepareDataFunction": _function({"step prepare": _kind(cpu=1000.0)}),
            "EvaluateModelFunction": _function({"step evaluate_candidate": _kind(cpu=1000.0)}),
            "RecordOutcomeFunction": _function({"step deploy": _kind(calls={"events:PutEvents": 1})}),
        },
        "metrics": {"distinct": 1, "emitted": [
            {"namespace": "MLNews", "name": "Predictions", "dimensions": {}, "functions": ["PredictFunction"],
             "invocations_emitting": 30}]},
        "training": {"records": 2000, "script_seconds": 10.0, "install_seconds": 0.0,
                     "second": {"train_channel_bytes": 500_000}},
        "prediction_cache": [{"serving_key": {"lru_hit_rate": 0.0}}],
    }


@pytest.fixture(scope="module")
def facts():
    return read_template()


@pytest.fixture(scope="module")
def prices():
    return load_prices()


def _line(bill, service, startswith):
    return next(line for line in bill.lines if line.service == service and line.item.startswith(startswith))


def test_cpu_share_and_duration_by_hand():
    assert cpu_share(1769) == 1.0 and cpu_share(4096) == 1.0
    assert cpu_share(512) == pytest.approx(512 / 1769)
    a = Assumptions(aws_call_latency_ms=5.0)
    # 10 ms of CPU at half a vCPU is 20 ms; waiting is the larger of 2 ms measured and 1 call x 5 ms
    assert lambda_duration_ms(10.0, 2.0, 1, 1769 // 2, a) == pytest.approx(10 / ((1769 // 2) / 1769) + 5.0)
    assert lambda_duration_ms(10.0, 8.0, 1, 2048, a) == pytest.approx(18.0)


def test_sampling_windows_and_hours():
    assert xray_traces(0) == 0
    month = 730 * 3600
    assert xray_traces(1000) == pytest.approx(1000, rel=1e-3)  # sparse: every request is first in its second
    ten_per_second = xray_traces(10 * month)
    assert ten_per_second / month == pytest.approx((1 - math.exp(-10)) + 0.05 * (10 - (1 - math.exp(-10))))
    assert active_windows(1e9) == pytest.approx(730 * 12)
    assert active_windows(0) == 0
    assert hours_published(1e9) == pytest.approx(1.0)
    assert hours_published(730) == pytest.approx(1 - math.exp(-1))


def test_cold_starts_follow_idle_gaps():
    a = Assumptions(keep_warm_minutes=10, environment_lifetime_hours=1e12)
    sparse, _ = cold_starts(100, 10, a)  # a request every 7 hours: P(no request in the last 10 min)
    assert sparse == pytest.approx(100 * math.exp(-100 / (730 * 3600) * 600))
    assert sparse > 97
    busy, environments = cold_starts(100 * 730 * 3600, 10, a)  # 100/s: warm
    assert busy < 1 and environments == 3  # 100/s x 3 (busiest hour) x 10 ms


def test_predict_path_by_hand(facts, prices):
    scenario = Scenario(predictions_per_day=1000, feedback_rate=0.0, trainings_per_month=0,
                        assumptions=NO_COLD_STARTS, cache_hit_rate=0.0, api_detailed_metrics=False)
    bill = monthly_bill(facts, synthetic_measured(), prices, scenario)
    predictions = 1000 * MONTH_DAYS
    duration = math.ceil(10 / (1024 / 1769) + max(2, 1 * 5))  # 1024 MB, one DynamoDB call
    gb_s = predictions * duration / 1000
    assert _line(bill, "Lambda", "PredictFunction duration").quantity == pytest.approx(gb_s, rel=1e-3)
    duration_line = _line(bill, "Lambda", "PredictFunction duration")
    assert duration_line.usd == pytest.approx(gb_s * 0.0000133334, rel=1e-3)
    assert _line(bill, "API Gateway", "REST").usd == pytest.approx(predictions * 3.5e-6)
    assert _line(bill, "DynamoDB", "write").quantity == pytest.approx(predictions)
    assert _line(bill, "DynamoDB", "write").usd == pytest.approx(predictions * 0.625e-6)
    assert _line(bill, "KMS", "customer managed key").usd == 1.0
    assert _line(bill, "Secrets Manager", "secret").usd == pytest.approx(0.40)
    assert _line(bill, "CloudWatch", "alarms").usd == pytest.approx(facts.alarm_metrics * 0.10)  # per metric
    assert _line(bill, "SageMaker", "training").usd == 0.0
    assert bill.total == pytest.approx(sum(line.usd for line in bill.lines))


def test_feedback_path_by_hand(facts, prices):
    scenario = Scenario(predictions_per_day=1000, feedback_rate=0.1, trainings_per_month=0,
                        assumptions=NO_COLD_STARTS, cache_hit_rate=0.0)
    bill = monthly_bill(facts, synthetic_measured(), prices, scenario)
    feedback = 100 * MONTH_DAYS
    # one record per batch at this rate: a tenth of the measured 10-record batch's 100 WRU
    consumer_wru = feedback * 100 / 10
    writes = _line(bill, "DynamoDB", "write").quantity
    assert writes == pytest.approx(1000 * MONTH_DAYS + consumer_wru, rel=1e-3)
    assert bill.details["requests"]["consumer_batches"] == pytest.approx(feedback, rel=1e-2)
    assert _line(bill, "API Gateway", "REST").quantity == pytest.approx(1100 * MONTH_DAYS)


def test_training_is_scaled_and_spot_discounted(facts, prices):
    scenario = Scenario(predictions_per_day=0, feedback_rate=0, trainings_per_month=4, spot_discount=0.7,
                        training_records=200_000)
    bill = monthly_bill(facts, synthetic_measured(), prices, scenario)
    seconds = 10.0 * 200_000 / 2000 + Assumptions().training_overhead_seconds
    hours = 4 * seconds / 3600
    assert _line(bill, "SageMaker", "training").quantity == pytest.approx(hours)
    assert _line(bill, "SageMaker", "training").usd == pytest.approx(hours * 0.115 * 0.3)
    on_demand = monthly_bill(facts, synthetic_measured(), prices, Scenario(
        predictions_per_day=0, feedback_rate=0, trainings_per_month=4, spot=False, training_records=200_000))
    assert _line(on_demand, "SageMaker", "training").usd == pytest.approx(hours * 0.115)
    assert _line(bill, "Step Functions", "state transitions").quantity == 4 * 5


def test_free_tier_is_reported_apart_and_never_subtracted(facts, prices):
    scenario = Scenario(predictions_per_day=1000, feedback_rate=0.05)
    bill = monthly_bill(facts, synthetic_measured(), prices, scenario)
    assert bill.free_tier["apigateway.rest.requests"] == pytest.approx(_line(bill, "API Gateway", "REST").usd)
    assert bill.free_tier_terms["apigateway.rest.requests"] == "12 months"
    assert bill.free_tier_terms["lambda.requests"] == "always"
    assert bill.total == pytest.approx(sum(line.usd for line in bill.lines))
    assert bill.free_tier_total() > 0


def test_http_api_and_detailed_metrics_move_only_their_lines(facts, prices):
    base = Scenario(predictions_per_day=100_000, feedback_rate=0.0, trainings_per_month=0)
    rest = monthly_bill(facts, synthetic_measured(), prices, base)
    http_api = Scenario(**{**base.__dict__, "api_kind": "HTTP"})
    http = monthly_bill(facts, synthetic_measured(), prices, http_api)
    requests = 100_000 * MONTH_DAYS
    assert rest.total - http.total == pytest.approx(requests * (3.5 - 1.0) / 1e6)
    detailed = monthly_bill(facts, synthetic_measured(), prices,
                            Scenario(**{**base.__dict__, "api_detailed_metrics": True}))
    # five detailed metrics of the predict method, published every hour at this traffic
    assert detailed.total - rest.total == pytest.approx(5 * 0.30, rel=1e-3)


def test_the_cache_hit_rate_moves_predictions_to_the_cheaper_path(facts, prices):
    base = dict(predictions_per_day=10_000, feedback_rate=0.0, trainings_per_month=0,
                assumptions=NO_COLD_STARTS)
    off = monthly_bill(facts, synthetic_measured(), prices, Scenario(**base, cache_hit_rate=0.0))
    half = monthly_bill(facts, synthetic_measured(), prices, Scenario(**base, cache_hit_rate=0.5))
    assert half.by_function()["PredictFunction"] < off.by_function()["PredictFunction"]
    assert half.details["functions"]["PredictFunction"]["invocations"] == pytest.approx(10_000 * MONTH_DAYS)
