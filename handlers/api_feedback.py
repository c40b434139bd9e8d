"""FeedbackApiFunction: POST /api/v1/feedback (verify, queue -> 202), GET /api/v1/feedback/stats."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from core.feedback import counters, intake
from core.registry.versions import ModelRegistry
from core.schemas import FeedbackAccepted, FeedbackRequest, FeedbackStats
from core.settings import get_settings
from handlers.http_api import CORRELATION_ID_PATH, build_app, correlation_id, logger, metrics, tracer

app = build_app()
_ACTIVE_TTL_SECONDS = 60
_active: dict = {"at": float("-inf"), "item": None}


def active_model_item() -> dict | None:
    """The active model's registry item (its classes validate categories), cached for a minute."""
    if time.monotonic() - _active["at"] > _ACTIVE_TTL_SECONDS:
        _active.update(item=ModelRegistry(get_settings()).active_item(), at=time.monotonic())
    return _active["item"]


@app.post("/api/v1/feedback")
@tracer.capture_method
def submit_feedback(body: Annotated[FeedbackRequest, Body()]) -> Response[FeedbackAccepted]:
    active = active_model_item()
    queued = intake.accept_feedback(
        body.model_dump(),
        known_categories=active["classes"] if active else None,
        correlation_id=correlation_id(app),
    )
    metrics.add_metric(name="FeedbackAccepted", unit=MetricUnit.Count, value=1)
    accepted = FeedbackAccepted(
        prediction_id=body.prediction_id, message_id=queued["message_id"], correlation_id=correlation_id(app)
    )
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump(mode="json")
    )


@app.get("/api/v1/feedback/stats")
@tracer.capture_method
def stats() -> FeedbackStats:
    active = active_model_item()
    return FeedbackStats.model_validate(counters.feedback_stats(active["version"] if active else None))


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
