"""What `sam build` + `sam package` do for local mode: each function's code zipped and uploaded to (moto) S3,
state machine `DefinitionUri` files inlined. A function built with `Metadata: BuildMethod: makefile` gets the
folders its Makefile target copies (`LAMBDA_SOURCES`), as `sam build` gives it."""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

from local.template import REPO_ROOT, DeployError

DEPLOY_BUCKET = "mlnews-local-deployment"


def lambda_sources(makefile: Path = REPO_ROOT / "Makefile") -> tuple[str, ...]:
    """The folders a function package holds: `LAMBDA_SOURCES` of the Makefile that `sam build` runs."""
    try:
        text = makefile.read_text(encoding="utf-8").replace("\\\n", " ")
    except OSError as error:
        raise RuntimeError(f"{makefile}: cannot read the Lambda build targets ({error})") from None
    match = re.search(r"^LAMBDA_SOURCES\s*:?=(.*)$", text, re.MULTILINE)
    if not match or not match.group(1).split():
        raise RuntimeError(f"{makefile}: no LAMBDA_SOURCES (the folders every function package holds)")
    return tuple(match.group(1).split())


def package(sam: dict, template_dir: Path, s3, region: str) -> tuple[dict, dict[str, Path]]:
    """What `sam build` + `sam package` do: code to S3, DefinitionUri inlined. Returns (template, code dir
    per id). A function built with `Metadata: BuildMethod: makefile` gets what its Makefile's build targets
    copy (`LAMBDA_SOURCES`); any other gets its whole CodeUri directory."""
    sam = copy.deepcopy(sam)
    resources = sam.get("Resources", {})
    globals_fn = (sam.get("Globals") or {}).get("Function") or {}
    global_code = globals_fn.get("CodeUri")
    if _is_local_path(global_code):
        globals_fn.pop("CodeUri")  # each function gets its own uploaded package below
    uploads: dict[tuple[Path, tuple[str, ...] | None], str] = {}
    code_dirs: dict[str, Path] = {}
    ensure_bucket(s3, DEPLOY_BUCKET, region)

    def upload(directory: Path, sources: tuple[str, ...] | None = None) -> str:
        if (directory, sources) not in uploads:
            data = function_package(directory, sources)
            key = f"code/{hashlib.sha256(data).hexdigest()[:16]}.zip"
            s3.put_object(Bucket=DEPLOY_BUCKET, Key=key, Body=data)
            uploads[directory, sources] = f"s3://{DEPLOY_BUCKET}/{key}"
        return uploads[directory, sources]

    for logical_id, resource in resources.items():
        props = resource.setdefault("Properties", {}) or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri", global_code)
            if code_uri is None and props.get("InlineCode") is None:
                code_uri = "."  # SAM's default: the template's directory
            code_dirs[logical_id] = template_dir.resolve()
            if _is_local_path(code_uri):
                directory = code_dirs[logical_id] = (template_dir / code_uri).resolve()
                props["CodeUri"] = upload(directory, _build_sources(logical_id, resource, directory))
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = props.get("ContentUri")
            if _is_local_path(content):
                props["ContentUri"] = upload((template_dir / content).resolve())
        elif resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            with open(template_dir / props.pop("DefinitionUri"), encoding="utf-8") as fh:
                props["Definition"] = json.load(fh) if fh.name.endswith(".json") else yaml.safe_load(fh)
    return sam, code_dirs


def _is_local_path(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _build_sources(logical_id: str, resource: dict, directory: Path) -> tuple[str, ...] | None:
    if (resource.get("Metadata") or {}).get("BuildMethod") != "makefile":
        return None
    try:
        return lambda_sources(directory / "Makefile")
    except RuntimeError as error:
        raise DeployError(f"{logical_id}: {error}") from None


def function_package(directory: Path, sources: tuple[str, ...] | None = None) -> bytes:
    """The package of a function: `sources` (folders of `directory`) or the whole directory. Zipped again
    only when a file changed (every test deploys the template)."""
    roots = [directory / name for name in sources] if sources is not None else [directory]
    missing = [root.name for root in roots if not root.is_dir()]
    if missing:
        raise DeployError(f"{directory}: no folder {', '.join(missing)} to package")
    files = tuple(
        (path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns)
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        for stat in [path.stat()]
    )
    return _zipped(directory, files)


@functools.lru_cache(maxsize=8)
def _zipped(directory: Path, files: tuple[tuple[str, int, int], ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, _size, _mtime in files:
            archive.write(directory / name, name)
    return buffer.getvalue()


def ensure_bucket(s3, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:
        kwargs = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **kwargs)
