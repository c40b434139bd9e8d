"""The API Gateway stand-in: serves the template's API routes on http://127.0.0.1:<port>.

Each request becomes the REST API (v1) proxy event the function would receive from API Gateway, the function
is invoked through the (emulated) Lambda Invoke API, and its proxy response becomes the HTTP response.
Routes with `AWS_IAM` authorization are not signature-checked locally; their events carry a local identity
(`requestContext.identity.userArn` = LOCAL_IAM_USER_ARN) so handlers see who called, as they would on AWS.
Also served: /openapi.json (merged from the functions' Powertools resolvers, or built from the routes),
/docs (self-contained HTML, works offline), and /_local/* control routes used by `mlnews local tick`.
"""

from __future__ import annotations

import base64
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
from local.routes import Route, group_name

LOCAL_IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
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
) -> dict:
    """The API Gateway REST proxy event for this request."""
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
    iam = route.auth.upper() == "AWS_IAM"
    user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), None)
    identity = {
        "sourceIp": request.source_ip,
        "userAgent": user_agent,
        "caller": "LOCAL" if iam else None,
        "user": "local-developer" if iam else None,
        "userArn": LOCAL_IAM_USER_ARN if iam else None,
        "accessKey": "LOCAL" if iam else None,
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
            "authorizer": {"principalId": LOCAL_IAM_USER_ARN} if iam else None,
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


@dataclass
class HttpFront:
    """Serves the routes; `invoke(function_name, event) -> (result, errored)` reaches the function."""

    routes: list[Route]
    invoke: Callable[[str, dict], tuple[object, bool]]
    port: int = 3000
    host: str = "127.0.0.1"
    stage: str = "local"
    binary_types: tuple[str, ...] = ()
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
        if path.startswith("/_local/"):
            return self._control(request)
        if len(request.body) > MAX_BODY_BYTES:
            return _json(413, {"message": "Request Too Long"})
        route, params, known = match_route(self.routes, request.method, path)
        if route is None:
            return _json(
                405 if known else 404,
                {"message": f"{'Method Not Allowed' if known else 'Not Found'}: {request.method} {path}"},
            )
        event = to_event(request, route, params, self.stage, self.binary_types)
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

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._send(_json(413, {"message": "Request Too Long"}))
                    return
                body = self.rfile.read(length) if length else b""
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
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

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


def merge_openapi(
    base_url: str,
    routes: list[Route],
    schemas_by_function: dict[str, dict | None],
    title: str = "ml-news-pipeline (local)",
) -> dict:
    """One OpenAPI 3 document: the resolvers' own schemas where available, the routes otherwise."""
    document: dict = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "local"},
        "servers": [{"url": base_url}],
        "paths": {},
        "components": {"schemas": {}},
    }
    for route in routes:
        method = route.method.lower()
        schema = schemas_by_function.get(route.function_name) or {}
        operation = (schema.get("paths", {}).get(route.path) or {}).get(method)
        if operation is None:
            operation = _route_operation(route)
        else:
            document["components"]["schemas"].update((schema.get("components") or {}).get("schemas") or {})
        if route.auth.upper() == "AWS_IAM":
            operation = {**operation, "security": [{"sigv4": []}]}
            document["components"].setdefault("securitySchemes", {})["sigv4"] = {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "AWS Signature Version 4 (IAM). Not checked in local mode.",
            }
        methods = ["get", "post", "put", "patch", "delete"] if method == "any" else [method]
        for verb in methods:
            document["paths"].setdefault(route.path, {})[verb] = operation
    return document


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
