"""The default training image runs the training code (issue 7, defect 1), and the job needs nothing from PyPI.

The old default, `sagemaker-scikit-learn:1.2-1-cpu-py3` in us-east-1 only, ships Python 3.9 while the project
needs >= 3.11: every SageMaker job failed in its install step. The default is now resolved per region from the
TrainingImageByRegion mapping, built from the SageMaker SDK's image catalogue. No network: the catalogue's
registries for the chosen version are a fixture, and the image versions below were read from the published
container definitions (cited per entry; the 1.9-0 image's packages in local/training_image.json).

The training pins follow that image: the job installs only what the image lacks (training/requirements.txt),
from wheels shipped in sourcedir.tar.gz, with no index.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.retraining.sourcedir import TRAINING_WHEELS, build_sourcedir
from local.template import REPO_ROOT, load_template

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
# The default image as local mode reproduces it: every package of its uv.lock (aws/deep-learning-containers
# docker/sklearn/1.9-0/uv.lock, installed by its Dockerfile's `uv sync --frozen`) and the local substitutes.
IMAGE = json.loads((REPO_ROOT / "local" / "training_image.json").read_text())
REQUIREMENTS = REPO_ROOT / "training" / "requirements.txt"
WHEELS = REPO_ROOT / TRAINING_WHEELS
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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), f"not a pin: {requirement}"
        pins[_canonical(name)] = version
    return pins


def _requirement_lines() -> tuple[list[str], dict[str, str]]:
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    options = [line for line in lines if line.startswith("-")]
    return options, _pins([line for line in lines if not line.startswith("-")])


def _project_pins(*groups: str) -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for group in groups:
        requirements = project["dependencies"] if group == "main" else project["optional-dependencies"][group]
        pins.update(_pins(requirements))
    return pins


IMAGE_PACKAGES = {_canonical(name): version for name, version in IMAGE["packages"].items()}
IMAGE_PACKAGES.update({_canonical(name): version for name, version in IMAGE["also_installed"].items()})


def test_the_described_image_is_the_templates_default_with_its_python():
    assert _tag(_training_image("eu-west-1")) == IMAGE["image"].partition(":")[2]
    assert IMAGE_PYTHON[IMAGE["image"].partition(":")[2]] == tuple(map(int, IMAGE["python"].split(".")))
    # what the earlier regression test asserted of the image, now read from the data file
    assert {name: IMAGE["packages"][name] for name in ("scikit-learn", "numpy", "scipy", "joblib")} == {
        "scikit-learn": "1.9.0",
        "numpy": "2.5.1",
        "scipy": "1.18.0",
        "joblib": "1.5.3",
    }
    assert not {"pydantic", "pydantic-core", "tqdm"} & set(IMAGE_PACKAGES)


def test_training_requirements_list_nothing_the_image_already_has():
    """Re-pinning an image package (at any version) makes the job replace the image's copy from the index,
    or fail with no index: the old numpy/scipy/scikit-learn/joblib pins did."""
    _, pins = _requirement_lines()
    assert pins, "training/requirements.txt pins nothing"
    repinned = sorted(name for name in pins if name in IMAGE_PACKAGES)
    assert not repinned, f"training/requirements.txt re-pins what the image has: {repinned}"


def test_training_requirements_never_reach_an_index():
    options, _ = _requirement_lines()
    assert options == ["--no-index", "--find-links wheels"], options


def test_training_requirements_pin_what_pyproject_pins():
    """The job runs the versions the project is tested with."""
    _, pins = _requirement_lines()
    project = _project_pins("main", "train")
    assert {name: project.get(name) for name in pins} == pins


def test_project_pins_of_what_training_runs_with_follow_the_image():
    """A pin of a package the job takes from the image equals the image's version, except the documented
    substitutes for versions the package index lacks (local/training_image.json says why, once)."""
    substitutes = {_canonical(name): entry for name, entry in IMAGE["local_substitutes"].items()}
    project = _project_pins("main", "train")
    from_the_image = {_canonical(name) for name in IMAGE["local_env"]} | (
        set(_project_pins("train")) & set(IMAGE_PACKAGES)
    )
    differing = {}
    for name in sorted(from_the_image & set(project)):
        expected = substitutes[name]["version"] if name in substitutes else IMAGE_PACKAGES[name]
        if project[name] != expected:
            differing[name] = (project[name], expected)
    assert not differing, f"pyproject pin vs image (or documented substitute): {differing}"
    for name, entry in substitutes.items():
        assert entry["version"] != IMAGE_PACKAGES[name] and len(entry["why"]) > 20, name
        assert name in {_canonical(n) for n in IMAGE["local_env"]}, f"{name}: substitute of an unused package"


def test_the_local_image_mirrors_every_image_package_the_training_extra_pins():
    local_env = {_canonical(name) for name in IMAGE["local_env"]}
    assert set(_project_pins("train")) & set(IMAGE_PACKAGES) <= local_env
    assert local_env <= set(IMAGE_PACKAGES)


def _image_can_install(wheel: str) -> bool:
    """Tags of a wheel file name against the image: CPython 3.12, manylinux x86_64 with glibc <= 2.34."""
    python_tags, abi_tag, platform_tags = wheel.removesuffix(".whl").split("-")[-3:]
    cp = "cp" + IMAGE["python"].replace(".", "")
    python_ok = any(tag in (cp, "py3", "cp3") for tag in python_tags.split("."))
    abi_ok = abi_tag in ("none", "abi3", cp)
    platform_ok = any(
        tag == "any"
        or re.fullmatch(r"manylinux(1|2010|2014)_x86_64", tag)
        or ((m := re.fullmatch(r"manylinux_2_(\d+)_x86_64", tag)) and int(m.group(1)) <= 34)
        for tag in platform_tags.split(".")
    )
    return python_ok and abi_ok and platform_ok


def test_the_shipped_wheels_cover_the_requirements_for_the_image():
    assert WHEELS.is_dir(), "training-wheels/ is missing: run `make training-wheels` (make test does)"
    _, pins = _requirement_lines()
    wheels = [path.name for path in WHEELS.glob("*.whl")]
    uncovered = [
        f"{name}=={version}"
        for name, version in pins.items()
        if not any(
            _canonical(wheel.split("-")[0]) == name
            and wheel.split("-")[1] == version
            and _image_can_install(wheel)
            for wheel in wheels
        )
    ]
    assert not uncovered, f"no wheel the image can install for {uncovered} in {wheels}"


def _dry_run(target: str, artifacts: Path) -> list[str]:
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), "-n", target, f"ARTIFACTS_DIR={artifacts}",
         "PYTHON=python3"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\\\n", " ").splitlines()


def test_the_prepare_data_package_downloads_the_wheels_for_the_image(tmp_path):
    """sam build puts the wheels into PrepareData's package, where build_sourcedir finds them; only there."""
    (line,) = [line for line in _dry_run("build-PrepareDataFunction", tmp_path) if " pip download " in line]
    words = line.replace('"', "").split()
    assert {"--only-binary=:all:", "--no-deps"} <= set(words)
    assert words[words.index("--python-version") + 1] == IMAGE["python"]
    assert words[words.index("--implementation") + 1] == "cp"
    assert [words[i + 1] for i, word in enumerate(words) if word == "--platform"] == IMAGE["platform"][
        "wheel_platforms"
    ]
    assert words[words.index("-d") + 1] == f"{tmp_path}/{TRAINING_WHEELS}"
    _, pins = _requirement_lines()
    assert _pins([word for word in words if "==" in word]) == pins
    assert not [line for line in _dry_run("build-PredictFunction", tmp_path) if " pip download " in line]


