"""The default training image on this machine: its Python and scientific stack, for local training jobs.

`local/training_image.json` describes the image (tag, Python, every package of its uv.lock with the source,
and the local substitutes for versions the package index lacks). From it:
- `.venv-training`: a virtual environment with the image's Python and the packages of its `local_env` list,
  built once by `make training-image` (or lazily by local mode) and rebuilt when the data file changes;
- `training-wheels/`: the wheels of training/requirements.txt (what the image lacks) for the image's platform,
  plus the host's own when the host is another platform, so local jobs install them with no index
  (`make training-wheels`; core/retraining/sourcedir.py ships them in sourcedir.tar.gz);
- `create_job_env`: a fresh environment per job on top of the image environment, so what one job installs
  never reaches another.
Where the image's Python is missing, local mode says so once and runs jobs on the current interpreter.

Standard library only: the Makefile runs it with any Python (`python -m local.training_image ...`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import MlNewsError

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = Path(__file__).with_name("training_image.json")
REQUIREMENTS = REPO_ROOT / "training" / "requirements.txt"
ENV_DIR = REPO_ROOT / ".venv-training"
WHEELS_DIR = REPO_ROOT / "training-wheels"  # same name in the PrepareData package (Makefile)
STAMP = ".installed-stamp"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")

allow_fallback = True  # the tests turn it off: a job there must run on the image's Python


class ImageError(MlNewsError, RuntimeError):
    """The local training image cannot be built or used (message says why and what to do)."""

    code = "training_image_error"


# ---------------------------------------------------------------- the data file


def load(path: Path = DATA_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def canonical(name: str) -> str:
    """PEP 503 name: what pip compares."""
    return re.sub(r"[-_.]+", "-", name).lower()


def local_pins(data: dict | None = None) -> dict[str, str]:
    """name -> version the local image environment installs: the image's, or its documented substitute."""
    data = data or load()
    substitutes = data.get("local_substitutes", {})
    return {
        name: substitutes[name]["version"] if name in substitutes else data["packages"][name]
        for name in data["local_env"]
    }


def requirement_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """name -> version of the `name==version` lines of a requirements file (options and comments skipped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _stamped(directory: Path, digest: str) -> bool:
    try:
        return (directory / STAMP).read_text().strip() == digest
    except OSError:
        return False


def env_python(env_dir: Path = ENV_DIR) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def env_current(env_dir: Path = ENV_DIR) -> bool:
    return env_python(env_dir).exists() and _stamped(env_dir, _digest(DATA_FILE))


def wheels_current(wheels_dir: Path = WHEELS_DIR) -> bool:
    return _stamped(wheels_dir, _digest(DATA_FILE, REQUIREMENTS))


# ---------------------------------------------------------------- building


def _run(command: list[str], what: str, timeout: float = 900) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ImageError(f"{what} failed: {error}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        raise ImageError(f"{what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def python_version(python: str) -> str:
    return _run([python, "-c", "import platform; print(platform.python_version())"], f"{python}").strip()


def build_env(python: str, env_dir: Path = ENV_DIR) -> None:
    """(Re)create the image environment with `python`, which must be the image's minor version."""
    data = load()
    version = python_version(python)
    if not (version + ".").startswith(data["python"] + "."):
        raise ImageError(f"{python} is Python {version}; the training image has Python {data['python']}")
    pins = local_pins(data)
    shutil.rmtree(env_dir, ignore_errors=True)
    _run([python, "-m", "venv", str(env_dir)], f"creating {env_dir}")
    pip = [str(env_python(env_dir)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, f"pip=={pins.pop('pip')}"], "installing the image's pip")
    # --no-deps and then `pip check`: exactly the listed set, and a dependency missing from it fails here
    stack = [f"{name}=={version}" for name, version in pins.items()]
    _run([*pip, "--no-deps", *stack], "installing the image's packages")
    _run([str(env_python(env_dir)), "-m", "pip", "check"], "checking the image environment")
    (env_dir / STAMP).write_text(_digest(DATA_FILE) + "\n")


def fill_wheels(wheels_dir: Path = WHEELS_DIR) -> None:
    """Download the wheels of training/requirements.txt: for the image's platform and for this host."""
    data = load()
    pins = [f"{name}=={version}" for name, version in requirement_pins().items()]
    staging = wheels_dir.with_name(wheels_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    download = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--only-binary=:all:", "--implementation", "cp", "--python-version", data["python"],
        "-d", str(staging),
    ]  # fmt: skip
    platforms = [arg for platform in data["platform"]["wheel_platforms"] for arg in ("--platform", platform)]
    _run([*download, *platforms, *pins], "downloading the training wheels for the image's platform")
    # The host's own (the same files on x86_64 Linux): a local job on a Mac or arm64 installs these.
    _run([*download, *pins], "downloading the training wheels for this host")
    (staging / STAMP).write_text(_digest(DATA_FILE, REQUIREMENTS) + "\n")
    shutil.rmtree(wheels_dir, ignore_errors=True)
    staging.rename(wheels_dir)


