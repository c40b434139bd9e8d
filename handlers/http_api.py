"""What every HTTP handler shares: the resolver with validation, CORS, correlation ids, JSON errors, and the
OpenAPI declaration of the statuses a route answers.

Errors are always JSON `{"error", "message", "details"}` (ErrorResponse): 400 for a body that is not UTF-8,
415 for a body that is not sent as JSON, 422 for a body that fails validation, 400/404/409 for domain errors,
503 when no model is deployed, 500 (without internals) for anything unexpected. docs/api.md is the contract.
"""

from __future__ import annotations

import re
import uuid

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from core.errors import Conflict, DomainError, InvalidInput, NoActiveModel, NotFound
from core.schemas import VISIBLE_CHARACTER, ErrorResponse
from handlers.observability import logger

CORRELATION_HEADER = "X-Correlation-ID"
# Logger correlation id: the caller's header when present, else API Gateway's request id.
CORRELATION_ID_PATH = 'headers."X-Correlation-ID" || headers."x-correlation-id" || requestContext.requestId'
_SAFE_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATUS = {InvalidInput: 400, NotFound: 404, Conflict: 409, NoActiveModel: 503}
JSON_MEDIA_TYPE = "application/json"

# What each error status means, as the OpenAPI document declares it.
ERROR_STATUSES = {
    400: "Refused: a body that is not UTF-8, or content the service does not accept (unknown category, a "
    "prediction_id that does not verify, too many items)",
    404: "No such model version, retraining job or evaluation (or nothing to evaluate)",
    409: "Conflicts with the current state (a retraining already running, a rejected or changed version)",
    415: "The body is not sent as JSON (Content-Type must be application/json or absent)",
    422: "The body or a parameter fails the schema; details lists each problem",
    503: "No model is deployed yet",
}
BODY_ERRORS = (400, 415)  # what any route that takes a body can answer besides 422


def responses(success: int, description: str, *errors: int) -> dict[int, dict]:
    """A route's OpenAPI responses: the success status (schema from the return annotation) and each error
    status the route answers with the JSON error shape, 422 always (Powertools declares it on each route)."""
    declared: dict[int, dict] = {success: {"description": description}}
    for status in sorted({*errors, 422}):
        declared[status] = {
            "description": ERROR_STATUSES[status],
            "content": {JSON_MEDIA_TYPE: {"model": ErrorResponse}},
        }
    return declared


class RequestRefused(Exception):
    """A body the API does not read: not sent as JSON (415) or not UTF-8 (400)."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading every body as UTF-8 JSON. Powertools alone would parse a form
    body (curl -d's default type) into a 422 listing the whole body as an extra input, and answer 500 for a
    body that is not UTF-8 or of another type."""

    def _get_body(self, app):
        event = app.current_event
        media = (event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if event.body and media not in ("", JSON_MEDIA_TYPE):
            raise RequestRefused(
                415,
                "unsupported_media_type",
                f"send the body as JSON with Content-Type: {JSON_MEDIA_TYPE} (got {media})",
            )
        try:
            body = self._parse_json_data(app)
        except UnicodeDecodeError:
            raise RequestRefused(400, "invalid_body", "the body is not UTF-8 text (JSON must be)") from None
        except RecursionError:
            raise RequestRefused(400, "invalid_body", "the body's JSON nests too deeply") from None
        if event.body and not isinstance(body, dict):
            # Every body is an object; Powertools would read an array as its last item, `null` as no body.
            error = {"type": "dict_type", "loc": ("body",), "msg": "Input should be a JSON object"}
            raise RequestValidationError([{**error, "input": body}])
        return body



def error_response(status: int, error: str, message: str, details=None) -> Response:
    body = ErrorResponse(error=error, message=message, details=details).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _validation_message(item: dict) -> str | None:
    pattern = (item.get("ctx") or {}).get("pattern")
    if item.get("type") == "string_pattern_mismatch" and pattern == VISIBLE_CHARACTER:
        return "needs at least one visible character (not only whitespace or control characters)"
    return item.get("msg")


def correlation_id(app: APIGatewayRestResolver) -> str:
    """The caller's X-Correlation-ID if it is safe to log and forward, else a fresh one."""
    supplied = app.current_event.headers.get(CORRELATION_HEADER) if app.current_event else None
    if supplied and _SAFE_CORRELATION.match(supplied):
        return supplied
    return logger.get_correlation_id() or str(uuid.uuid4())


def build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(
        enable_validation=True,
        cors=CORSConfig(
            allow_origin="*",
            allow_headers=[CORRELATION_HEADER],
            expose_headers=[CORRELATION_HEADER],
            max_age=600,
        ),
    )

    def add_correlation_header(app, next_middleware):
        response = next_middleware(app)
        response.headers[CORRELATION_HEADER] = correlation_id(app)
        return response

    app.use(middlewares=[add_correlation_header])
    # Powertools runs this instance first on every validated route (Route._build_middleware_stack); replacing
    # it is how bodies are read before validation sees them.
    app._request_validation_middleware = _JsonBodyValidation()

    @app.exception_handler(RequestRefused)
    def _refused(error: RequestRefused):
        return error_response(error.status, error.error, error.message)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError):
        details = [
            {
                "location": ".".join(str(part) for part in item.get("loc", ())),
                "message": _validation_message(item),
                "type": item.get("type"),
            }
            for item in error.errors()
        ]
        summary = "; ".join(f"{item['location']}: {item['message']}" for item in details[:5])
        return error_response(422, "validation_error", f"invalid request: {summary}", details)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError):
        status = next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)
        return error_response(status, error.code, error.message, error.details or None)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception):
        logger.exception("unhandled error")
        return error_response(
            500, "internal_error", f"internal error; quote correlation id {logger.get_correlation_id()}"
        )

    @app.not_found
    def _not_found(_error):
        return error_response(
            404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}"
        )

    return app
