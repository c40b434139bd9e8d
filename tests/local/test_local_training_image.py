"""The training image on this machine (local/training_image.py): built from its description, rebuilt when that
changes, and where the image's Python is missing, one message and a fallback (never in the tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from local import training_image
from local.template import REPO_ROOT


@pytest.fixture
def fresh(monkeypatch):
    """ensure() with nothing resolved yet, no message said yet, and the fallback allowed (local mode's)."""
    training_image.reset()
    monkeypatch.setattr(training_image, "_said", set())
    monkeypatch.setattr(training_image, "allow_fallback", True)
    yield
    training_image.reset()


def test_without_the_images_python_local_mode_says_so_once_and_runs_jobs_here(fresh, monkeypatch, capfd):
    monkeypatch.setattr(training_image, "wheels_current", lambda: True)
    monkeypatch.setattr(training_image, "env_current", lambda: False)
    monkeypatch.setattr(training_image, "find_image_python", lambda: None)
    first, again = training_image.ensure(), training_image.ensure()
    assert first == again and not first.image and first.executable == sys.executable
    err = capfd.readouterr().err
    assert err.count("local mode:") == 1, err
    assert "Python 3.12 (the training image's) was not found, so training jobs run on this interpreter" in err
    assert "make training-image" in err and "Traceback" not in err


def test_the_tests_never_fall_back(fresh, monkeypatch):
    monkeypatch.setattr(training_image, "allow_fallback", False)
    monkeypatch.setattr(training_image, "wheels_current", lambda: True)
    monkeypatch.setattr(training_image, "env_current", lambda: False)
    monkeypatch.setattr(training_image, "find_image_python", lambda: None)
    with pytest.raises(training_image.ImageError, match=r"Python 3\.12 .*was not found.*make training-image"):
        training_image.ensure()


def test_the_image_environment_is_rebuilt_when_its_description_changes(monkeypatch, tmp_path):
    data = tmp_path / "training_image.json"
    shutil.copy(training_image.DATA_FILE, data)
    monkeypatch.setattr(training_image, "DATA_FILE", data)
    env = tmp_path / "env"
    training_image.env_python(env).parent.mkdir(parents=True)
    training_image.env_python(env).touch()
    assert not training_image.env_current(env)  # never built
    (env / training_image.STAMP).write_text(training_image._digest(data) + "\n")
    assert training_image.env_current(env)
    description = json.loads(data.read_text())
    description["packages"]["scikit-learn"] = "1.9.1"
    data.write_text(json.dumps(description))
    assert not training_image.env_current(env)


def test_a_python_of_another_version_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(training_image, "python_version", lambda python: "3.11.7")
    refused = r"Python 3\.11\.7; the training image has Python 3\.12"
    with pytest.raises(training_image.ImageError, match=refused):
        training_image.build_env("/somewhere/python3.11", tmp_path / "env")
    assert not (tmp_path / "env").exists()


def test_the_makefile_finds_the_images_python():
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "training-python"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    python = done.stdout.strip()
    assert python, "no Python 3.12 on this machine: make test needs it (pyenv install 3.12)"
    assert training_image.python_version(python).startswith("3.12.")


def test_the_built_image_environment_has_the_described_python_and_versions():
    python = training_image.env_python()
    assert training_image.env_current(), "the local training image is missing or stale: `make training-image`"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    installed = {training_image.canonical(i["name"]): i["version"] for i in json.loads(listed.stdout)}
    assert installed == {training_image.canonical(n): v for n, v in training_image.local_pins().items()}
    assert training_image.python_version(str(python)).startswith(training_image.load()["python"] + ".")
