"""The knobs that move the bill, each as a before/after figure from the same model (cost/model.py)."""

from __future__ import annotations

from dataclasses import replace

from cost.model import (
    Scenario,
    cold_figures,
    kind_figures,
    lambda_duration_ms,
    measured_hit_rate,
    monthly_bill,
)

POWER_TUNING_MB = (256, 512, 1024, 1769, 2048)
# Smallest memory a function may get: PrepareData peaks near 0.7 GB at the full dataset (issue 10's
# measurement); EvaluateModel loads two models and the golden set. Per-function RSS is not measured
# in-process.
MEMORY_FLOOR_MB = {"PrepareDataFunction": 1024, "EvaluateModelFunction": 1024}
DEFAULT_FLOOR_MB = 256
# Request-path latency budget used to pick a size: warm duration and cold start on Lambda.
WARM_BUDGET_MS = {"PredictFunction": 50.0, "FeedbackApiFunction": 100.0}
COLD_BUDGET_MS = 1500.0

# Which EMF metrics earn their $0.30/month (prorated by the hours they are published in), and why.
METRIC_VERDICTS = {
    "ModelAccuracy": ("keep", "ModelAccuracyAlarm reads it: live accuracy has no free equivalent"),
    "PredictionDrift": ("keep", "the drift signal the retrain check acts on; no free equivalent"),
    "RetrainStarted": ("keep", "one point a day; tells whether the schedule ran a retraining"),
    "CandidateAccuracy": ("keep", "one point per retraining: the candidate's golden-set accuracy"),
    "RetrainingDeployed": ("keep", "one point per retraining (outcomes are also on the event bus)"),
    "RetrainingRejected": ("keep", "one point per retraining"),
    "RetrainingFailed": ("keep", "published only on failure"),
    "FeedbackRejected": ("keep", "forged or invalid feedback: the only signal of an attack"),
    "FeedbackStored": ("keep", "stored corrections; no free equivalent"),
    "FeedbackDuplicate": ("keep", "published only for redeliveries"),
    "FeedbackAccepted": ("detailed", "equals API Gateway's free Count of POST /api/v1/feedback (2xx)"),
    "Predictions": (
        "detailed",
        "equals the free request Count for single predictions; differs only for batches",
    ),
    "PredictionLatency": ("detailed", "Lambda Duration and API Gateway Latency are free"),
    "ColdStart": ("detailed", "Init Duration is in every cold REPORT log line (Logs Insights, free to keep)"),
}


def essential_metrics(measured: dict) -> tuple[str, ...]:
    return tuple(
        m["name"]
        for m in measured["metrics"]["emitted"]
        if METRIC_VERDICTS.get(m["name"], ("keep",))[0] == "keep"
    )


def _pair(facts, measured, prices, before: Scenario, after: Scenario) -> dict:
    b, a = monthly_bill(facts, measured, prices, before), monthly_bill(facts, measured, prices, after)
    return {"before": round(b.total, 2), "after": round(a.total, 2), "saves": round(b.total - a.total, 2)}


def api_kind(facts, measured, prices, scenario: Scenario) -> dict:
    return {
        **_pair(
            facts, measured, prices, replace(scenario, api_kind="REST"), replace(scenario, api_kind="HTTP")
        ),
        "loses": "usage plans and API keys (per-client quotas and throttling), request validation models, "
        "API caching, WAF on the API, and active X-Ray tracing of the API stage (the functions still trace)",
        "keeps": "IAM authorization per route (the admin routes' AWS_IAM), throttling at the stage, "
        "JSON access logs, CORS, the Lambda proxy integration",
    }


def metrics(facts, measured, prices, scenario: Scenario) -> dict:
    full = monthly_bill(facts, measured, prices, scenario)
    no_api = replace(scenario, api_detailed_metrics=False)
    essential = replace(no_api, emf_metrics=essential_metrics(measured))
    per_metric = [
        {
            "name": row["name"],
            "usd_per_month": round(row["share_of_hours"] * prices.unit_price("cloudwatch.custom_metrics"), 3),
            "verdict": METRIC_VERDICTS.get(
                row["name"], ("detailed", "API Gateway detailed metric (per method)")
            )[0],
            "why": METRIC_VERDICTS.get(
                row["name"],
                (
                    "",
                    "per method: Count, 4XX, 5XX, Latency, IntegrationLatency; "
                    "the stage-level metrics the 5XX alarm reads stay free",
                ),
            )[1],
        }
        for row in full.details["metrics"]
    ]
    return {
        "api_detailed_metrics_off": _pair(facts, measured, prices, scenario, no_api),
        "detailed_emf_metrics_off_too": _pair(facts, measured, prices, scenario, essential),
        "per_metric": per_metric,
        "essential": list(essential_metrics(measured)),
        "template_change": "a DetailedMetrics parameter (default off): MethodSettings MetricsEnabled and a "
        "POWERTOOLS_METRICS_DISABLED-style switch for the 'detailed' EMF metrics",
    }


