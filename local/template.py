"""template.yaml as data: YAML with CloudFormation's short-form tags, and the values of its parameters.

The project's one CloudFormation YAML loader (local mode, the tests, tools/validate_asl.py). A file is parsed
once per change (every test deploys the template) and each caller gets its own copy to change.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from core.errors import MlNewsError

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


class DeployError(MlNewsError, RuntimeError):
    """The template could not be deployed into the emulator (message says why)."""

    code = "deploy_error"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML loader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@functools.lru_cache(maxsize=16)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_template(path: Path = TEMPLATE_PATH) -> dict:
    """The template with short-form intrinsics in long form (a fresh copy)."""
    path = Path(path).resolve()
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


def default_parameters(sam: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {
        name: str(spec["Default"])
        for name, spec in (sam.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }
    values.update(overrides or {})
    unknown = set(overrides or {}) - set(sam.get("Parameters") or {})
    if unknown:
        raise DeployError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    missing = set(sam.get("Parameters") or {}) - set(values)
    if missing:
        raise DeployError(f"template parameters without a value: {', '.join(sorted(missing))}")
    return values
