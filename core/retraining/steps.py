"""The retraining functions' invocation contracts: the state machine's steps, the asynchronous evaluation run
and the schedule's retrain check.

statemachines/retraining.asl.json builds the execution state (the input, then each step's ResultPath) and
hands every Lambda step its Parameters; these models are that layout's one declaration in Python. They live
in core, not beside the handlers, because core builds some of them (the execution input, the steps' results)
and core never imports handlers. Handlers parse their event with them (Powertools' parser) and call core with
typed values; tests/unit/test_steps.py fails when the ASL and these models drift apart. Bad input fails with
a pydantic ValidationError naming the field, which the state machine's Catch records like any other failure.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag


class _Contract(BaseModel):
    # Both ends of every payload are ours: an unknown key is a drifted ASL or a typo, not something to ignore.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


# ---------------------------------------------------------------- the execution state, step by step
class ExecutionInput(_Contract):
    """What executions.start_retraining starts an execution with."""

    correlation_id: str
    trigger: str
    include_feedback: bool
    hyperparameters: dict[str, JsonValue]  # the user's, JSON-encoded into the training job's by PrepareData
    reasons: list[str] = []  # informational, like requested_at
    requested_at: str | None = None


class DataSummary(_Contract):
    base_dataset: str
    base_dataset_version: str
    n_train: int
    n_golden: int
    n_feedback_train: int
    n_feedback_golden: int
    n_feedback_unknown_category: int
    feedback_total: int
    categories: dict[str, int]


class PreparedData(_Contract):
    """PrepareData's result ($.prepared): the Train step's request is built from it."""

    training_job_name: str
    train_uri: str
    golden_uri: str
    sourcedir_uri: str
    code_sha256: str
    hyperparameters: dict[str, str]  # SageMaker's HyperParameters: every value JSON-encoded
    max_runtime_seconds: int
    max_wait_seconds: int
    data_summary: DataSummary


class TrainingResult(_Contract):
    """The Train step's ResultSelector ($.training): the finished SageMaker training job."""

    training_job_name: str = Field(alias="TrainingJobName")
    training_job_status: str = Field(alias="TrainingJobStatus")
    s3_model_artifacts: str = Field(alias="S3ModelArtifacts")


MetricSummary = dict[str, int | float | None]


class ScoredPair(_Contract):
    """Candidate and active model scored on the same records (active is None when nothing is deployed)."""

    n: int
    candidate: MetricSummary
    active: MetricSummary | None


class PromotionDecision(_Contract):
    promote: bool
    reasons: list[str]
    checks: dict[str, JsonValue] = {}


class CandidateEvaluation(_Contract):
    """Evaluate's result ($.evaluation): the PromotionGate reads decision.promote."""

    candidate_version: str
    active_version: str | None
    active_revision: int  # of the active pointer when evaluated: Deploy refuses if it moved since
    golden: ScoredPair
    feedback: ScoredPair
    decision: PromotionDecision
    evaluated_at: str


class StepError(_Contract):
    """What a Catch puts at its ResultPath ($.error): Step Functions' error name and cause."""

    error: str = Field("unknown", alias="Error")
    cause: str = Field("", alias="Cause")


class Deployed(_Contract):
    status: Literal["deployed"] = "deployed"
    version: str
    previous_version: str | None
    revision: int
    reasons: list[str]


class Rejected(_Contract):
    status: Literal["rejected"] = "rejected"
    version: str
    reasons: list[str]


class Failed(_Contract):
    status: Literal["failed"] = "failed"
    error: str
    cause: str


Outcome = Annotated[Deployed | Rejected | Failed, Field(discriminator="status")]


class RetrainingState(ExecutionInput):
    """The execution's state as the ASL's ResultPaths build it; also what a succeeded execution outputs."""

    model_config = ConfigDict(extra="ignore")  # a reader: an execution started by hand may carry more

    prepared: PreparedData | None = None
    training: TrainingResult | None = None
    evaluation: CandidateEvaluation | None = None
    outcome: Outcome | None = None
    error: StepError | None = None
    record_failure_error: StepError | None = None


# ---------------------------------------------------------------- what each Lambda step receives (Parameters)
class _Step(_Contract):
    execution_name: str  # $$.Execution.Name: the job id of the API's train routes
    correlation_id: str | None = None


class PrepareDataStep(_Step):
    trigger: str
    include_feedback: bool
    hyperparameters: dict[str, JsonValue]


class EvaluateCandidateStep(_Step):
    action: Literal["evaluate_candidate"] = "evaluate_candidate"
    prepared: PreparedData
    training: TrainingResult


class DeployStep(_Step):
    action: Literal["deploy"] = "deploy"
    evaluation: CandidateEvaluation


class RejectStep(_Step):
    action: Literal["reject"] = "reject"
    evaluation: CandidateEvaluation


class RecordFailureStep(_Step):
    action: Literal["failure"] = "failure"
    error: StepError


# ---------------------------------------------------------------- the other invocations
class EvaluateVersionRequest(_Contract):
    """The admin API's asynchronous evaluation run (evaluations.request_evaluation invokes with it)."""

    action: Literal["evaluate_version"] = "evaluate_version"
    evaluation_id: str
    version: str
    feedback_days: int | None = Field(None, ge=1)
    correlation_id: str | None = None
    created_at: str | None = None  # when it was requested: the record keeps it through the run


class ScheduledCheck(BaseModel):
    """The retrain check's event: the schedule's Input in template.yaml, or a hand-made invocation. Other
    keys are ignored: a schedule without an Input sends EventBridge's own envelope."""

    trigger: str = "schedule"
    force: bool = False


def _action(payload: Any) -> Any:
    return payload.get("action") if isinstance(payload, dict) else getattr(payload, "action", None)


# One function serves several actions: tell them apart by `action`, and name it when it is none of them.
EvaluateModelEvent = Annotated[
    Annotated[EvaluateCandidateStep, Tag("evaluate_candidate")]
    | Annotated[EvaluateVersionRequest, Tag("evaluate_version")],
    Discriminator(
        _action,
        custom_error_type="unknown_action",
        custom_error_message="unknown action: expected evaluate_candidate or evaluate_version",
    ),
]

OutcomeStep = Annotated[
    Annotated[DeployStep, Tag("deploy")]
    | Annotated[RejectStep, Tag("reject")]
    | Annotated[RecordFailureStep, Tag("failure")],
    Discriminator(
        _action,
        custom_error_type="unknown_action",
        custom_error_message="unknown outcome action: expected deploy, reject or failure",
    ),
]
