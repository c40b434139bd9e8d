"""The retraining step contracts (core.retraining.steps) against statemachines/retraining.asl.json, the sample
events and the template's schedule: a field renamed, added or dropped on either side fails here."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, TypeAdapter, ValidationError

from core.retraining.steps import (
    CandidateEvaluation,
    Deployed,
    DeployStep,
    EvaluateCandidateStep,
    EvaluateModelEvent,
    ExecutionInput,
    Failed,
    OutcomeStep,
    PrepareDataStep,
    PreparedData,
    RecordFailureStep,
    Rejected,
    RejectStep,
    RetrainingState,
    ScheduledCheck,
    StepError,
    TrainingResult,
)
from local.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((REPO_ROOT / "statemachines" / "retraining.asl.json").read_text())
STATES = ASL["States"]

# Each Lambda state: the model of what its Parameters build, the model of what it puts at its ResultPath.
LAMBDA_STEPS = {
    "PrepareData": (PrepareDataStep, PreparedData),
    "Evaluate": (EvaluateCandidateStep, CandidateEvaluation),
    "Deploy": (DeployStep, Deployed),
    "Reject": (RejectStep, Rejected),
    "RecordFailure": (RecordFailureStep, Failed),
}
SERVICE_STEPS = {"Train": TrainingResult}  # service integrations: their ResultSelector is the model
CONTEXT_PATHS = {"$$.Execution.Name": str}  # the context object paths the steps may read

SAMPLE_EVENTS = {
    "sfn_execution_input.json": ExecutionInput,
    "sfn_prepare_data.json": PrepareDataStep,
    "sfn_evaluate_candidate.json": EvaluateModelEvent,
    "evaluate_version.json": EvaluateModelEvent,
    "sfn_record_outcome_deploy.json": OutcomeStep,
    "sfn_record_outcome_reject.json": OutcomeStep,
    "sfn_record_outcome_failure.json": OutcomeStep,
}


def _without_none(annotation):
    """`X | None` -> X; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _members(annotation) -> set:
    """The models a (possibly annotated, possibly optional) union of models admits."""
    annotation = _without_none(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {member for arg in typing.get_args(annotation) for member in _members(arg)}
    return {annotation}


def _field(model: type[BaseModel], name: str):
    for field_name, field in model.model_fields.items():
        if name in (field_name, field.alias):
            return field
    raise AssertionError(f"{model.__name__} has no field {name!r}")


def resolve(path: str):
    """The type a `$.a.b` path of the execution state has, following RetrainingState's fields."""
    if path in CONTEXT_PATHS:
        return CONTEXT_PATHS[path]
    assert path.startswith("$."), f"{path}: not a path into the state"
    annotation = RetrainingState
    for part in path[2:].split("."):
        (model,) = _members(annotation)
        assert isinstance(model, type) and issubclass(model, BaseModel), f"{path}: {part} is not in a model"
        annotation = _field(model, part).annotation
    return annotation


def dynamic_paths(value) -> list[tuple[str, str]]:
    """(key, path) of every `key.$` inside a Parameters/ResultSelector value, at any depth."""
    if isinstance(value, dict):
        return [
            pair
            for key, item in value.items()
            for pair in ([(key[:-2], item)] if key.endswith(".$") else dynamic_paths(item))
        ]
    if isinstance(value, list):
        return [pair for item in value for pair in dynamic_paths(item)]
    return []


def test_every_task_state_has_its_contract():
    tasks = {name for name, state in STATES.items() if state["Type"] == "Task"}
    assert tasks == set(LAMBDA_STEPS) | set(SERVICE_STEPS)


@pytest.mark.parametrize("name", sorted(LAMBDA_STEPS))
def test_lambda_step_parameters_are_exactly_its_input_model(name):
    step_model, _ = LAMBDA_STEPS[name]
    parameters = STATES[name]["Parameters"]
    given = {key.removesuffix(".$") for key in parameters}
    assert given == set(step_model.model_fields), f"{name}: Parameters and {step_model.__name__} differ"
    for key, value in parameters.items():
        field = step_model.model_fields[key.removesuffix(".$")]
        if key.endswith(".$"):
            assert _without_none(resolve(value)) == _without_none(field.annotation), f"{name}.{key}: {value}"
        else:  # a constant of the ASL, e.g. the action
            assert TypeAdapter(field.annotation).validate_python(value) == value, f"{name}.{key}"


@pytest.mark.parametrize("name", sorted(LAMBDA_STEPS) + sorted(SERVICE_STEPS))
def test_each_step_result_lands_where_the_state_declares_it(name):
    state = STATES[name]
    result_model = LAMBDA_STEPS[name][1] if name in LAMBDA_STEPS else SERVICE_STEPS[name]
    assert result_model in _members(resolve(state["ResultPath"])), name
    for catch in state.get("Catch", []):
        assert _members(resolve(catch["ResultPath"])) == {StepError}, f"{name}: {catch['ResultPath']}"


def test_train_reads_prepared_data_and_selects_the_training_result():
    train = STATES["Train"]
    for _, path in dynamic_paths(train["Parameters"]):
        resolve(path)  # every value the training job is created from exists in the state
    selected = {key.removesuffix(".$") for key in train["ResultSelector"]}
    assert selected == {field.alias for field in TrainingResult.model_fields.values()}


def test_the_promotion_gate_reads_a_boolean_of_the_evaluation():
    for choice in STATES["PromotionGate"]["Choices"]:
        assert "BooleanEquals" in choice and resolve(choice["Variable"]) is bool


def test_every_result_field_of_the_state_is_a_result_path_of_the_asl():
    targets = {
        path.removeprefix("$.")
        for state in STATES.values()
        for path in [state.get("ResultPath"), *(catch["ResultPath"] for catch in state.get("Catch", []))]
        if path
    }
    declared = set(RetrainingState.model_fields) - set(ExecutionInput.model_fields)
    assert declared == targets


@pytest.mark.parametrize("name", sorted(SAMPLE_EVENTS))
def test_sample_events_are_valid_payloads_and_say_everything(name):
    event = json.loads((REPO_ROOT / "events" / name).read_text())
    parsed = parse(event=event, model=SAMPLE_EVENTS[name])
    assert parsed.model_dump(mode="json", by_alias=True) == event


def test_the_schedule_input_is_a_scheduled_check():
    functions = load_template()["Resources"]
    schedule = functions["RetrainCheckFunction"]["Properties"]["Events"]["Schedule"]["Properties"]
    check = parse(event=json.loads(schedule["Input"]), model=ScheduledCheck)
    assert (check.trigger, check.force) == ("schedule", False)


# ------------------------------------------------------------ bad input: a validation error names the field
def _sample(name: str) -> dict:
    return json.loads((REPO_ROOT / "events" / name).read_text())


def test_a_missing_nested_field_is_named():
    event = _sample("sfn_evaluate_candidate.json")
    del event["prepared"]["golden_uri"]
    with pytest.raises(ValidationError, match=r"evaluate_candidate\.prepared\.golden_uri\n  Field required"):
        parse(event=event, model=EvaluateModelEvent)


def test_a_wrong_type_is_named():
    event = {**_sample("sfn_prepare_data.json"), "include_feedback": "sometimes"}
    with pytest.raises(ValidationError, match=r"include_feedback\n  Input should be a valid boolean"):
        parse(event=event, model=PrepareDataStep)


def test_an_unknown_key_is_named():
    event = {**_sample("sfn_record_outcome_failure.json"), "retries": 2}
    with pytest.raises(ValidationError, match=r"failure\.retries\n  Extra inputs are not permitted"):
        parse(event=event, model=OutcomeStep)


def test_an_unknown_action_is_named():
    with pytest.raises(ValidationError, match="unknown outcome action: expected deploy, reject or failure"):
        parse(event={**_sample("sfn_record_outcome_deploy.json"), "action": "celebrate"}, model=OutcomeStep)
    expected = "unknown action: expected evaluate_candidate or evaluate_version"
    with pytest.raises(ValidationError, match=expected):
        parse(event={"version": "v0001"}, model=EvaluateModelEvent)


def test_a_failure_without_details_is_still_recorded():
    step = parse(event={"execution_name": "x", "action": "failure", "error": {}}, model=OutcomeStep)
    assert (step.error.error, step.error.cause) == ("unknown", "")
