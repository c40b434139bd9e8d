"""HTTP request -> API Gateway REST proxy event -> function -> HTTP response, through local mode's front."""

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.http_front import LOCAL_IAM_USER_ARN, HttpRequest, from_result, match_route, to_event
from local.routes import Route
from local.session import LocalConfig, LocalSession

FIXTURE = Path(__file__).parent / "fixtures" / "local_app" / "template.yaml"


@pytest.fixture(scope="module")
def session():
    with LocalSession(LocalConfig(port=0, template=FIXTURE, max_batching_window=0)) as running:
        yield running


def call(session, method, path, body=None, headers=None):
    request = urllib.request.Request(
        session.front.base_url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def echoed(raw: bytes) -> dict:
    return json.loads(raw)["event"]


def test_path_parameters_query_strings_and_headers_reach_the_function(session):
    status, headers, raw = call(
        session,
        "GET",
        "/echo/alice?tag=a&tag=b&empty=",
        headers={"X-Correlation-ID": "corr-123", "X-Multi": "one"},
    )
    assert status == 200 and headers["X-Echo"] == "yes"
    event = echoed(raw)
    assert event["resource"] == "/echo/{name}"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"name": "alice"}
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    headers_seen = {k.lower(): v for k, v in event["headers"].items()}  # urllib normalises the case
    assert headers_seen["x-correlation-id"] == "corr-123"
    assert {k.lower(): v for k, v in event["multiValueHeaders"].items()}["x-multi"] == ["one"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "test" and context["resourcePath"] == "/echo/{name}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userArn"] is None  # an open route carries no IAM identity


def test_json_body_is_passed_as_text(session):
    payload = json.dumps({"headline": "Ünïcode headline"}).encode()
    status, _, raw = call(session, "POST", "/echo", payload, {"Content-Type": "application/json"})
    event = echoed(raw)
    assert status == 200
    assert event["body"] == payload.decode() and event["isBase64Encoded"] is False
    assert event["pathParameters"] is None and event["queryStringParameters"] is None


def test_binary_media_types_arrive_base64_encoded(session):
    blob = bytes(range(256))
    _, _, raw = call(session, "POST", "/echo", blob, {"Content-Type": "application/octet-stream"})
    event = echoed(raw)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == blob


def test_iam_routes_are_accepted_and_carry_a_local_identity(session):
    status, _, raw = call(session, "GET", "/secure")
    identity = echoed(raw)["requestContext"]["identity"]
    assert status == 200
    assert identity["userArn"] == LOCAL_IAM_USER_ARN and identity["caller"] == "LOCAL"


def test_literal_route_wins_over_parameter_and_multi_value_headers_map_back(session):
    status, headers, raw = call(session, "GET", "/echo/special")
    assert status == 201 and raw == b"special"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]


def test_greedy_proxy_and_base64_response(session):
    status, headers, raw = call(session, "GET", "/files/a/b/c.bin")
    assert status == 200 and raw == b"\x00\x01binary"
    assert headers["Content-Type"] == "application/octet-stream"


def test_unknown_path_and_method_get_json_4xx(session):
    status, _, raw = call(session, "GET", "/nowhere")
    assert status == 404 and "Not Found" in json.loads(raw)["message"]
    status, _, raw = call(session, "DELETE", "/echo")
    assert status == 405 and "Method Not Allowed" in json.loads(raw)["message"]


def test_function_errors_and_malformed_results_become_502(session):
    status, _, raw = call(session, "GET", "/echo/x?raise=1")
    assert status == 502 and json.loads(raw) == {"message": "Internal server error"}
    status, _, _ = call(session, "GET", "/echo/x?broken=1")
    assert status == 502


def test_functions_get_their_own_environment_and_private_tmp(session):
    _, _, raw = call(session, "GET", "/echo/env")
    env = json.loads(raw)["env"]
    assert env["TABLE"] == session.deployment.physical("Table")
    assert env["BUS_NAME"] == "fixture-bus-test"
    assert env["MACHINE_ARN"].endswith(":stateMachine:fixture-machine-test")
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == session.deployment.functions["EchoFunction"]
    assert env["SCRATCH_DIR"].startswith(str(session.work_dir)) and env["SCRATCH_DIR"].endswith("/scratch")


def test_openapi_and_offline_docs_page(session):
    status, _, raw = call(session, "GET", "/openapi.json")
    document = json.loads(raw)
    assert status == 200 and document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/echo/{name}", "/echo", "/echo/special", "/secure", "/files/{proxy+}"}
    assert document["paths"]["/secure"]["get"]["security"] == [{"sigv4": []}]
    assert document["paths"]["/echo/{name}"]["get"]["parameters"][0]["name"] == "name"
    status, headers, raw = call(session, "GET", "/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/openapi.json" in raw and b"<script src" not in raw and b"https://" not in raw


def test_event_translation_without_a_server():
    route = Route("POST", "/items/{id}/{rest+}", "Fn", "NONE", "fn")
    found, params, known = match_route([route], "POST", "/items/7/a/b")
    assert found is route and params == {"id": "7", "rest": "a/b"} and known
    assert (
        match_route([route], "GET", "/items/7/a")[0] is None and match_route([route], "GET", "/items/7/a")[2]
    )
    request = HttpRequest("POST", "/items/7/a/b", "q=1", [("Content-Type", "text/plain")], b"\xff\xfe")
    event = to_event(request, route, params)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"
    response = from_result({"statusCode": "204", "headers": {"X-A": "1"}}, False)
    assert response.status == 204 and ("X-A", "1") in response.headers and response.body == b""
    assert from_result({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}, False).body == b"hi"
    assert from_result(None, False).status == 502 and from_result({"statusCode": 200}, True).status == 502
