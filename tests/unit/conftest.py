"""Fixtures for unit tests: moto resources created from template.yaml, tiny trained models, API events."""

from __future__ import annotations

import copy
import functools
import importlib
import json
import random
import sys
from pathlib import Path

import pytest
from moto import mock_aws

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests.*` helpers importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from local.iam.enforcement import access_control
from tests.lambda_in_process import LambdaContext, overlaid_environ
from tests.template_resources import REGION, REPO_ROOT, Stack, create_stack

EVENTS_DIR = REPO_ROOT / "events"
CATEGORIES = {
    "POLITICS": "senate vote election congress president law bill campaign governor policy",
    "SPORTS": "team game season coach player championship score league match win",
    "FOOD & DRINK": "recipe dinner pasta cook kitchen chef flavor bake restaurant taste",
    "SCIENCE": "planet telescope study researchers cells physics species climate space lab",
}
FILLER = "the a new after for with in on about how why this".split()
FAST_HYPERPARAMETERS = {"embeddings": "none", "char_ngrams": False, "max_iter": 100}


def make_records(per_class: int, seed: int, label_noise: float = 0.0) -> list[dict]:
    """Synthetic headlines: three category words + three filler words; `label_noise` relabels at random."""
    rng = random.Random(seed)
    names = sorted(CATEGORIES)
    records = []
    for category in names:
        words = CATEGORIES[category].split()
        for index in range(per_class):
            tokens = rng.sample(words, 3) + rng.sample(FILLER, 3)
            rng.shuffle(tokens)
            label = rng.choice(names) if rng.random() < label_noise else category
            records.append(
                {
                    "headline": f"{' '.join(tokens)} {seed}-{index}",
                    "category": label,
                    "short_description": "",
                    "authors": "",
                }
            )
    return records


def train_model(records: list[dict], out_dir: Path) -> Path:
    from core.data.dataset import NewsRecord
    from core.fitting.training import train_to_dir

    train_to_dir([NewsRecord(**record) for record in records], out_dir, hyperparameters=FAST_HYPERPARAMETERS)
    return out_dir


@pytest.fixture(scope="session")
def good_model_dir(tmp_path_factory) -> Path:
    return train_model(make_records(40, seed=1), tmp_path_factory.mktemp("good-model"))


@pytest.fixture(scope="session")
def weak_model_dir(tmp_path_factory) -> Path:
    return train_model(make_records(40, seed=2, label_noise=0.9), tmp_path_factory.mktemp("weak-model"))


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and Powertools settings for code that runs against moto."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "MLNews",
        "POWERTOOLS_SERVICE_NAME": "ml-news-pipeline",
        "MODEL_CACHE_DIR": str(tmp_path / "models"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return values


def reset_process_state() -> None:
    from core.aws_clients import reset_clients
    from core.feedback.prediction_ids import signing_key_cache
    from core.settings import reset_settings

    reset_settings()
    reset_clients()
    signing_key_cache.clear()


class AwsStack:
    """The created stack plus helpers to switch to one function's environment."""

    def __init__(self, stack: Stack, monkeypatch, base_env: dict):
        self.stack = stack
        self._monkeypatch = monkeypatch
        self._base_env = base_env

    def name(self, logical_id: str) -> str:
        return self.stack.attributes[logical_id]["Ref"]

    def use_function_env(self, logical_id: str, **extra: str) -> dict:
        """Exactly the environment the template gives `logical_id` (plus `extra`), as in Lambda; while its
        handler runs, AWS calls are made with the function's role and authorized against it (local/iam)."""
        environment = self.stack.function_environment(logical_id)
        environment.update({key: str(value) for key, value in extra.items()})
        for name, value in environment.items():
            self._monkeypatch.setenv(name, value)
        self._monkeypatch.setenv("MODEL_CACHE_DIR", self._base_env["MODEL_CACHE_DIR"])
        reset_process_state()
        module_name, _, attribute = self.stack.properties(logical_id)["Handler"].rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, attribute)
        handler = getattr(handler, "runs_as_role_of", handler)  # the original, if wrapped before
        self._monkeypatch.setattr(module, attribute, self._as_role(logical_id, handler))
        return environment

    def _as_role(self, logical_id: str, handler):
        role = self.stack.role_arns[logical_id]
        credentials = access_control.credentials(role, f"mlnews-test-{logical_id}")

        @functools.wraps(handler)
        def run(event, context):
            with overlaid_environ(credentials):  # clients made inside carry the function's credentials
                return handler(event, context)

        run.runs_as_role_of = handler
        return run


@pytest.fixture
def aws_from(aws_env, monkeypatch):
    """aws_from(template=None): the stack of template.yaml, or of a changed copy of it, in moto."""
    with mock_aws():

        def build(template: dict | None = None) -> AwsStack:
            reset_process_state()
            stack = create_stack(template=template)
            # Default: every function's variables, so core code can be called directly.
            for logical in stack.logical_ids("AWS::Serverless::Function"):
                for name, value in stack.function_environment(logical).items():
                    monkeypatch.setenv(name, value)
            monkeypatch.setenv("MODEL_CACHE_DIR", aws_env["MODEL_CACHE_DIR"])
            reset_process_state()
            return AwsStack(stack, monkeypatch, aws_env)

        yield build
    reset_process_state()


@pytest.fixture
def aws(aws_from):
    return aws_from()


@pytest.fixture
def registry(aws):
    from core.registry.versions import ModelRegistry

    return ModelRegistry()


@pytest.fixture
def active_model(registry, good_model_dir) -> dict:
    """The good model registered as v0001 and deployed."""
    item = registry.register_model_dir(good_model_dir)
    registry.activate(item["version"], reason="test setup")
    return registry.require(item["version"])


def api_event(
    name: str,
    body=None,
    path_parameters: dict | None = None,
    headers: dict | None = None,
    raw_body: str | None = None,
) -> dict:
    """A sample API Gateway event from events/ with the body (and path parameters) replaced."""
    event = copy.deepcopy(json.loads((EVENTS_DIR / name).read_text()))
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
        path = event["resource"]
        for key, value in path_parameters.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if headers:
        event["headers"].update(headers)
        event["multiValueHeaders"].update({key: [value] for key, value in headers.items()})
    return event


def call(handler_module, event) -> tuple[int, dict, dict]:
    """Invoke a handler's lambda_handler; returns (status, json body, headers)."""
    response = handler_module.lambda_handler(event, LambdaContext())
    headers = dict(response.get("headers") or {})
    headers.update({name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], json.loads(response["body"] or "null"), headers


@pytest.fixture
def load_event():
    def load(name: str) -> dict:
        return json.loads((EVENTS_DIR / name).read_text())

    return load
