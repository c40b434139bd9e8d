"""sourcedir.tar.gz: the training job's code, built from this deployment's own packages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from core.errors import InvalidInput
from core.registry.archives import tar_gz

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the package root: core/, training/, training-wheels/

TRAINING_WHEELS = "training-wheels"  # beside core/: the PrepareData package (Makefile), or the repository
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def _wheel_key(name: str, version: str) -> tuple[str, str]:
    return re.sub(r"[-_.]+", "_", name).lower(), version


def build_sourcedir(root: Path = _PACKAGE_ROOT) -> tuple[bytes, str]:
    """sourcedir.tar.gz of this deployment's own `core/` and `training/` packages, with `train.py` at the
    root (SageMaker's sagemaker_program), a requirements.txt for what the training image lacks and the wheels
    of those requirements in `wheels/` (the job installs them with no index: it must not need PyPI).
    Deterministic bytes, so the sha256 names the code version."""
    entries: list[tuple[str, bytes]] = []
    for package in ("core", "training"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                entries.append((path.relative_to(root).as_posix(), path.read_bytes()))
    train_script = root / "training" / "train.py"
    if not train_script.is_file():
        raise InvalidInput("training/train.py is missing from the deployment package")
    entries.append(("train.py", train_script.read_bytes()))
    requirements = (root / "training" / "requirements.txt").read_text(encoding="utf-8")
    entries.append(("requirements.txt", requirements.encode("utf-8")))
    wheels = sorted((root / TRAINING_WHEELS).glob("*.whl"))
    shipped = {_wheel_key(*wheel.name.split("-")[:2]) for wheel in wheels}
    missing = [
        f"{match.group(1)}=={match.group(2)}"
        for match in map(_PIN.match, requirements.splitlines())
        if match and _wheel_key(match.group(1), match.group(2)) not in shipped
    ]
    if missing:
        raise InvalidInput(
            f"no wheel for {', '.join(missing)} in {TRAINING_WHEELS}/ of the deployment package: the "
            "training job could not install them (build with `sam build`; `make training-wheels` locally)"
        )
    entries.extend((f"wheels/{wheel.name}", wheel.read_bytes()) for wheel in wheels)
    payload = tar_gz(entries)
    return payload, hashlib.sha256(payload).hexdigest()


