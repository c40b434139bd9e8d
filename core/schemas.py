"""Pydantic models of the HTTP API: request bodies are validated with them, responses shaped by them.

Limits are part of the contract (and of the generated OpenAPI schema): a headline is at most 512 characters,
a description at most 4096, a batch at most MAX_BATCH_ITEMS items. Limits hold for text as sent; surrounding
whitespace is stripped afterwards, so what the schema calls valid is exactly what the service accepts.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_BATCH_ITEMS = 100
MAX_TOP_K = 10
VERSION_PATTERN = r"^v\d{4,}$"
_HYPERPARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

# At least one character that is neither whitespace (what str.strip removes) nor a control character; the same
# class in ECMA-262 (JSON Schema's regex dialect), Python and pydantic's regex engine.
VISIBLE_CHARACTER = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _text(**limits):
    """A string whose limits hold as sent, stripped of surrounding whitespace once they passed."""
    return Annotated[str, Field(**limits), AfterValidator(str.strip)]


class _Model(BaseModel):
    # Built at first use: each function uses a few of these models, and building all ~30 took ~0.01 s of every
    # cold start (tests/unit/test_schemas_build.py builds them all).
    model_config = ConfigDict(defer_build=True)


class _Strict(_Model):
    # Strict types: the schema's boolean is true/false (not 0, 1 or "yes"), its integer not a boolean.
    model_config = ConfigDict(extra="forbid", strict=True)


class NewsItem(_Strict):
    headline: _text(min_length=1, max_length=512, pattern=VISIBLE_CHARACTER) = Field(
        description="The news headline to categorise (at least one visible character)."
    )
    short_description: _text(max_length=4096) | None = None
    authors: _text(max_length=512) | None = None

    def as_record(self) -> dict:
        return {
            "headline": self.headline,
            "short_description": self.short_description or "",
            "authors": self.authors or "",
        }


class PredictRequest(NewsItem):
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)


class BatchPredictRequest(_Strict):
    items: list[NewsItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)


class CategoryScore(_Model):
    category: str
    probability: float


class TermWeight(_Model):
    term: str
    weight: float


class PredictResponse(_Model):
    prediction_id: str
    category: str
    confidence: float
    top_k: list[CategoryScore]
    explanation: list[TermWeight]
    model_version: str


class BatchPredictResponse(_Model):
    model_version: str
    results: list[PredictResponse]


class HealthResponse(_Model):
    status: Literal["ok", "degraded"]
    service: str
    environment: str
    code_version: str
    model_version: str | None


class FeedbackRequest(NewsItem):
    prediction_id: _text(min_length=10, max_length=2048)
    correct_category: _text(min_length=1, max_length=128, pattern=VISIBLE_CHARACTER)


class FeedbackAccepted(_Model):
    status: Literal["queued"] = "queued"
    prediction_id: str
    message_id: str
    correlation_id: str | None = None


class AccuracyCounter(_Model):
    total: int
    correct: int
    accuracy: float | None


class FeedbackStats(_Model):
    total: int
    correct: int
    accuracy: float | None
    active_model_version: str | None
    live_accuracy: float | None = Field(description="accuracy of the active model on feedback it received")
    held_back: int = Field(
        0, description="feedback stored but counted nowhere: over its sender's (API key's) daily limit"
    )
    per_category: dict[str, AccuracyCounter]
    per_model_version: dict[str, AccuracyCounter]


class TrainRequest(_Strict):
    include_feedback: bool = True
    hyperparameters: dict[str, str | int | float | bool] | None = None

    @field_validator("hyperparameters")
    @classmethod
    def _names_are_plain(cls, value):
        for name in value or {}:
            if not _HYPERPARAMETER_NAME.match(name) or name.startswith("sagemaker_"):
                raise ValueError(f"hyperparameter {name!r} not allowed (letters, digits, _; not sagemaker_*)")
        return value


class TrainAccepted(_Model):
    job_id: str
    status: str
    execution_arn: str


class TrainStatus(_Model):
    job_id: str
    status: str
    current_step: str | None
    started_at: str | None
    stopped_at: str | None
    training_job: dict | None
    outcome: dict | None
    error: dict | None


class TrainRun(_Model):
    job_id: str
    status: str
    started_at: str | None
    stopped_at: str | None


class TrainRuns(_Model):
    runs: list[TrainRun] = Field(description="newest first; GET /api/v1/model/train/{job_id} tells one")


class FeedbackDay(AccuracyCounter):
    day: str = Field(description="UTC date, YYYY-MM-DD")
    per_model_version: dict[str, AccuracyCounter] = Field(description="by the version that served it")


class FeedbackTimeline(_Model):
    days: list[FeedbackDay] = Field(description="oldest first, today last, days without feedback included")


class ModelVersion(_Model):
    version: str
    status: str
    created_at: str | None = None
    metrics: dict | None = None
    sha256: str | None = None
    artifact: str | None = None
    bundle_prefix: str | None = None
    training_job: str | None = None
    reasons: list[str] | None = None
    evaluation: dict | None = None
    deployed_at: str | None = Field(None, description="when it last became active")
    retired_at: str | None = Field(None, description="when it last stopped being active: a rollback's target")


class ModelVersions(_Model):
    active_version: str | None
    versions: list[ModelVersion]


class DeployRequest(_Strict):
    reason: _text(max_length=256) = "manual deploy"
    allow_rejected: bool = False


class DeployResponse(_Model):
    version: str
    previous_version: str | None
    revision: int
    status: Literal["active"] = "active"


class EvaluateRequest(_Strict):
    version: str | None = Field(None, pattern=VERSION_PATTERN, description="default: the active version")
    feedback_days: int | None = Field(None, ge=1, le=365)


class EvaluationAccepted(_Model):
    evaluation_id: str
    version: str
    status: str
    created_at: str | None = None


class EvaluationResult(_Model):
    evaluation_id: str
    version: str
    status: Literal["pending", "running", "completed", "failed"]
    created_at: str | None = None
    completed_at: str | None = None
    golden: dict | None = None
    feedback: dict | None = None
    error: str | None = None


class RetrainCheckRequest(_Strict):
    force: bool = False
    include_feedback: bool = True


class RetrainCheckResponse(_Model):
    retrain: bool
    reasons: list[str]
    signals: dict
    execution: dict | None = None


class ErrorResponse(_Model):
    error: str
    message: str
    details: list | dict | None = None
