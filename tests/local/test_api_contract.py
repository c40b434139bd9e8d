"""The API's contract against local mode running the real template: the committed OpenAPI document is the one
the code serves, and schemathesis fuzzes every route of it (positive and negative examples, fixed seed,
bounded count): no server error, every answer a documented status with its documented schema and content
type, no answer slower than the timeout. docs/api.md says how to rerun and regenerate."""

import json

import pytest
import requests
import schemathesis
from botocore.credentials import Credentials
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.registry.versions import ModelRegistry
from core.settings import load_settings
from local import openapi_document
from local.in_process_lambda import ENVIRONMENT_LOCK
from local.session import LocalConfig, LocalSession
from local.sigv4 import sign

EXAMPLES_PER_ROUTE = 25  # per generation mode (positive, negative): about 600 requests over 12 routes
REQUEST_TIMEOUT_SECONDS = 10  # "no hangs": a slower answer fails the test
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api(tiny_model_dir):
    """Local mode with the real template and an active model (registered directly: no training job)."""
    with LocalSession(LocalConfig(port=0, max_batching_window=0)) as session:
        environment = session.deployment.function_environment("ModelAdminFunction")
        with ENVIRONMENT_LOCK:  # nothing runs as a function while the host registers the model
            registry = ModelRegistry(load_settings(environment))
            registry.activate(registry.register_model_dir(tiny_model_dir)["version"], reason="fuzz test")
        yield session


class SigV4(requests.auth.AuthBase):
    """Signs a request as local mode's `local` key, as sent (prepared URL, body), where schemathesis put the
    security scheme's Authorization header (a placeholder value)."""

    def __init__(self, region: str):
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "Authorization" not in request.headers:  # a negative case: schemathesis left the credentials out
            return request
        body = request.body.encode() if isinstance(request.body, str) else request.body
        request.headers.update(
            sign(request.method, request.url, {}, body, self.region, Credentials("local", "local"))
        )
        return request


def test_the_committed_openapi_document_is_the_one_the_code_serves(api):
    committed = json.loads(openapi_document.DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert committed == openapi_document.generate(api), (
        f"{openapi_document.DOCUMENT_PATH} is out of date: regenerate it with "
        "`python -m local.openapi_document` (make openapi) and commit it"
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "expected"),
    [
        # the findings, each as a new user met it
        ("POST", "/api/v1/predict", b'{"headline": "\xff\xfe"}', "application/json", 400,
         {"error": "invalid_body", "message": "the body is not UTF-8 text (JSON must be)"}),
        ("POST", "/api/v1/predict", b'{"headline": "\\f\\f"}', "application/json", 422,
         "needs at least one visible character"),
        ("POST", "/api/v1/predict", b'{"headline": "x"}', "application/x-www-form-urlencoded", 415,
         {"error": "unsupported_media_type",
          "message": "send the body as JSON with Content-Type: application/json "
                     "(got application/x-www-form-urlencoded)"}),
        ("TRACE", "/api/v1/predict", None, None, 403, {"message": "Missing Authentication Token"}),
        ("GET", "/api/v1/model/versions", None, None, 403, {"message": "Missing Authentication Token"}),
        # and their neighbours
        ("POST", "/api/v1/predict", b'{"headline": "x"}', None, 200, "prediction_id"),
        ("POST", "/api/v1/predict", b'{"headline": "x"}', "text/plain", 415, "unsupported_media_type"),
        ("POST", "/api/v1/predict", b"[" * 100_000 + b"]" * 100_000, "application/json", 400,
         {"error": "invalid_body", "message": "the body's JSON nests too deeply"}),
        ("POST", "/api/v1/predict", b'[{"headline": "x"}]', "application/json", 422, "a JSON object"),
        ("POST", "/api/v1/predict", b'{"headline": "  x  ", "top_k": true}', "application/json", 422,
         "body.top_k: Input should be a valid integer"),
    ],
)
def test_hostile_input_gets_a_clear_json_4xx(api, method, path, body, content_type, status, expected):
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.request(method, api.front.base_url + path, data=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    if isinstance(expected, dict):
        assert response.json() == expected
    else:
        assert expected in response.text


# The committed document, which the first test holds equal to the one served (its first server is the default
# local address; each call goes to the test's session instead).
schema = schemathesis.openapi.from_dict(json.loads(openapi_document.DOCUMENT_PATH.read_text("utf-8")))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_ROUTE,
    derandomize=True,  # a fixed seed: the same examples every run
    database=None,  # no example database: every run is the seed's
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case, api):
    case.call_and_validate(
        base_url=api.front.base_url,
        auth=SigV4(api.emulator.region),
        timeout=REQUEST_TIMEOUT_SECONDS,
        checks=CHECKS,
    )
