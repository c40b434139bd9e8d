"""PredictFunction: GET /health, POST /api/v1/predict, POST /api/v1/predict/batch."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from core.errors import NoActiveModel
from core.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    HealthResponse,
    PredictRequest,
    PredictResponse,
)
from core.serving.model_cache import ActiveModelCache
from core.serving.predictions import predict
from core.settings import function_settings, get_settings
from handlers.http_api import BODY_ERRORS, CORRELATION_ID_PATH, build_app, responses
from handlers.observability import add_detailed_metric, detailed_metrics, logger, metrics, tracer

# What this function cannot work without, checked at its cold start.
function_settings("models_table", "artifacts_bucket", "prediction_secret_arn")

app = build_app()


def count_refused_model(version: str, reason: str) -> None:
    """The active version's bundle did not load (e.g. it differs from the registry's sha256): the previous
    model keeps serving; ModelLoadRefusedAlarm (template.yaml) watches this metric."""
    metrics.add_metric(name="ModelLoadRefused", unit=MetricUnit.Count, value=1)


# One per container: the model survives across invocations.
model_cache = ActiveModelCache(on_load_refused=count_refused_model)


@app.get("/health", responses=responses(200, "The service and the active model version"))
def health() -> HealthResponse:
    settings = get_settings()
    try:
        version, _ = model_cache.current()
    except NoActiveModel:
        version = None
    return HealthResponse(
        status="ok" if version else "degraded",
        service=settings.service_name,
        environment=settings.environment,
        code_version=settings.code_version,
        model_version=version,
    )


def _serve(items: list[dict], top_k: int) -> tuple[str, list[dict]]:
    started = time.perf_counter()
    version, results = predict(items, top_k, model_cache)
    add_detailed_metric(name="Predictions", unit=MetricUnit.Count, value=len(results))
    add_detailed_metric(
        name="PredictionLatency",
        unit=MetricUnit.Milliseconds,
        value=round((time.perf_counter() - started) * 1000, 3),
    )
    return version, results


@app.post("/api/v1/predict", responses=responses(200, "The prediction", *BODY_ERRORS, 503))
@tracer.capture_method
def predict_one(body: Annotated[PredictRequest, Body()]) -> PredictResponse:
    _, results = _serve([body.as_record()], body.top_k)
    return PredictResponse.model_validate(results[0])


@app.post("/api/v1/predict/batch", responses=responses(200, "One prediction per item", *BODY_ERRORS, 503))
@tracer.capture_method
def predict_batch(body: Annotated[BatchPredictRequest, Body()]) -> BatchPredictResponse:
    version, results = _serve([item.as_record() for item in body.items], body.top_k)
    return BatchPredictResponse(
        model_version=version, results=[PredictResponse.model_validate(result) for result in results]
    )


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=detailed_metrics())
def lambda_handler(event, context):
    return app.resolve(event, context)
