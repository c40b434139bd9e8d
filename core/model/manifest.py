"""Model-directory manifest: what was trained on what, with which code, and the sha256 of every file."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from core.errors import MlNewsError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_LIBRARIES = ("numpy", "scikit-learn", "scipy", "joblib", "pydantic")


class ManifestError(MlNewsError, ValueError):
    """A model directory does not match its manifest."""


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_hash(record: object) -> str:
    if hasattr(record, "record_hash"):
        return record.record_hash()
    payload = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def data_fingerprint(records: Iterable[object]) -> str:
    """sha256 over the sorted record hashes: the same data in any order gives the same fingerprint."""
    digest = hashlib.sha256()
    for h in sorted(record_hash(r) for r in records):
        digest.update(h.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_hashes(model_dir: str | os.PathLike) -> dict[str, str]:
    root = Path(model_dir)
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            out[path.relative_to(root).as_posix()] = sha256_file(path)
    return out


def write_manifest(model_dir: str | os.PathLike, **fields) -> dict:
    """Write manifest.json listing the sha256 of every other file in the directory; return it."""
    root = Path(model_dir)
    manifest = {"format_version": FORMAT_VERSION, **fields, "libraries": library_versions(),
                "files": file_hashes(root)}
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(model_dir: str | os.PathLike) -> dict:
    path = Path(model_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (is this a model directory?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None


def verify_manifest(model_dir: str | os.PathLike) -> dict:
    """Check every listed file exists with the recorded sha256; return the manifest or raise ManifestError."""
    root = Path(model_dir)
    manifest = read_manifest(root)
    problems = []
    for rel, expected in sorted(manifest.get("files", {}).items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel} has a different sha256")
    if problems:
        raise ManifestError(f"{root}: " + "; ".join(problems))
    return manifest
