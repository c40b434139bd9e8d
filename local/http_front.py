"""The API Gateway stand-in: serves the template's API routes on http://127.0.0.1:<port>.

Each request becomes the REST API (v1) proxy event the function would receive from API Gateway, the function
is invoked through the (emulated) Lambda Invoke API, and its proxy response becomes the HTTP response.
What API Gateway answers itself is answered here in its JSON form (`{"message": ...}` and x-amzn-ErrorType):
a method or path the API does not define, and an `AWS_IAM` route called without a valid SigV4 signature, get
403 (local.sigv4 checks the signature, not IAM policy); a body over 10 MB gets 413. The events of signed IAM
calls carry the signer in `requestContext.identity` (the `local` key: LOCAL_IAM_USER_ARN).
Also served: /openapi.json (merged from the functions' Powertools resolvers, or built from the routes),
/docs (self-contained HTML, works offline), the operator page at / (local.operator_page), and /_local/*
control routes used by `mlnews local tick`.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from local.cfn import ACCOUNT_ID
from local.docs_page import DOCS_HTML
from local.iam.enforcement import access_control
from local.operator_page import operator_page
from local.routes import Route, group_name
from local.sigv4 import Caller, SignatureRefused, verify

LOCAL_IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer"
# The key every process of local mode has (local.in_process_lambda.LOCAL_ENV); users sign with it too.
LOCAL_KEY = Caller("local", "local", (None, "local"), LOCAL_IAM_USER_ARN)
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
OPERATOR_HTML = operator_page()  # same origin, signed as the `local` key
REQUEST_TIMEOUT_SECONDS = 60  # a client that stops sending mid-request does not hold a thread for ever
_TEXT_TYPES = (
    "application/json",
    "text/",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "application/problem+json",
)


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def local_callers(access_key: str) -> Caller | None:
    """The credentials local mode knows: the `local` key, and each role session it gave a function or a job
    (local.iam), so code running as a role can sign as that role."""
    if access_key == LOCAL_KEY.access_key:
        return LOCAL_KEY
    found = access_control.principal(access_key)
    if found is None:
        return None
    principal, session = found
    keys = access_control.credentials(principal.role_arn, session)
    arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{principal.role_name}/{session}"
    return Caller(access_key, keys["AWS_SECRET_ACCESS_KEY"], (keys["AWS_SESSION_TOKEN"],), arn)


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path parameters, path known). Routes are ordered most specific first."""
    known = False
    for route in routes:
        found = route.pattern.match(path)
        if not found:
            continue
        known = True
        if route.method in (method, "ANY"):
            names = route.parameter_names()
            return route, {name: found.group(group_name(name)) for name in names}, True
    return None, {}, known


def to_event(
    request: HttpRequest,
    route: Route,
    path_parameters: dict[str, str],
    stage: str = "local",
    binary_types: tuple[str, ...] = (),
    caller: Caller | None = None,
) -> dict:
    """The API Gateway REST proxy event for this request; `caller` is who signed an IAM route's request."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query_pairs = parse_qsl(request.query, keep_blank_values=True)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "").lower()
    body, is_base64 = _event_body(request.body, content_type, binary_types)
    now = time.time()
    request_id = str(uuid.uuid4())
    iam = route.auth.upper() == "AWS_IAM" and caller is not None
    user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), None)
    who = caller.arn.split("/", 1)[-1].replace("/", ":") if iam else None  # user name, or role:session
    identity = {
        "sourceIp": request.source_ip,
        "userAgent": user_agent,
        "caller": who,
        "user": who,
        "userArn": caller.arn if iam else None,
        "accessKey": caller.access_key if iam else None,
        "accountId": ACCOUNT_ID if iam else None,
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "principalOrgId": None,
        "apiKey": None,
        "apiKeyId": None,
    }
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": f"/{stage}{request.path}",
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": next((v for k, v in request.headers if k.lower() == "host"), "127.0.0.1"),
            "identity": identity,
            "authorizer": {"principalId": caller.arn} if iam else None,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_body(raw: bytes, content_type: str, binary_types: tuple[str, ...]) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    is_binary = any(_media_matches(content_type, pattern) for pattern in binary_types)
    if not is_binary:
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            is_binary = True
    return base64.b64encode(raw).decode("ascii"), True


def _media_matches(content_type: str, pattern: str) -> bool:
    pattern = pattern.replace("~1", "/").lower()
    media = content_type.split(";")[0].strip()
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        return media.startswith(pattern[:-1])
    return media == pattern


def from_result(result: object, function_error: bool) -> HttpResponse:
    """API Gateway's mapping of a Lambda proxy response (502 for errors and malformed results)."""
    if function_error or not isinstance(result, dict) or "statusCode" not in result:
        return _json(502, {"message": "Internal server error"})
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _json(502, {"message": "Internal server error"})
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers += [(name, str(v)) for v in (values if isinstance(values, list) else [values])]
    multi_lower = {name.lower() for name in multi}
    headers += [(name, str(v)) for name, v in single.items() if name.lower() not in multi_lower]
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body)
        except (ValueError, TypeError):
            return _json(502, {"message": "Internal server error"})
    else:
        payload = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, payload)


