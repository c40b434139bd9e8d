"""Serving never imports scikit-learn or matplotlib: every module the Lambda functions can load imports with
scikit-learn, scipy, joblib and matplotlib blocked, and a failure names the module (and line) that pulled one
in; the Lambda packages hold no matplotlib.

The serving side is every handler and every module of core/ except core/fitting/, the scikit-learn training
code by design, and core/plotting/, the model card's pictures (the SageMaker job, the CLI and the tests use
them). A new module is covered when it is added.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_ONLY = ("core.fitting", "core.plotting")  # scikit-learn, matplotlib by design
BLOCKED = ("sklearn", "scipy", "joblib", "matplotlib")
# Stand-ins for every resource a function can be given: handlers check theirs at import; nothing calls AWS.
RESOURCE_NAMES = {
    **dict.fromkeys(
        ("MODELS_TABLE", "FEEDBACK_TABLE", "STATS_TABLE", "ARTIFACTS_BUCKET", "DATA_BUCKET"), "x"
    ),
    **dict.fromkeys(
        ("FEEDBACK_QUEUE_URL", "PREDICTION_SECRET_ARN", "EVENT_BUS_NAME", "EVALUATE_FUNCTION_NAME"), "x"
    ),
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
}

# Runs in a fresh interpreter: imports each module with a finder that refuses the blocked packages and
# reports which project module asked for one (the innermost frame of core/ or handlers/ code).
_SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

BLOCKED, SKIP, CONTROL = json.loads(sys.argv[1])
ROOTS = ("core", "handlers")


class Blocked(ImportError):
    pass


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in BLOCKED:
            return None
        frame, importer = sys._getframe(1), "?"
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module.split(".")[0] in ROOTS:
                importer = f"{module} ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})"
                break
            frame = frame.f_back
        raise Blocked(f"{name} imported by {importer}")


sys.meta_path.insert(0, Refuse())
names = []
for root in ROOTS:
    package = importlib.import_module(root)
    names.append(root)
    names += [info.name for info in pkgutil.walk_packages(package.__path__, root + ".")]
serving = [n for n in names if not any(n == s or n.startswith(s + ".") for s in SKIP)]
report = {"checked": serving, "problems": {}, "control": None}
for name in serving + [CONTROL]:
    try:
        importlib.import_module(name)
    except Blocked as error:
        message = str(error)
    except Exception:
        message = "import failed for another reason:\n" + traceback.format_exc(limit=3)
    else:
        continue
    if name == CONTROL:
        report["control"] = message
    else:
        report["problems"][name] = message
report["loaded"] = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
print(json.dumps(report))
"""


def test_the_serving_side_imports_without_scikit_learn_scipy_or_joblib():
    control = "core.fitting.classifier"  # imports scikit-learn on purpose: proves the check can fail
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    env.update(RESOURCE_NAMES)  # handlers check at import that their function's resources are configured
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps([BLOCKED, TRAINING_ONLY, control])],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    problems = "\n".join(f"{module}: {message}" for module, message in sorted(report["problems"].items()))
    assert not report["problems"], "serving-side modules that need a training-only library:\n" + problems
    assert report["loaded"] == []
    # every handler and every core package but fitting was checked; the control was caught by name
    checked = set(report["checked"])
    handlers = {f"handlers.{p.stem}" for p in (REPO_ROOT / "handlers").glob("*.py") if p.stem != "__init__"}
    assert handlers <= checked
    assert {
        "handlers.api_predict",
        "core.model.bundle",
        "core.serving.predictions",
        "core.feedback.intake",
        "core.registry.versions",
        "core.retraining.prepare",
        "core.data.splits",
        "core.cards.html",
        "core.registry.cards",
        "core.retraining.evaluate",
    } <= checked
    assert not any(name.startswith(("core.fitting", "core.plotting")) for name in checked)
    assert report["control"].split(" ")[0] in BLOCKED and f"imported by {control} (" in report["control"]


def test_the_lambda_packages_hold_no_matplotlib():
    """Nothing the functions' requirements.txt installs (with every dependency, as pip resolves them here)
    is a plotting library: the model card's pictures come from the training job and the CLI, the Evaluate
    step adds numbers only."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    plotting = {"matplotlib", "contourpy", "kiwisolver", "fonttools", "cycler", "pyparsing", "pillow"}
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    todo = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    installed = set()
    while todo:
        requirement = todo.pop()
        package = canonicalize_name(requirement.name)
        if package in installed or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue  # seen, or not for this Python or only with an extra nobody asks for
        installed.add(package)
        todo += [Requirement(text) for text in metadata.requires(package) or []]
    assert {"numpy", "pydantic", "jinja2", "markupsafe", "boto3"} <= installed
    assert not installed & plotting, sorted(installed & plotting)


def after_predict_import(expression: str, imports: str = ""):
    """The JSON value of `expression` in a new process, right after `import handlers.api_predict` (and
    `imports`)."""
    script = (
        "import os, sys, json; os.environ.update(json.loads(sys.argv[1])); import handlers.api_predict; "
        f"{imports + '; ' if imports else ''}print(json.dumps({expression}))"
    )
    environment = {**RESOURCE_NAMES, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(environment)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_predict_function_imports_no_model_card_code_at_its_cold_start():
    """The card models are imported where cards are read or written (admin routes, pipeline steps): the
    predict function's import, part of every cold start, does not pay for them."""
    loaded = after_predict_import(
        "sorted(m for m in sys.modules if m.startswith(('core.cards', 'core.registry.cards')))"
    )
    assert loaded == []


def test_the_predict_function_builds_no_api_model_at_its_import():
    """Its routes' models are built by their first request; the other functions' models never."""
    built = after_predict_import(
        "sorted(name for name, value in vars(schemas).items() if isinstance(value, type)"
        " and issubclass(value, BaseModel) and value.__pydantic_complete__)",
        imports="from pydantic import BaseModel; from core import schemas",
    )
    assert built == []
