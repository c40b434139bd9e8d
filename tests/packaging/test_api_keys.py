"""ApiKeyRequired switches API keys on every route, as SAM translates the template (issue 9): keyless by
default (the quickstart), every method but the CORS preflights keyed when asked for, one usage plan with the
per-key rate and quota either way, checked on samtranslator's output."""

from __future__ import annotations

import pytest

from local.iam.roles import translated
from local.template import default_parameters, load_template


@pytest.fixture(scope="module")
def sam() -> dict:
    return load_template()


def api(sam: dict, monkeypatch, **parameters: str) -> dict:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator builds ARNs with it
    return translated(sam, default_parameters(sam, parameters))["Resources"]


def methods(resources: dict) -> dict[str, list | None]:
    body = resources["Api"]["Properties"]["Body"]
    return {
        f"{verb.upper()} {path}": spec.get("security")
        for path, verbs in body["paths"].items()
        for verb, spec in verbs.items()
    }


def test_the_api_is_keyless_by_default(sam, monkeypatch):
    assert sam["Parameters"]["ApiKeyRequired"]["Default"] == ""
    for method, security in methods(api(sam, monkeypatch)).items():
        assert not any("api_key" in entry for entry in security or []), method


def test_api_keys_when_asked_for_on_every_route_but_preflights(sam, monkeypatch):
    resources = api(sam, monkeypatch, ApiKeyRequired="true")
    found = methods(resources)
    keyed = {method for method, security in found.items() if {"api_key": []} in (security or [])}
    assert keyed == {method for method in found if not method.startswith("OPTIONS ")}
    assert found["POST /api/v1/model/train"] == [{"AWS_IAM": []}, {"api_key": []}]  # IAM and a key
    schemes = resources["Api"]["Properties"]["Body"]["components"]["securitySchemes"]  # OpenAPI 3
    assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}


def test_one_usage_plan_limits_each_key(sam, monkeypatch):
    resources = api(sam, monkeypatch, ApiKeyRequired="true", ApiKeyRateLimit="3", ApiKeyDailyQuota="500")
    plan = resources["ApiUsagePlan"]["Properties"]
    assert plan["Throttle"]["RateLimit"] == "3" and plan["Quota"] == {"Limit": "500", "Period": "DAY"}
    assert resources["ApiUsagePlanKey"]["Properties"]["KeyId"] == {"Ref": "ApiApiKey"}
    assert sam["Outputs"]["ApiKeyId"]["Value"] == {"Ref": "ApiApiKey"}