def _package_root(tmp_path: Path, wheels: list[Path]) -> Path:
    root = tmp_path / "package"
    for package in ("core", "training"):
        shutil.copytree(REPO_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / TRAINING_WHEELS).mkdir()
    for wheel in wheels:
        shutil.copy(wheel, root / TRAINING_WHEELS / wheel.name)
    return root


def test_sourcedir_ships_the_wheels_and_refuses_to_build_without_them(tmp_path):
    wheels = sorted(WHEELS.glob("*.whl"))
    payload, _ = build_sourcedir(_package_root(tmp_path / "full", wheels))
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        names = set(tar.getnames())
        shipped = tar.extractfile("requirements.txt").read().decode()
    assert {f"wheels/{wheel.name}" for wheel in wheels} <= names
    assert {"train.py", "core/fitting/training.py"} <= names
    assert shipped == REQUIREMENTS.read_text()
    pydantic_core = next(wheel for wheel in wheels if wheel.name.startswith("pydantic_core-"))
    partial = _package_root(tmp_path / "partial", [wheel for wheel in wheels if wheel != pydantic_core])
    with pytest.raises(InvalidInput, match=r"no wheel for pydantic-core==[\d.]+ in training-wheels/"):
        build_sourcedir(partial)


def test_the_makefile_finds_the_images_python_with_its_one_finder():
    data_version = IMAGE["python"]
    text = (REPO_ROOT / "Makefile").read_text()
    assert f"TRAINING_PYTHON_VERSION := {data_version}\n" in text
    assert "PYTHON_TRAINING ?= $(call find_python,$(TRAINING_PYTHON_VERSION))" in text
    assert "PYTHON_LAMBDA ?= $(call find_python,$(LAMBDA_PYTHON_VERSION))" in text