def _json(status: int, payload: dict, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode("utf-8")
    )


def _gateway_error(status: int, error_type: str, message: str) -> HttpResponse:
    """An answer of API Gateway itself: its JSON body and the x-amzn-ErrorType header."""
    return _json(status, {"message": message}, [("x-amzn-ErrorType", error_type)])


# API Gateway (REST) answers a method or path it has no method for as it answers an unsigned IAM call:
# https://repost.aws/knowledge-center/api-gateway-authentication-token-errors
NO_SUCH_METHOD = (403, "MissingAuthenticationTokenException", "Missing Authentication Token")


@dataclass
class HttpFront:
    """Serves the routes; `invoke(function_name, event) -> (result, errored)` reaches the function."""

    routes: list[Route]
    invoke: Callable[[str, dict], tuple[object, bool]]
    port: int = 3000
    host: str = "127.0.0.1"
    stage: str = "local"
    binary_types: tuple[str, ...] = ()
    region: str = "us-east-1"  # SigV4 signatures of IAM routes are scoped to it
    callers: Callable[[str], Caller | None] = local_callers  # access key -> credentials it signs with
    openapi: Callable[[str], dict] | None = None  # base url -> OpenAPI document
    control: dict[str, Callable[[dict], dict]] = field(default_factory=dict)  # /_local/<name> handlers
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if request.method == "GET" and path == "/openapi.json":
            return _json(200, self.openapi(self.base_url) if self.openapi else {})
        if request.method == "GET" and path in ("/docs", "/docs/"):
            return HttpResponse(
                200, [("Content-Type", "text/html; charset=utf-8")], DOCS_HTML.encode("utf-8")
            )
        if request.method == "GET" and path == "/":  # the operator page, over this same API
            return HttpResponse(
                200, [("Content-Type", "text/html; charset=utf-8")], OPERATOR_HTML.encode("utf-8")
            )
        if path.startswith("/_local/"):
            return self._control(request)
        if len(request.body) > MAX_BODY_BYTES:
            return _gateway_error(413, "RequestTooLongException", "Request Too Long")
        route, params, _ = match_route(self.routes, request.method, path)
        if route is None:
            return _gateway_error(*NO_SUCH_METHOD)
        caller = None
        if route.auth.upper() == "AWS_IAM":
            host = next((v for k, v in request.headers if k.lower() == "host"), f"{self.host}:{self.port}")
            url = f"http://{host}{path}" + (f"?{request.query}" if request.query else "")
            try:
                caller = verify(request.method, url, request.headers, request.body, self.region, self.callers)
            except SignatureRefused as refused:
                return _gateway_error(403, refused.error_type, refused.message)
        event = to_event(request, route, params, self.stage, self.binary_types, caller)
        result, errored = self.invoke(route.function_name, event)
        response = from_result(result, errored)
        response.headers.append(("x-amzn-RequestId", event["requestContext"]["requestId"]))
        return response

    def _control(self, request: HttpRequest) -> HttpResponse:
        name = request.path[len("/_local/") :].strip("/")
        handler = self.control.get(name)
        if handler is None:
            return _json(404, {"message": f"unknown local control route: {name}"})
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _json(400, {"message": "body must be JSON"})
        try:
            return _json(200, handler(body if isinstance(body, dict) else {}))
        except Exception as error:  # a failed control action is reported, the server keeps running
            return _json(500, {"message": f"{type(error).__name__}: {error}"})

    def start(self) -> HttpFront:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = REQUEST_TIMEOUT_SECONDS

            def __getattr__(self, name: str):
                # Every method reaches the front, which answers like API Gateway (http.server alone would
                # answer a method it has no do_<METHOD> for with an HTML 501 page).
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # A request http.server cannot parse (request line, headers) gets JSON too, then the
                # connection closes.
                self.close_connection = True
                self._send(_json(code, {"message": message or self.responses.get(code, ("Error",))[0]}))

            def _read_body(self) -> bytes | None:
                """The body (Content-Length or chunked); None when it was refused (answered already)."""
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._read_chunked()
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.send_error(400, "Content-Length must be a non-negative integer")
                    return None
                if length > MAX_BODY_BYTES:  # not read: the connection closes instead
                    self.close_connection = True
                    self._send(_gateway_error(413, "RequestTooLongException", "Request Too Long"))
                    return None
                return self.rfile.read(length) if length else b""

            def _read_chunked(self) -> bytes | None:
                chunks, total = [], 0
                while True:
                    try:
                        size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                    except ValueError:
                        self.send_error(400, "malformed chunked body")
                        return None
                    if size == 0:
                        while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                            pass  # trailer fields: not used
                        return b"".join(chunks)
                    total += size
                    if size < 0 or total > MAX_BODY_BYTES:
                        self.close_connection = True
                        self._send(_gateway_error(413, "RequestTooLongException", "Request Too Long"))
                        return None
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(16)  # the CRLF after each chunk

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                try:
                    body = self._read_body()
                except (TimeoutError, ConnectionError):  # the client stopped sending: nothing to answer
                    self.close_connection = True
                    return
                if body is None:
                    return
                request = HttpRequest(
                    self.command,
                    parts.path or "/",
                    parts.query,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )
                try:
                    response = front.handle(request)
                except Exception as error:  # keep serving; report like API Gateway would
                    response = _json(502, {"message": f"Internal server error ({type(error).__name__})"})
                self._send(response)

            def _send(self, response: HttpResponse) -> None:
                self.send_response(response.status)
                for name, value in response.headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def log_message(self, *args) -> None:  # the CLI prints its own request lines
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-front", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# ---------------------------------------------------------------- OpenAPI


