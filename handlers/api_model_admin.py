"""ModelAdminFunction: IAM-authorised model administration routes."""

import re
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel

from core.cards.card import ModelCard
from core.errors import InvalidInput
from core.feedback import timeline
from core.registry.versions import ModelRegistry
from core.retraining import check, evaluations, executions, outcome, recent_runs, status
from core.schemas import (
    VERSION_PATTERN,
    DeployRequest,
    DeployResponse,
    EvaluateRequest,
    EvaluationAccepted,
    EvaluationResult,
    FeedbackTimeline,
    ModelVersion,
    ModelVersions,
    RetrainCheckRequest,
    RetrainCheckResponse,
    TrainAccepted,
    TrainRequest,
    TrainRuns,
    TrainStatus,
)
from core.settings import function_settings
from handlers.http_api import (
    BODY_ERRORS,
    CORRELATION_ID_PATH,
    JSON_MEDIA_TYPE,
    build_app,
    correlation_id,
    responses,
)
from handlers.observability import logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings(
    "models_table",
    "artifacts_bucket",
    "stats_table",
    "feedback_table",
    "state_machine_arn",
    "evaluate_function_name",
)

app = build_app()


def accepted(model: BaseModel) -> Response:
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=model.model_dump(mode="json")
    )


@app.post("/api/v1/model/train", responses=responses(202, "Retraining started", *BODY_ERRORS, 409))
def train(body: Annotated[TrainRequest, Body()]) -> Response[TrainAccepted]:
    started = executions.start_retraining(
        trigger="api",
        reasons=["requested through the API"],
        include_feedback=body.include_feedback,
        hyperparameters=body.hyperparameters,
        correlation_id=correlation_id(app),
    )
    return accepted(TrainAccepted.model_validate(started))


@app.get("/api/v1/model/train", responses=responses(200, "The latest retraining runs"))
def train_runs(limit: Annotated[int, Query(ge=1, le=recent_runs.MAX_RUNS)] = 10) -> TrainRuns:
    return TrainRuns(runs=recent_runs.recent_runs(limit))


@app.get("/api/v1/model/train/<job_id>", responses=responses(200, "The retraining run", 404))
def train_status(job_id: str) -> TrainStatus:
    return TrainStatus.model_validate(status.execution_status(job_id))


@app.get("/api/v1/model/versions", responses=responses(200, "Every registered version"))
def versions() -> ModelVersions:
    registry = ModelRegistry()
    pointer = registry.active_pointer()
    return ModelVersions(
        active_version=pointer["active_version"] if pointer else None,
        versions=[ModelVersion.model_validate(item) for item in registry.list_versions()],
    )


@app.get("/api/v1/model/feedback/daily", responses=responses(200, "Feedback volume and accuracy per day"))
def feedback_daily(days: Annotated[int, Query(ge=1, le=timeline.MAX_DAYS)] = 14) -> FeedbackTimeline:
    return FeedbackTimeline(days=timeline.daily_feedback(days))


@app.post(
    "/api/v1/model/deploy/<version>", responses=responses(200, "Now active", *BODY_ERRORS, 404, 409)
)
def deploy(version: str, body: Annotated[DeployRequest | None, Body()] = None) -> DeployResponse:
    body = body or DeployRequest()
    deployed = outcome.deploy_version(
        version, reason=body.reason, allow_rejected=body.allow_rejected, correlation_id=correlation_id(app)
    )
    return DeployResponse.model_validate(deployed)


@app.post("/api/v1/model/evaluate", responses=responses(202, "Evaluation started", *BODY_ERRORS, 404))
def evaluate(body: Annotated[EvaluateRequest | None, Body()] = None) -> Response[EvaluationAccepted]:
    body = body or EvaluateRequest()
    record = evaluations.request_evaluation(
        body.version, feedback_days=body.feedback_days, correlation_id=correlation_id(app)
    )
    return accepted(EvaluationAccepted.model_validate(record))


@app.get("/api/v1/model/evaluate/<evaluation_id>", responses=responses(200, "The evaluation", 404))
def evaluation(evaluation_id: str) -> EvaluationResult:
    return EvaluationResult.model_validate(evaluations.get_evaluation(evaluation_id))


@app.post("/api/v1/model/retrain-check", responses=responses(200, "The decision", *BODY_ERRORS, 409))
def retrain_check(body: Annotated[RetrainCheckRequest | None, Body()] = None) -> RetrainCheckResponse:
    body = body or RetrainCheckRequest()
    result = check.run_retrain_check(
        trigger="api",
        correlation_id=correlation_id(app),
        force=body.force,
        include_feedback=body.include_feedback,
    )
    return RetrainCheckResponse.model_validate(result)


CARD_RESPONSES = responses(
    200, "The version's model card: JSON, or an HTML page with its pictures (format=html, Accept: text/html)",
    400, 404,
)  # fmt: skip
CARD_RESPONSES[200]["content"] = {
    JSON_MEDIA_TYPE: {"model": ModelCard},
    "text/html": {"schema": {"type": "string"}},
}


@app.get("/api/v1/model/versions/<version>/card", responses=CARD_RESPONSES)
def version_card(
    version: str, format: Annotated[Literal["json", "html"] | None, Query()] = None
) -> Response[ModelCard | str]:  # str: the HTML page
    """The version's model card (docs/model-card.md): JSON, or a self-contained HTML page with its pictures
    for ?format=html or, without ?format, an Accept header that names text/html."""
    if not re.match(VERSION_PATTERN, version):
        raise InvalidInput(f"{version!r} is not a model version (v0001, v0002, ...)")
    card, images = ModelRegistry().card(version)
    accept = app.current_event.get_header_value("Accept", default_value="", case_sensitive=False) or ""
    if (format or ("html" if "text/html" in accept else "json")) == "json":
        return Response(200, content_types.APPLICATION_JSON, card.model_dump(mode="json"))
    from core.cards.html import render_html

    return Response(200, "text/html; charset=utf-8", render_html(card, images))


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
