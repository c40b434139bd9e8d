"""The Powertools instances every function shares: one logger, tracer and metrics per container.

HTTP, SQS and Step Functions handlers all log, trace and emit metrics the same way; only the HTTP ones need
the REST resolver (handlers/http_api.py), so the others import this module alone.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
metrics.set_default_dimensions(environment=os.environ.get("ENVIRONMENT", "dev"))
