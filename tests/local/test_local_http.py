"""HTTP request -> API Gateway REST proxy event -> function -> HTTP response, through local mode's front, and
what API Gateway answers itself there (unknown methods, SigV4 on IAM routes, malformed requests)."""

import base64
import calendar
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from local.docs_page import DOCS_HTML
from local.http_front import LOCAL_IAM_USER_ARN, LOCAL_KEY, HttpRequest, from_result, match_route, to_event
from local.iam.enforcement import access_control
from local.routes import Route
from local.session import LocalConfig, LocalSession
from local.sigv4 import sign, verify

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


def signed_call(session, method, path, key=("local", "local", None), region=None, headers=None, body=None):
    url = session.front.base_url + path
    signed = sign(method, url, headers or {}, body, region or session.emulator.region, Credentials(*key))
    return call(session, method, path, body, signed)


def raw_exchange(session, data: bytes) -> bytes:
    """What the front answers to bytes sent as they are (until it closes or 2 s pass)."""
    with socket.create_connection(("127.0.0.1", session.front.port), timeout=10) as connection:
        connection.sendall(data)
        connection.settimeout(2)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
        return received


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


def test_iam_routes_take_a_sigv4_signature_of_a_key_local_mode_knows(session):
    status, headers, raw = call(session, "GET", "/secure")
    assert status == 403 and json.loads(raw) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"

    status, _, raw = signed_call(session, "GET", "/secure?b=2&a=1", headers={"X-Correlation-ID": "c-1"})
    identity = echoed(raw)["requestContext"]["identity"]
    assert status == 200
    assert identity["userArn"] == LOCAL_IAM_USER_ARN and identity["accessKey"] == "local"
    assert identity["caller"] == "local-developer"

    # a function's role session signs as that role (local mode gave it the key)
    role_arn = next(iter(access_control._principals))
    keys = access_control.credentials(role_arn, "signing-test")
    role_key = (keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], keys["AWS_SESSION_TOKEN"])
    status, _, raw = signed_call(session, "GET", "/secure", key=role_key)
    assert status == 200
    assert echoed(raw)["requestContext"]["identity"]["userArn"].endswith(
        f"assumed-role/{role_arn.rsplit('/', 1)[-1]}/signing-test"
    )


@pytest.mark.parametrize(
    ("key", "region", "error_type", "message"),
    [
        (("local", "wrong", None), None, "InvalidSignatureException",
         "The request signature we calculated does not match the signature you provided."),
        (("AKIDUNKNOWN", "x", None), None, "UnrecognizedClientException",
         "The security token included in the request is invalid."),
        (("local", "local", "another-token"), None, "UnrecognizedClientException",
         "The security token included in the request is invalid."),
        (("local", "local", None), "eu-west-3", "InvalidSignatureException",
         "Credential should be scoped to a valid region, not 'eu-west-3'."),
    ],
)
def test_iam_routes_refuse_bad_signatures_like_api_gateway(session, key, region, error_type, message):
    status, headers, raw = signed_call(session, "GET", "/secure", key=key, region=region)
    assert status == 403 and headers["x-amzn-ErrorType"] == error_type
    assert json.loads(raw)["message"].startswith(message)


def test_a_signature_covers_the_headers_it_names(session):
    url = session.front.base_url + "/secure"
    headers = sign("GET", url, {"X-Correlation-ID": "one"}, None, session.emulator.region,
                   Credentials("local", "local"))
    assert call(session, "GET", "/secure", None, headers)[0] == 200
    status, _, raw = call(session, "GET", "/secure", None, {**headers, "X-Correlation-ID": "two"})
    assert status == 403
    assert "Canonical String for this request should have been" in json.loads(raw)["message"]
    status, _, raw = call(session, "GET", "/secure", None, {"Authorization": "Bearer token"})
    assert status == 403 and "requires 'Credential' parameter" in json.loads(raw)["message"]


def test_literal_route_wins_over_parameter_and_multi_value_headers_map_back(session):
    status, headers, raw = call(session, "GET", "/echo/special")
    assert status == 201 and raw == b"special"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]


def test_greedy_proxy_and_base64_response(session):
    status, headers, raw = call(session, "GET", "/files/a/b/c.bin")
    assert status == 200 and raw == b"\x00\x01binary"
    assert headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/echo"), ("TRACE", "/echo"),
                                             ("BREW", "/echo/x"), ("HEAD", "/echo")])
def test_methods_and_paths_the_api_does_not_define_get_api_gateways_json_403(session, method, path):
    status, headers, raw = call(session, method, path)
    assert status == 403 and headers["Content-Type"] == "application/json"
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert method == "HEAD" or json.loads(raw) == {"message": "Missing Authentication Token"}


def test_malformed_requests_get_json_and_chunked_bodies_are_read(session):
    answer = raw_exchange(session, b"GET /echo HTTP/1.1\r\nX-Long: " + b"x" * 70000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ") and answer.endswith(b'{"message": "Line too long"}')
    answer = raw_exchange(session, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.endswith(
        b'{"message": "Content-Length must be a non-negative integer"}'
    )
    answer = raw_exchange(
        session, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert echoed(answer.split(b"\r\n\r\n", 1)[1])["body"] == '{"a": 1}'


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
    secure = document["paths"]["/secure"]["get"]
    assert secure["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    gateway_error = {"$ref": "#/components/schemas/GatewayError"}
    assert secure["responses"]["403"]["content"]["application/json"]["schema"] == gateway_error
    assert "413" in document["paths"]["/echo"]["post"]["responses"]
    assert "403" not in document["paths"]["/echo"]["post"]["responses"]
    assert all("429" in operation["responses"] for item in document["paths"].values()
               for operation in item.values())
    assert document["paths"]["/echo/{name}"]["get"]["parameters"][0]["name"] == "name"
    status, headers, raw = call(session, "GET", "/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/openapi.json" in raw and b"<script src" not in raw and b"https://" not in raw


def test_the_session_says_where_the_operator_page_is(session):
    where = session.describe()
    assert where["operator_url"] == session.front.base_url + "/"
    status, headers, raw = call(session, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/api/v1/model/versions" in raw


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


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [("GET", "/api/v1/model/versions", ""),
     ("POST", "/api/v1/model/deploy/v%200!(x)*'~?b=2&a=1&a=0&c", '{"reason": "d\u00e9mo"}')],
)
def test_the_docs_page_signs_iam_routes_the_way_local_mode_checks(method, target, body):
    assert shutil.which("node"), "node runs the docs page's signing code here (make lint needs it too)"
    script = DOCS_HTML.split("<script>")[1]
    functions = script[script.index("const enc=") : script.index("async function send(")]
    call_it = (f"sigv4({json.dumps(method)},{json.dumps(target)},{json.dumps(body)},'127.0.0.1:3000',"
               "'20260101T000000Z','us-east-1','local','local').then(h=>console.log(JSON.stringify(h)))")
    out = subprocess.run(["node", "-e", functions + call_it], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    headers = [("Host", "127.0.0.1:3000"), *json.loads(out.stdout).items()]
    now = calendar.timegm(time.strptime("20260101T000000Z", "%Y%m%dT%H%M%SZ"))
    caller = verify(method, "http://127.0.0.1:3000" + target, headers, body.encode(), "us-east-1",
                    lambda key: LOCAL_KEY if key == "local" else None, now=now)
    assert caller is LOCAL_KEY
