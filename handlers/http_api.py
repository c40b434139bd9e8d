"""What every HTTP handler shares: the resolver with validation, CORS, correlation ids, JSON errors.

Errors are always JSON `{"error", "message", "details"}`: 422 for a body that fails validation, 400/404/409
for domain errors, 503 when no model is deployed, 500 (without internals) for anything unexpected.
"""

from __future__ import annotations

import re
import uuid

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from core.errors import Conflict, DomainError, InvalidInput, NoActiveModel, NotFound
from core.schemas import ErrorResponse
from handlers.observability import logger

CORRELATION_HEADER = "X-Correlation-ID"
# Logger correlation id: the caller's header when present, else API Gateway's request id.
CORRELATION_ID_PATH = 'headers."X-Correlation-ID" || headers."x-correlation-id" || requestContext.requestId'
_SAFE_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATUS = {InvalidInput: 400, NotFound: 404, Conflict: 409, NoActiveModel: 503}



def error_response(status: int, error: str, message: str, details=None) -> Response:
    body = ErrorResponse(error=error, message=message, details=details).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


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

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError):
        details = [
            {
                "location": ".".join(str(part) for part in item.get("loc", ())),
                "message": item.get("msg"),
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
