"""API Gateway events from events/ with the body replaced, and calling a handler with one."""

from __future__ import annotations

import copy
import json

from local.template import REPO_ROOT
from tests.support.handler_calls import LambdaContext

EVENTS_DIR = REPO_ROOT / "events"

def api_event(
    name: str,
    body=None,
    path_parameters: dict | None = None,
    headers: dict | None = None,
    raw_body: str | None = None,
) -> dict:
    """A sample API Gateway event from events/ with the body (and path parameters) replaced."""
    event = copy.deepcopy(json.loads((EVENTS_DIR / name).read_text()))
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
        path = event["resource"]
        for key, value in path_parameters.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if headers:
        event["headers"].update(headers)
        event["multiValueHeaders"].update({key: [value] for key, value in headers.items()})
    return event

def call(handler_module, event) -> tuple[int, dict, dict]:
    """Invoke a handler's lambda_handler; returns (status, json body, headers)."""
    response = handler_module.lambda_handler(event, LambdaContext())
    headers = dict(response.get("headers") or {})
    headers.update({name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], json.loads(response["body"] or "null"), headers
