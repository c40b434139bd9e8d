"""The Powertools instances every function shares: one logger, tracer and metrics per container.

HTTP, SQS and Step Functions handlers all log, trace and emit metrics the same way; only the HTTP ones need
the REST resolver (handlers/http_api.py), so the others import this module alone.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

from core.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
metrics.set_default_dimensions(environment=os.environ.get("ENVIRONMENT", "dev"))


def detailed_metrics() -> bool:
    """Custom metrics that repeat free ones (request counts, latency, cold starts, queued messages) cost $0.30
    a month each: emitted only when the template's DetailedMetrics parameter asks for them."""
    return get_settings().detailed_metrics


def add_detailed_metric(name: str, unit, value: float) -> None:
    if detailed_metrics():
        metrics.add_metric(name=name, unit=unit, value=value)
