"""The model card document: one JSON object per model version (card.json), beside its pictures.

Every part but the identity is optional, because each comes from a different step (docs/model-card.md): the
training job writes the data counts, the validation figures, the golden-set part, the pictures and the serving
cost; the Evaluate step adds the data sources, its own golden-set part, the comparison with the active model
and the gate's decision; a version registered by hand has what its model directory holds. `missing` says what
a card lacks and how to get it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, computed_field

CARD_FILE = "card.json"
FORMAT_VERSION = 1
Source = Literal["training", "manual", "model directory"]


class _Part(BaseModel):
    # A reader of stored cards: one written by newer code may carry more.
    model_config = ConfigDict(extra="ignore")


class Metrics(_Part):
    n: int
    accuracy: float | None = None
    macro_f1: float | None = None
    top3_accuracy: float | None = None
    ece: float | None = None


class ClassMetrics(_Part):
    precision: float
    recall: float
    f1: float
    support: int


class Confusion(_Part):
    """Counts of true (rows) x predicted (columns), over `labels`."""

    labels: list[str]
    matrix: list[list[int]]


class ReliabilityBin(_Part):
    """Top-class confidence in (lower, upper]: how many predictions, their mean confidence and accuracy."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


class ConfusionExample(_Part):
    headline: str
    confidence: float


class TopConfusion(_Part):
    true: str
    predicted: str
    count: int
    examples: list[ConfusionExample] = []


class GoldenSection(Metrics):
    """The model on the golden holdout: scored by the training job, then by the Evaluate step (the figures the
    gate used), or by `mlnews card --golden`."""

    scored_by: str
    data_fingerprint: str
    per_class: dict[str, ClassMetrics]
    confusion: Confusion
    reliability: list[ReliabilityBin]
    top_confusions: list[TopConfusion]


class DataSummary(_Part):
    sources: list[str] = []
    n_records: int | None = None
    categories: dict[str, int] = {}
    n_feedback: int | None = None  # verified feedback among the records
    feedback_share: float | None = None
    fingerprint: str | None = None  # core.model.manifest.data_fingerprint of the training records
    n_golden: int | None = None


class Latency(_Part):
    """One headline at a time through the serving path (predict with top-3 and explanation)."""

    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float


class ServingCost(_Part):
    bundle_bytes: int
    bundle_files: dict[str, int]
    load_seconds: float | None = None
    latency: Latency | None = None
    measured_in: str


class ClassChange(_Part):
    category: str
    candidate_f1: float
    active_f1: float
    change: float


class Comparison(_Part):
    """The candidate and the active model on the same records (active None: nothing was deployed)."""

    active_version: str | None
    golden_n: int
    candidate: Metrics
    active: Metrics | None
    feedback_n: int = 0
    feedback_candidate: Metrics | None = None
    feedback_active: Metrics | None = None
    class_changes: list[ClassChange] = []  # largest F1 drops first


class Decision(_Part):
    promote: bool
    reasons: list[str]
    checks: dict[str, JsonValue] = {}
    decided_at: str | None = None


class Plot(_Part):
    file: str = Field(pattern=r"^[a-z0-9_]+\.png$")  # a name beside card.json, never a path
    title: str
    made_by: str
    data_fingerprint: str  # of the golden records it was drawn from


class ModelCard(_Part):
    format_version: int = FORMAT_VERSION
    version: str | None = None  # the registry's (v0007); None for a model directory
    bundle_version: str | None = None
    sha256: str | None = None
    status: str | None = None  # the registry's status when the card was read
    source: Source
    training_job: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    classes: list[str] = []
    text_fields: list[str] = []
    hyperparameters: dict[str, JsonValue] = {}
    data: DataSummary | None = None
    validation: dict[str, float | int | None] | None = None  # the held-out slice training measured
    golden: GoldenSection | None = None
    serving_cost: ServingCost | None = None
    comparison: Comparison | None = None
    decision: Decision | None = None
    plots: dict[str, Plot] = Field(default_factory=dict)

    @computed_field
    @property
    def missing(self) -> list[str]:
        """What this card lacks, each with why and how to get it."""
        out = []
        by_hand = self.source != "training"
        if self.data is None:
            out.append("data summary: the model directory has no manifest")
        elif not self.data.sources:
            out.append("data sources: not recorded (only the pipeline's PrepareData step knows them)")
        if self.data is not None and self.data.feedback_share is None:
            out.append("feedback share: not recorded (only the pipeline's PrepareData step knows it)")
        if self.golden is None:
            out.append(
                "golden-set metrics: not scored"
                + (" (registered by hand; `mlnews card MODEL_DIR --golden FILE` scores a model directory)"
                   if by_hand else "")
            )
        names = {"confusion_matrix", "reliability"}
        if self.golden is not None and not names <= set(self.plots):
            out.append(
                "pictures: not drawn (the plotting library is in the training job and the CLI only; "
                "`mlnews card VERSION --html card.html` draws them from these numbers)"
            )
        if self.serving_cost is None:
            out.append("serving cost: not measured")
        elif self.serving_cost.latency is None:
            out.append("measured latency: not measured (`mlnews card MODEL_DIR --golden FILE` times the "
                       "headlines of FILE)")
        if self.decision is None and self.source != "model directory":
            out.append("the gate's decision: none (only versions trained by the pipeline pass the gate)")
        return out
