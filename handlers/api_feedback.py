"""FeedbackApiFunction: POST /api/v1/feedback (verify, queue -> 202), GET /api/v1/feedback/stats."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from core.feedback import counters, intake
from core.registry.active_model import ActiveModelLookup
from core.schemas import FeedbackAccepted, FeedbackRequest, FeedbackStats
from core.settings import function_settings
from handlers.http_api import BODY_ERRORS, CORRELATION_ID_PATH, build_app, correlation_id, responses
from handlers.observability import add_detailed_metric, logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings(
    "models_table",
    "artifacts_bucket",
    "stats_table",
    "prediction_secret_arn",
    "feedback_queue_url",
)

app = build_app()
active_model = ActiveModelLookup()  # one per container: re-read at most once a minute


@app.post("/api/v1/feedback", responses=responses(202, "Verified and queued", *BODY_ERRORS))
@tracer.capture_method
def submit_feedback(body: Annotated[FeedbackRequest, Body()]) -> Response[FeedbackAccepted]:
    queued = intake.accept_feedback(
        body.model_dump(),
        known_categories=active_model.known_categories(),
        correlation_id=correlation_id(app),
        api_key_id=app.current_event.request_context.identity.api_key_id,
    )
    add_detailed_metric(name="FeedbackAccepted", unit=MetricUnit.Count, value=1)
    accepted = FeedbackAccepted(
        prediction_id=body.prediction_id, message_id=queued["message_id"], correlation_id=correlation_id(app)
    )
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump(mode="json")
    )


@app.get("/api/v1/feedback/stats", responses=responses(200, "Feedback counters"))
@tracer.capture_method
def stats() -> FeedbackStats:
    return FeedbackStats.model_validate(counters.feedback_stats(active_model.version()))


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
