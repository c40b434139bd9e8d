"""The default training image runs the training code (issue 7, defect 1).

The old default, `sagemaker-scikit-learn:1.2-1-cpu-py3` in us-east-1 only, ships Python 3.9 while the project
needs >= 3.11: every SageMaker job failed in its install step. The default is now resolved per region from the
TrainingImageByRegion mapping, built from the SageMaker SDK's image catalogue. No network: the catalogue's
registries for the chosen version are a fixture, and the image versions below were read from the published
container definitions (cited per entry).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.template_resources import REPO_ROOT, load_template

TEMPLATE = load_template()
CATALOGUE = json.loads((Path(__file__).parent / "fixtures" / "sagemaker_sklearn_registries.json").read_text())

# Python of SageMaker scikit-learn framework image tags, read from their container definitions:
# - 1.9-0: aws/deep-learning-containers docker/sklearn/1.9-0/Dockerfile (`ARG PYTHON_VERSION=3.12`,
#   amazonlinux:2023) and its pyproject.toml (`requires-python = ">=3.12,<3.13"`).
# - 1.4-2-py312: aws/sagemaker-scikit-learn-container docker/1.4-2-py312/base/Dockerfile.cpu
#   (`ARG PYTHON_VERSION=3.12`).
# - 1.2-1: aws/sagemaker-scikit-learn-container docker/1.2-1/base/Dockerfile.cpu at c59fb77
#   (`ARG PYTHON_VERSION=3.9`): the old default.
IMAGE_PYTHON = {
    "1.9-0-cpu-py3": (3, 12),
    "1.4-2-py312-cpu-py3": (3, 12),
    "1.2-1-cpu-py3": (3, 9),
}
# What the 1.9-0 image already has in /opt/venv: aws/deep-learning-containers docker/sklearn/1.9-0/uv.lock
# (installed with `uv sync --frozen` by its Dockerfile). It has no pydantic and no tqdm.
IMAGE_1_9_0_PACKAGES = {
    "numpy": "2.5.1",
    "scipy": "1.18.0",
    "scikit-learn": "1.9.0",
    "joblib": "1.5.3",
    "threadpoolctl": "3.6.0",
}
# Features core/ uses and the Python that first has them.
CORE_FEATURES = {
    r"^from typing import [^\n]*\bSelf\b": (3, 11),
    r"\bdatetime\.UTC\b|^from datetime import [^\n]*\bUTC\b": (3, 11),
    r"^import tomllib\b": (3, 11),
}


def _required_python() -> tuple[int, int]:
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major, minor = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec.strip()).groups()
    needed = (int(major), int(minor))
    for path in (REPO_ROOT / "core").rglob("*.py"):
        text = path.read_text()
        for pattern, version in CORE_FEATURES.items():
            if re.search(pattern, text, re.MULTILINE):
                needed = max(needed, version)
    return needed


def _resolve(node, region: str, parameters: dict[str, str]):
    """Just enough of CloudFormation to evaluate the TrainingImage substitution."""
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return {"AWS::Region": region, "AWS::URLSuffix": "amazonaws.com"}.get(arg, parameters.get(arg))
        if fn == "Fn::If":
            name, then, otherwise = arg
            condition = TEMPLATE["Conditions"][name]
            return _resolve(
                then if _resolve(condition, region, parameters) else otherwise, region, parameters
            )
        if fn == "Fn::Equals":
            left, right = (_resolve(value, region, parameters) for value in arg)
            return left == right
        if fn == "Fn::FindInMap":
            mapping, first, second = (_resolve(value, region, parameters) for value in arg)
            return TEMPLATE["Mappings"][mapping][first][second]
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            values = {key: _resolve(value, region, parameters) for key, value in variables.items()}
            return re.sub(
                r"\$\{([\w:]+)\}",
                lambda m: values.get(m.group(1)) or _resolve({"Ref": m.group(1)}, region, parameters),
                text,
            )
    return node


def _training_image(region: str, parameters: dict[str, str] | None = None) -> str:
    defaults = {name: str(spec.get("Default", "")) for name, spec in TEMPLATE["Parameters"].items()}
    machine = TEMPLATE["Resources"]["RetrainingStateMachine"]["Properties"]
    expression = machine["DefinitionSubstitutions"]["TrainingImage"]
    return _resolve(expression, region, {**defaults, **(parameters or {})})


def _tag(image: str) -> str:
    repository, _, tag = image.rpartition("/")[2].partition(":")
    assert repository == "sagemaker-scikit-learn" and tag, image
    return tag


def test_the_mapping_has_every_region_of_the_catalogue_with_its_registry():
    mapping = TEMPLATE["Mappings"]["TrainingImageByRegion"]
    assert {region: row["Account"] for region, row in mapping.items()} == CATALOGUE["registries"]
    assert CATALOGUE["repository"] == "sagemaker-scikit-learn"


@pytest.mark.parametrize("region", sorted(CATALOGUE["registries"]))
def test_default_image_of_every_region_runs_the_training_code(region):
    image = _training_image(region)
    account = CATALOGUE["registries"][region]
    assert image.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com/"), image
    tag = _tag(image)
    assert tag in IMAGE_PYTHON, f"{tag}: no verified Python version for this image"
    assert IMAGE_PYTHON[tag] >= _required_python(), f"{image} has Python {IMAGE_PYTHON[tag]}"


def test_the_parameter_default_is_empty_or_an_image_that_runs_the_code():
    """The old default (a fixed us-east-1 URI of 1.2-1, Python 3.9) fails here."""
    default = str(TEMPLATE["Parameters"]["TrainingImage"].get("Default", ""))
    if default:
        tag = _tag(default)
        assert IMAGE_PYTHON.get(tag, (0, 0)) >= _required_python(), f"default {default}"


def test_an_explicit_training_image_is_used_as_given():
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/custom:latest"
    assert _training_image("eu-west-1", {"TrainingImage": image}) == image


def test_required_python_covers_what_core_uses():
    assert _required_python() >= (3, 11)


@pytest.mark.xfail(
    strict=True,
    reason="follow-up (issue 7): the project pins numpy 2.4.6 / scipy 1.17.1 / scikit-learn 1.9.1 / "
    "joblib 1.6.0, the 1.9-0 image has 2.5.1 / 1.18.0 / 1.9.0 / 1.5.3, so the job reinstalls them from PyPI",
)
def test_training_requirements_pin_what_the_image_already_has():
    pins = dict(
        line.strip().split("==", 1)
        for line in (REPO_ROOT / "training" / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    assert {name: pins.get(name) for name in IMAGE_1_9_0_PACKAGES if name in pins} == {
        name: version for name, version in IMAGE_1_9_0_PACKAGES.items() if name in pins
    }