def power_tuning(facts, measured, prices, scenario: Scenario) -> dict:
    """Duration and cost per function at each size, from the measured CPU/wait split."""
    a = scenario.assumptions
    bill = monthly_bill(facts, measured, prices, scenario)
    table = {}
    for function, config in facts.functions.items():
        info = bill.details["functions"].get(function) or {}
        kinds = measured["functions"].get(function, {}).get("by_kind") or {}
        if not kinds or not info.get("invocations"):
            continue
        main_kind = max(kinds, key=lambda k: kinds[k]["invocations"])
        figures = kind_figures(measured, function, main_kind)
        cold_cpu, cold_wait, cold_calls = cold_figures(measured, function)
        scale = info["warm_ms"] / max(
            1e-9,
            lambda_duration_ms(
                figures.cpu_ms, figures.wait_ms, sum(figures.calls.values()), info["memory_mb"], a
            ),
        )
        price = prices.unit_price(f"lambda.{info['architecture']}.duration")
        rows = []
        for memory in POWER_TUNING_MB:
            warm = scale * lambda_duration_ms(
                figures.cpu_ms, figures.wait_ms, sum(figures.calls.values()), memory, a
            )
            cold = lambda_duration_ms(cold_cpu, cold_wait, sum(cold_calls.values()), memory, a)
            if function in ("PrepareDataFunction", "EvaluateModelFunction"):
                cold = warm  # scaled whole jobs: the cold start is inside the measured run
            colds = min(info["invocations"], info.get("cold_starts", 0))
            monthly = memory / 1024 * price * ((info["invocations"] - colds) * warm + colds * cold) / 1000
            rows.append(
                {
                    "memory_mb": memory,
                    "warm_ms": round(warm, 1),
                    "cold_ms": round(cold, 0),
                    "usd_per_million_warm": round(memory / 1024 * warm / 1000 * price * 1e6, 3),
                    "usd_per_month": round(monthly, 4),
                }
            )
        floor = MEMORY_FLOOR_MB.get(function, DEFAULT_FLOOR_MB)
        budget = WARM_BUDGET_MS.get(function)
        fitting = [
            r
            for r in rows
            if r["memory_mb"] >= floor
            and (budget is None or (r["warm_ms"] <= budget and r["cold_ms"] <= COLD_BUDGET_MS))
        ]
        choice = min(fitting, key=lambda r: (r["usd_per_month"], r["memory_mb"])) if fitting else rows[-2]
        table[function] = {
            "configured_mb": config.memory_mb,
            "kind": main_kind,
            "rows": rows,
            "recommended_mb": choice["memory_mb"],
            "floor_mb": floor,
            "warm_budget_ms": budget,
        }
    chosen = {f: t["recommended_mb"] for f, t in table.items()}
    return {
        "functions": table,
        "bill": _pair(facts, measured, prices, scenario, replace(scenario, memory_mb=chosen)),
        "recommended": chosen,
    }


def log_retention(facts, measured, prices, scenario: Scenario, days=(7, 14, 30, 90, 365)) -> dict:
    return {
        day: round(monthly_bill(facts, measured, prices, replace(scenario, log_retention_days=day)).total, 3)
        for day in days
    }


def prediction_cache(facts, measured, prices, scenario: Scenario) -> dict:
    hit = measured_hit_rate(measured)
    return {
        "measured_hit_rate": hit,
        "studies": measured.get("prediction_cache") or [],
        "cache_off": _pair(
            facts,
            measured,
            prices,
            replace(scenario, cache_hit_rate=0.0),
            replace(scenario, cache_hit_rate=hit),
        ),
        "if_30_percent_repeated": _pair(
            facts,
            measured,
            prices,
            replace(scenario, cache_hit_rate=0.0),
            replace(scenario, cache_hit_rate=0.3),
        ),
        "note": "a hit skips only the model (CPU); the request, the counter write and the signing still run",
    }


def training(facts, measured, prices, scenario: Scenario) -> dict:
    weekly = replace(scenario, trainings_per_month=None)
    every_check = replace(scenario, trainings_per_month=facts.checks_per_month())
    return {
        "weekly_spot": round(monthly_bill(facts, measured, prices, weekly).total, 3),
        "weekly_on_demand": round(
            monthly_bill(facts, measured, prices, replace(weekly, spot=False)).total, 3
        ),
        "every_scheduled_check": round(monthly_bill(facts, measured, prices, every_check).total, 3),
    }


def all_knobs(facts, measured, prices, scenario: Scenario) -> dict:
    return {
        "api_rest_vs_http": api_kind(facts, measured, prices, scenario),
        "metrics": metrics(facts, measured, prices, scenario),
        "lambda_memory": power_tuning(facts, measured, prices, scenario),
        "log_retention_days": log_retention(facts, measured, prices, scenario),
        "prediction_cache": prediction_cache(facts, measured, prices, scenario),
        "training": training(facts, measured, prices, scenario),
    }
