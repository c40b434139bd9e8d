"""Runtime configuration: environment variables parsed into one validated model, its defaults the only ones.

Every Lambda function and the CLI read configuration through `get_settings()`. Each handler declares, at
import, the settings its function cannot work without (`function_settings`), so a missing or malformed
variable fails the cold start with the variable's name instead of the first request. The template's
parameter defaults mirror the defaults here (tests/packaging/test_template.py keeps them equal).
"""

from __future__ import annotations

import functools
import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import MlNewsError
from core.schemas import MAX_BATCH_ITEMS

# Value shapes the settings share (validated when parsed from the environment).
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]  # accuracies, F1 drops, margins
PositiveFraction = Annotated[float, Field(gt=0.0, le=1.0)]  # significance levels, distances
AtLeastOne = Annotated[int, Field(ge=1)]  # sample counts, days
NonNegative = Annotated[int, Field(ge=0)]
TrainingSeconds = Annotated[int, Field(ge=60)]  # SageMaker's smallest stopping condition


class SettingsError(MlNewsError, RuntimeError):
    """Raised when the environment does not describe a usable configuration."""


class Settings(BaseModel):
    """All tunables of the deployed system. Field name == environment variable name in lower case."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # identity
    environment: str = "dev"
    service_name: str = Field("ml-news-pipeline", alias="POWERTOOLS_SERVICE_NAME")
    code_version: str = "0.1.0"

    # resources (names come from template.yaml; empty means "not available to this function")
    models_table: str = ""
    feedback_table: str = ""
    stats_table: str = ""
    artifacts_bucket: str = ""
    data_bucket: str = ""
    feedback_queue_url: str = ""
    prediction_secret_arn: str = ""
    state_machine_arn: str = ""
    event_bus_name: str = "default"
    evaluate_function_name: str = ""

    # data layout
    base_dataset_key: str = "datasets/base.jsonl"
    golden_key: str = "golden/golden.jsonl"
    golden_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    feedback_eval_days: AtLeastOne = 30

    # serving
    model_refresh_seconds: NonNegative = 60
    prediction_cache_size: NonNegative = 2048
    # at most what the API schema lets through: a larger MAX_BATCH_SIZE could never take effect
    max_batch_size: int = Field(MAX_BATCH_ITEMS, ge=1, le=MAX_BATCH_ITEMS)
    model_cache_dir: str = "/tmp/mlnews-models"
    record_prediction_counts: bool = True
    # custom metrics that repeat free AWS ones (API Gateway, Lambda, SQS): off unless asked for (cost)
    detailed_metrics: bool = False
    prediction_id_max_age_days: AtLeastOne = 30
    # how far one sender (API key, or all keyless callers together) moves training data and retraining
    # signals a day: feedback counted (the rest is stored but held back), predictions counted for drift
    feedback_per_key_daily_limit: AtLeastOne = 200
    drift_per_key_daily_limit: AtLeastOne = 2000

    # training job
    training_max_runtime_seconds: TrainingSeconds = 3600
    training_max_wait_seconds: TrainingSeconds = 7200

    # promotion gate
    promotion_min_improvement: Fraction = 0.0
    promotion_alpha: PositiveFraction = 0.05
    promotion_max_class_f1_drop: Fraction = 0.10
    promotion_min_class_support: AtLeastOne = 5
    promotion_accuracy_floor: Fraction = 0.5

    # retrain decision
    retrain_accuracy_threshold: Fraction = 0.65
    retrain_min_live_samples: AtLeastOne = 50
    retrain_min_new_feedback: AtLeastOne = 500
    retrain_drift_threshold: PositiveFraction = 0.15
    retrain_min_drift_samples: AtLeastOne = 200
    retrain_max_model_age_days: float = Field(30.0, gt=0.0)
    retrain_cooldown_hours: float = Field(12.0, ge=0.0)
    # after k candidates in a row were rejected, wait cooldown x 2^k (up to this) unless new feedback arrived
    retrain_backoff_max_hours: float = Field(168.0, ge=0.0)

    @property
    def retraining_lock_seconds(self) -> int:
        """How long a retraining holds the single slot at most: training's wait limit plus an hour for the
        Lambda steps around it."""
        return int(self.training_max_wait_seconds) + 3600

    @model_validator(mode="after")
    def _wait_covers_runtime(self) -> Settings:
        # SageMaker rejects managed Spot jobs whose wait time is shorter than their runtime.
        if self.training_max_wait_seconds < self.training_max_runtime_seconds:
            raise ValueError("TRAINING_MAX_WAIT_SECONDS must be >= TRAINING_MAX_RUNTIME_SECONDS")
        return self

    @property
    def training_job_prefix(self) -> str:
        return f"mlnews-{self.environment}"

    def require(self, *names: str) -> None:
        """Fail with the variable names when a function is deployed without a resource it needs."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")


def _alias_for(name: str, field) -> str:
    return (field.alias or name).upper()


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Parse settings from `environ` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        key = _alias_for(name, field)
        if key in environ and environ[key] != "":
            values[field.alias or name] = environ[key]
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{_env_name(err['loc'])}: {err['msg']}" for err in error.errors(include_url=False)
        )
        raise SettingsError(f"invalid configuration: {problems}") from error


def _env_name(loc: tuple) -> str:
    if not loc:
        return "settings"
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    return _alias_for(name, field) if field else name.upper()


@functools.cache
def get_settings() -> Settings:
    """Settings of this process, parsed once (Lambda containers keep them for their lifetime)."""
    return load_settings()


def reset_settings() -> None:
    """Forget the parsed settings (tests and local mode change the environment between runs)."""
    get_settings.cache_clear()


def function_settings(*required: str) -> Settings:
    """The settings of this function, parsed and checked now: called at a handler module's import (the
    Lambda cold start) with the settings the function needs, so a missing or malformed variable fails there,
    naming it, not at the first request."""
    settings = get_settings()
    settings.require(*required)
    return settings
