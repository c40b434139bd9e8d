"""Fixtures of the moto-backed tier: the template deployed in moto by local mode's deployer, tiny trained
models, sample events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto import mock_aws

from local.in_process_lambda import InProcessLambda
from tests.support.api_events import EVENTS_DIR
from tests.support.aws_stack import AwsStack, deploy_stack, reset_process_state
from tests.support.handler_calls import REGION
from tests.support.records import make_records, train_model


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


@pytest.fixture
def aws_from(aws_env, monkeypatch, tmp_path):
    """aws_from(template=None): the stack of template.yaml, or of a changed copy of it, deployed in moto; its
    functions, when invoked through moto, run in-process (each with its own /tmp under tmp_path)."""
    lambdas = InProcessLambda(tmp_root=tmp_path / "lambda-tmp")
    with mock_aws(), lambdas.installed():

        def build(template: dict | None = None) -> AwsStack:
            reset_process_state()
            stack = deploy_stack(lambdas, template=template)
            # Default: every function's variables, so core code can be called directly.
            for logical in stack.deployment.functions:
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


@pytest.fixture
def load_event():
    def load(name: str) -> dict:
        return json.loads((EVENTS_DIR / name).read_text())

    return load
