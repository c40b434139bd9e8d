"""Every training knob, validated (pydantic only: no scikit-learn, so callers can check hyperparameters
before anything is trained)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import MlNewsError


class TrainingError(MlNewsError, ValueError):
    """Training input is unusable (empty data, a single category, bad text fields or hyperparameters)."""


class Hyperparameters(BaseModel):
    """Every training knob. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    classifier: Literal["linear_svm", "logreg"] = Field(
        "linear_svm", description="linear SVM (one-vs-rest) or multinomial logistic regression; both "
        "calibrated by temperature scaling of their decision values")
    C: float = Field(0.5, gt=0, description="inverse L2 regularisation")
    solver: Literal["saga", "lbfgs"] = "saga"
    max_iter: int = Field(100, ge=1, le=5000)
    tol: float = Field(1e-2, gt=0, description="saga stops early at this tolerance (also regularises)")
    class_weight: Literal["none", "balanced"] = "none"
    word_ngram_max: int = Field(2, ge=1, le=3)
    word_min_df: int = Field(2, ge=1)
    word_max_features: int | None = Field(100_000, ge=1)
    char_ngrams: bool = Field(False, description="retired: only false, which hyperparameter sets written "
                              "when char n-grams were an option may still carry")
    embeddings: Literal["default", "none"] = "default"
    embedding_weight: float = Field(2.0, ge=0)
    headline_only_augment: bool = True
    calibration_fraction: float = Field(0.1, gt=0, lt=0.5)
    refit_full: bool = Field(True, description="after calibration, refit the classifier on all the data")
    seed: int = 0

    @field_validator("char_ngrams")
    @classmethod
    def _char_ngrams_removed(cls, value: bool) -> bool:
        if value:
            raise ValueError("char n-gram features were removed (measured: 3x the bundle, a point less on "
                             "v3-temporal; README, What did not work)")
        return value

    @classmethod
    def parse(cls, values: Hyperparameters | Mapping | None) -> Hyperparameters:
        """Validate user-supplied hyperparameters; raise TrainingError with a readable message."""
        if values is None:
            return cls()
        if isinstance(values, Hyperparameters):
            return values
        if not isinstance(values, Mapping):
            raise TrainingError("hyperparameters must be a JSON object")
        try:
            hp = cls.model_validate(dict(values))
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(x) for x in err.get("loc", ())) or "hyperparameters"
                if err.get("type") == "extra_forbidden":
                    problems.append(f"unknown hyperparameter {key!r}")
                else:
                    problems.append(f"{key}: {err.get('msg')}")
            known = ", ".join(cls.model_fields)
            message = "bad hyperparameters: " + "; ".join(problems) + f" (known: {known})"
            raise TrainingError(message) from None
        return hp


def decode_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameters as a training job carries them (CreateTrainingJob takes strings only, so each value is
    JSON-encoded) decoded as the sagemaker-training toolkit decodes them: a string that parses as JSON
    becomes its value, anything else stays as it is (a bare string such as none)."""
    return {key: _decoded(value) for key, value in raw.items()}


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