def find_image_python() -> str | None:
    """The image's Python on this machine: $PYTHON_TRAINING, else what the Makefile's finder (the one that
    finds the Lambda runtime's Python, PATH or pyenv) finds."""
    explicit = os.environ.get("PYTHON_TRAINING")
    if explicit:
        return explicit
    try:
        done = subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "training-python"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip() if done.returncode == 0 else ""
    return found or None


# ---------------------------------------------------------------- what local jobs run on


@dataclass(frozen=True)
class JobPython:
    executable: str  # the interpreter each job's environment is made from
    version: str  # e.g. 3.12.1
    site_dirs: tuple[str, ...]  # the image environment's packages, seen by every job
    image: bool  # False: the fallback to the current interpreter


_lock = threading.Lock()
_resolved: JobPython | None = None
_said: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        print(f"local mode: {message}", file=sys.__stderr__, flush=True)


def _describe(python: str, image: bool) -> JobPython:
    code = (
        "import json, platform, sysconfig; "
        "print(json.dumps([platform.python_version(), "
        "sorted({sysconfig.get_path('purelib'), sysconfig.get_path('platlib')})]))"
    )
    version, site_dirs = json.loads(_run([python, "-c", code], f"inspecting {python}"))
    return JobPython(executable=python, version=version, site_dirs=tuple(site_dirs), image=image)


def _fallback(reason: str) -> JobPython:
    wanted = load()["python"]
    if not allow_fallback:
        raise ImageError(
            f"{reason}. Install Python {wanted} (e.g. pyenv install {wanted}) or set "
            f"PYTHON_TRAINING=/path/to/python{wanted}, then run `make training-image`"
        )
    current = _describe(sys.executable, image=False)
    _say_once(
        f"{reason}, so training jobs run on this interpreter instead (Python {current.version}, "
        f"{sys.executable}, with its own packages rather than the image's). For the image's Python "
        f"{wanted}: install it (e.g. pyenv install {wanted}) or set PYTHON_TRAINING, then "
        "`make training-image`."
    )
    return current


def ensure() -> JobPython:
    """Make sure the wheels and the image environment are there (building what is missing or stale, once)
    and return what jobs run on. Without the image's Python: one message, then the current interpreter."""
    global _resolved
    with _lock:
        if not wheels_current():
            _say_once(f"downloading the training wheels into {WHEELS_DIR.name}/ (`make training-wheels`)")
            try:
                fill_wheels()
            except ImageError as error:  # PrepareData then names what is missing
                if not allow_fallback:
                    raise
                _say_once(f"{error}; training needs them, run `make training-wheels` when online")
        if _resolved is not None and (not _resolved.image or env_current()):
            return _resolved
        if not env_current():
            data = load()
            python = find_image_python()
            if python is None:
                _resolved = _fallback(f"Python {data['python']} (the training image's) was not found")
                return _resolved
            _say_once(f"building the local training image in {ENV_DIR.name}/ (`make training-image`), once")
            try:
                build_env(python)
            except ImageError as error:
                _resolved = _fallback(f"the local training image could not be built ({error})")
                return _resolved
        _resolved = _describe(str(env_python()), image=True)
        return _resolved


def reset() -> None:
    """Forget what `ensure` resolved (tests)."""
    global _resolved
    with _lock:
        _resolved = None


def create_job_env(runtime: JobPython, venv: Path) -> Path:
    """A fresh virtual environment for one job that sees the image environment's packages (a .pth file) and
    installs into its own site-packages: jobs never leak packages into each other or into the image."""
    try:
        subprocess.run(
            [runtime.executable, "-m", "venv", "--without-pip", str(venv)],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        raise ImageError(f"creating the job environment failed: {error}") from None
    sites = sorted(venv.glob("lib/python*/site-packages")) or [venv / "Lib" / "site-packages"]
    # Plain path lines: the image's own .pth files are not run (an editable install of the repository in the
    # fallback interpreter's environment must not put the repository on the job's path).
    (sites[0] / "_image_env.pth").write_text("".join(f"{path}\n" for path in runtime.site_dirs))
    return env_python(venv)


# ---------------------------------------------------------------- command line (the Makefile's steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.training_image", description=__doc__.split(".")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="(re)create .venv-training")
    build.add_argument("--python", required=True, help="the image's Python (the Makefile's PYTHON_TRAINING)")
    commands.add_parser("wheels", help="(re)fill training-wheels/")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            if not args.python:
                raise ImageError(f"Python {load()['python']} (the training image's) was not found")
            build_env(args.python)
            print(f"{ENV_DIR.name}: Python {python_version(str(env_python()))}, {len(local_pins())} packages")
        else:
            fill_wheels()
            print(f"{WHEELS_DIR.name}: {len(list(WHEELS_DIR.glob('*.whl')))} wheels")
    except ImageError as error:
        print(f"training image: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
