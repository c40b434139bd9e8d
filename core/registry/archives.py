"""model.tar.gz and the model directory inside it: packing, unpacking, finding it, reading its metadata.

Pure file work, no AWS: a model directory (docs/DESIGN.md) holds `manifest.json` and/or `bundle/` (the
serving bundle), optionally `metrics.json`; a training job's archive may or may not nest it in a folder.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable
from pathlib import Path

from core.errors import InvalidInput


def find_model_dir(root: Path) -> Path:
    """The directory holding manifest.json or bundle/ (a model.tar.gz may or may not nest a folder)."""
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "manifest.json").is_file() or (candidate / "bundle" / "bundle.json").is_file():
            return candidate
    raise InvalidInput("model archive holds no manifest.json or bundle/bundle.json")


def bundle_dir(model_dir: Path) -> Path:
    """The serving bundle's files: `bundle/`, or the model directory itself when it is a bare bundle."""
    return model_dir / "bundle" if (model_dir / "bundle").is_dir() else model_dir


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_manifest(model_dir: Path) -> dict:
    return _read_json(model_dir / "manifest.json") or {}


def read_metrics(model_dir: Path) -> dict:
    """metrics.json, else the manifest's metrics, else {}."""
    metrics = _read_json(model_dir / "metrics.json")
    if metrics is None:
        metrics = read_manifest(model_dir).get("metrics") or {}
    return metrics


def tar_gz(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A .tar.gz of (name, bytes) entries, sorted and without timestamps: the same entries, the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_directory(directory: Path) -> bytes:
    """A .tar.gz of every file below `directory`, named relative to it."""
    return tar_gz(
        (path.relative_to(directory).as_posix(), path.read_bytes())
        for path in directory.rglob("*")
        if path.is_file()
    )


def extract_archive(archive: Path, target: Path) -> None:
    """Unpack `archive` into `target`; members that would escape it are refused (the "data" filter)."""
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
