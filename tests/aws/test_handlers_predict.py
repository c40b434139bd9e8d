from __future__ import annotations

import json

import boto3
import pytest

from core.feedback import counters, prediction_ids, signing_keys
from core.schemas import MAX_BATCH_ITEMS
from core.serving.model_cache import ActiveModelCache
from tests.support.api_events import api_event, call


@pytest.fixture
def predict_handler(aws, monkeypatch):
    import handlers.api_predict as module

    aws.use_function_env("PredictFunction")
    monkeypatch.setattr(module, "model_cache", ActiveModelCache())  # a fresh "container"
    return module


def test_health_reports_code_and_model_versions(predict_handler, registry, good_model_dir):
    status, body, headers = call(predict_handler, api_event("api_health.json"))
    assert status == 200
    assert body == {
        "status": "degraded",
        "service": "ml-news-pipeline",
        "environment": "dev",
        "code_version": "0.1.0",
        "model_version": None,
    }
    assert headers["X-Correlation-ID"] == "demo-correlation-0001"
    version = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(version)
    predict_handler.model_cache = ActiveModelCache()
    status, body, _ = call(predict_handler, api_event("api_health.json"))
    assert (body["status"], body["model_version"]) == ("ok", "v0001")


def test_predict_returns_a_verifiable_prediction(predict_handler, active_model, aws):
    event = api_event(
        "api_predict.json", body={"headline": "Senate vote on the new election law", "top_k": 2}
    )
    status, body, headers = call(predict_handler, event)
    assert status == 200, body
    assert body["category"] == "POLITICS" and body["model_version"] == "v0001"
    assert [entry["category"] for entry in body["top_k"]][0] == "POLITICS" and len(body["top_k"]) == 2
    assert 0.0 < body["confidence"] <= 1.0
    assert body["explanation"] and {"term", "weight"} <= set(body["explanation"][0])
    claims = prediction_ids.verify_prediction_id(
        signing_keys.signing_key(), body["prediction_id"], "senate vote on the new ELECTION law"
    )
    assert (claims.category, claims.model_version) == ("POLITICS", "v0001")
    assert counters.prediction_distribution("v0001") == {"POLITICS": 1}


def test_batch_keeps_order_and_matches_single_predictions(predict_handler, active_model):
    headlines = [
        "chef bakes pasta for dinner",
        "senate vote on the new law",
        "team wins the championship match",
        "telescope finds a new planet",
    ]
    status, body, _ = call(
        predict_handler,
        api_event("api_predict_batch.json", body={"items": [{"headline": h} for h in headlines]}),
    )
    assert status == 200, body
    assert [result["category"] for result in body["results"]] == [
        "FOOD & DRINK",
        "POLITICS",
        "SPORTS",
        "SCIENCE",
    ]
    for headline, result in zip(headlines, body["results"], strict=True):
        _, single, _ = call(predict_handler, api_event("api_predict.json", body={"headline": headline}))
        assert single["category"] == result["category"]
        assert single["confidence"] == pytest.approx(result["confidence"])
    assert len({result["prediction_id"] for result in body["results"]}) == len(headlines)


@pytest.mark.parametrize(
    "body,raw,needle",
    [
        ({"headline": ""}, None, "headline"),
        ({"short_description": "no headline"}, None, "headline"),
        ({"headline": "x", "top_k": 0}, None, "top_k"),
        ({"headline": "x", "unexpected": 1}, None, "unexpected"),
        ({"headline": "x" * 513}, None, "headline"),
        (None, "{not json", "json"),
    ],
)
def test_bad_predict_input_is_a_clear_422(predict_handler, active_model, body, raw, needle):
    status, payload, _ = call(predict_handler, api_event("api_predict.json", body=body, raw_body=raw))
    assert status == 422
    assert payload["error"] == "validation_error"
    assert needle in payload["message"].lower()


def test_batch_size_is_bounded(predict_handler, active_model, aws, monkeypatch):
    too_many = {"items": [{"headline": f"senate vote {i}"} for i in range(MAX_BATCH_ITEMS + 1)]}
    status, payload, _ = call(predict_handler, api_event("api_predict_batch.json", body=too_many))
    assert status == 422 and "items" in payload["message"]
    assert call(predict_handler, api_event("api_predict_batch.json", body={"items": []}))[0] == 422
    aws.use_function_env("PredictFunction", MAX_BATCH_SIZE=2)
    status, payload, _ = call(
        predict_handler,
        api_event(
            "api_predict_batch.json",
            body={"items": [{"headline": "a"}, {"headline": "b"}, {"headline": "c"}]},
        ),
    )
    assert status == 400 and "at most 2" in payload["message"]


def test_predict_without_a_deployed_model_is_503_json(predict_handler):
    status, payload, _ = call(predict_handler, api_event("api_predict.json"))
    assert status == 503 and payload["error"] == "no_active_model"


def test_unknown_route_is_404_json(predict_handler):
    event = api_event("api_health.json")
    event["path"] = event["resource"] = "/nope"
    status, payload, _ = call(predict_handler, event)
    assert status == 404 and payload["error"] == "not_found"


def test_counter_failure_never_fails_a_prediction(predict_handler, active_model, aws):
    boto3.client("dynamodb").delete_table(TableName=aws.name("StatsTable"))
    status, body, _ = call(predict_handler, api_event("api_predict.json"))
    assert status == 200 and body["model_version"] == "v0001"


def test_cors_preflight_allows_the_correlation_header(predict_handler):
    event = api_event(
        "api_predict.json", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    event["httpMethod"] = "OPTIONS"
    event["body"] = None
    status, _, headers = call(predict_handler, event)
    allowed = headers["Access-Control-Allow-Headers"]
    assert status == 204 and "X-Correlation-ID" in allowed and "Content-Type" in allowed


def test_every_api_function_produces_an_openapi_schema(aws):
    """Each API function's resolver documents exactly the routes the template sends it."""
    import sys

    from local.template import load_template

    resources = load_template()["Resources"]
    for function in ("PredictFunction", "FeedbackApiFunction", "ModelAdminFunction"):
        aws.use_function_env(function)  # imports the handler in its own environment, as Lambda does
        handler_module = resources[function]["Properties"]["Handler"].rpartition(".")[0]
        module = sys.modules[handler_module.replace("/", ".")]
        schema = json.loads(module.app.get_openapi_json_schema(title=module.__name__, version="1"))
        routed = {
            event["Properties"]["Path"]
            for event in resources[function]["Properties"]["Events"].values()
            if event["Type"] == "Api"
        }
        assert set(schema["paths"]) == routed, function