OPENAPI_VERSION = "3.1.0"  # the resolvers' schemas are JSON Schema 2020-12 (e.g. "type": "null")
DOCUMENTED_BASE_URL = "http://127.0.0.1:3000"  # `mlnews local up`'s default: the committed document's server
GATEWAY_ERROR = {
    "title": "GatewayError",
    "description": "An answer of API Gateway itself, before any function runs; x-amzn-ErrorType names it.",
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayError"}}}
# What API Gateway itself may answer on a route, by the route's kind (docs/api.md).
_IAM_REFUSED = (
    "Refused by API Gateway's IAM authorization: unsigned ('Missing Authentication Token'), an unknown key "
    "('The security token included in the request is invalid.') or a SigV4 signature that does not verify"
)
_TOO_LONG = "Body over API Gateway's 10 MB payload limit ('Request Too Long')"
_THROTTLED = "Throttled by API Gateway, at the stage's or the account's rate limits ('Too Many Requests')"


def merge_openapi(
    base_url: str,
    routes: list[Route],
    schemas_by_function: dict[str, dict | None],
    title: str = "ml-news-pipeline",
) -> dict:
    """One OpenAPI document: the resolvers' own operations where available (what each function answers), the
    routes otherwise, plus what API Gateway answers itself on each route (403 on IAM routes, 413 on routes
    with a body, 429 anywhere) and the SigV4 security of IAM routes."""
    document: dict = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": "v1",
            "description": "Headline categories, feedback and model administration (docs/api.md)",
        },
        "servers": [
            {"url": base_url, "description": "local mode (mlnews local up)"},
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "a deployed stack (its ApiUrl output)",
                "variables": {
                    "restApiId": {"default": "api-id"},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": "dev", "enum": ["dev", "staging", "prod"]},
                },
            },
        ],
        "paths": {},
        "components": {"schemas": {"GatewayError": GATEWAY_ERROR}},
    }
    for route in routes:
        method = route.method.lower()
        schema = schemas_by_function.get(route.function_name) or {}
        operation = (schema.get("paths", {}).get(route.path) or {}).get(method)
        if operation is None:
            operation = _route_operation(route)
        else:
            operation = copy.deepcopy(operation)
            document["components"]["schemas"].update((schema.get("components") or {}).get("schemas") or {})
        answers = operation.setdefault("responses", {})
        if route.auth.upper() == "AWS_IAM":
            operation["security"] = [{"sigv4": []}]
            answers["403"] = {"description": _IAM_REFUSED, "content": _ERROR_REF}
            document["components"].setdefault("securitySchemes", {})["sigv4"] = {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "awsSigv4",
                "description": "AWS Signature Version 4, service execute-api (API Gateway's AWS_IAM "
                "authorization); local mode checks the signature, not IAM policy: docs/api.md",
            }
        if "requestBody" in operation:
            answers["413"] = {"description": _TOO_LONG, "content": _ERROR_REF}
        answers["429"] = {"description": _THROTTLED, "content": _ERROR_REF}
        operation["responses"] = dict(sorted(answers.items()))
        methods = ["get", "post", "put", "patch", "delete"] if method == "any" else [method]
        for verb in methods:
            document["paths"].setdefault(route.path, {})[verb] = operation
    schemas = document["components"]["schemas"]
    used = _referenced_schemas(document["paths"], schemas)
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(used)}
    return document


def _referenced_schemas(paths: dict, schemas: dict) -> set[str]:
    """Names of the component schemas the paths use, directly or through other schemas (the resolvers also
    carry schemas of shapes no route answers, e.g. Powertools' own validation error)."""
    prefix = "#/components/schemas/"
    found: set[str] = set()
    pending = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix):] not in found:
                found.add(ref[len(prefix):])
                pending.append(schemas.get(ref[len(prefix):]))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found & set(schemas)


def _route_operation(route: Route) -> dict:
    operation: dict = {
        "summary": f"{route.method} {route.path}",
        "operationId": f"{route.function_id}_{route.method}_{route.path}".replace("/", "_").strip("_"),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.parameter_names()
        ],
        "responses": {"200": {"description": "Success"}, "400": {"description": "Bad request"}},
    }
    if route.method in ("POST", "PUT", "PATCH", "ANY"):
        operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return operation
