"""The predict function's cold start as Lambda runs it: process start -> first response, with its breakdown.

What runs: the package `make build-PredictFunction` builds (for this machine's architecture instead of arm64,
so it can run here), on the Lambda runtime's Python (3.12) with no site-packages, `PYTHONDONTWRITEBYTECODE`
set (a function's /var/task is read-only: modules without a packaged .pyc are compiled at every cold start),
the function's environment from template.yaml as local mode deploys it (its role's credentials, tracing on
as `Tracing: Active` has it, Lambda's own variables) and a fresh /tmp. AWS is local mode's emulator: a moto
server on 127.0.0.1 with template.yaml deployed and a model registered and activated, so the first request
reads the active pointer, downloads the bundle from S3, verifies it against the registry's sha256, loads it,
predicts, signs the prediction id with the Secrets Manager key and counts the prediction, as on AWS.

Each run is a new process timed from the parent (spawn -> the response line; the process's exit is not
counted). Inside it, the handler module's import is timed as a whole, then the first invocation is split by
wrapping the functions it goes through (each phase's time excludes the phases it calls): AWS client
creation, registry reads, bundle download, bundle verify + load, first prediction, signing key, prediction
counters; the rest of the invocation is the Powertools resolver, validation, logging, metrics and tracing.
One extra run with `-X importtime` lists the costliest imports. The floor: as many new processes that import
only the modules from outside the project the first response loaded and create the three AWS clients, timed
the same way (what the function's libraries cost before any project code runs). Not counted: Lambda's own
runtime client (/var/runtime) and the network to real AWS endpoints (here every call goes over loopback).

`python -m bench.lambda_cold_start [--model-dir DIR] [--runs 7] [--out DIR]` (`make bench-cold-start`; without
--model-dir it trains the v3-temporal model first) writes <out>/lambda-cold-start-<UTC time>.json,
lambda-cold-start-latest.json and lambda-cold-start-latest.md. See docs/scale.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_VENV_PYTHON = REPO_ROOT / ".venv-lambda" / "bin" / "python"
EVENT_PATH = REPO_ROOT / "events" / "api_predict.json"
FUNCTION = "PredictFunction"
HOST_PLATFORMS = {"x86_64": "manylinux2014_x86_64 manylinux_2_28_x86_64",
                  "aarch64": "manylinux2014_aarch64 manylinux_2_28_aarch64"}
WARM_INVOKES = 20
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Runs in the function's process: only the package and the standard library are importable (python -S).
CHILD = r"""
import time
T0, WALL0 = time.perf_counter(), time.time()
import json, os, sys

def cpu():
    return time.process_time()  # all threads of the process: user + system

event = json.loads(sys.argv[1])
warm_invokes = int(sys.argv[2])

started, started_cpu = time.perf_counter(), cpu()
import handlers.api_predict as handler
imported, imported_cpu = time.perf_counter(), cpu()

# what the first request imports lazily (numpy, the model code) is imported here, to wrap it: its own phase
import core.aws_clients, core.feedback.counters, core.feedback.signing_keys, core.model.bundle
import core.registry.artifacts, core.registry.versions, core.settings

class Phases:
    # exclusive time per phase: a phase's time excludes the wrapped calls it makes
    def __init__(self):
        self.seconds, self.cpu_seconds, self.calls, self._stack = {}, {}, {}, []

    def wrap(self, owner, name, phase):
        original = getattr(owner, name)
        def timed(*args, **kwargs):
            self._stack.append([0.0, 0.0])
            start, start_cpu = time.perf_counter(), cpu()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed, elapsed_cpu = time.perf_counter() - start, cpu() - start_cpu
                inner, inner_cpu = self._stack.pop()
                self.seconds[phase] = self.seconds.get(phase, 0.0) + elapsed - inner
                self.cpu_seconds[phase] = self.cpu_seconds.get(phase, 0.0) + elapsed_cpu - inner_cpu
                self.calls[phase] = self.calls.get(phase, 0) + 1
                if self._stack:
                    self._stack[-1][0] += elapsed
                    self._stack[-1][1] += elapsed_cpu
        setattr(owner, name, timed)

phases = Phases()
for owner, name, phase in (
    (core.aws_clients, "client", "aws_clients"),
    (core.aws_clients, "resource", "aws_clients"),
    (core.registry.versions.ModelRegistry, "active_pointer", "registry_reads"),
    (core.registry.versions.ModelRegistry, "get", "registry_reads"),
    (core.registry.artifacts.ArtifactStore, "download_bundle", "bundle_download"),
    (core.model.bundle.ServingModel, "load", "bundle_verify_load"),
    (core.model.bundle.ServingModel, "predict", "first_prediction"),
    (core.feedback.signing_keys, "signing_key", "signing_key"),
    (core.feedback.counters, "record_predictions", "prediction_counters"),
):
    phases.wrap(owner, name, phase)

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    aws_request_id = "cold-start-0001"
    log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 15000

invoke_start, invoke_start_cpu = time.perf_counter(), cpu()
response = handler.lambda_handler(event, Context())
invoked, invoked_cpu = time.perf_counter(), cpu()
first = {"status": response["statusCode"], "model_version": json.loads(response["body"]).get("model_version"),
         "wall_start": WALL0, "import_s": imported - started, "import_cpu_s": imported_cpu - started_cpu,
         "lazy_imports_s": invoke_start - imported, "lazy_imports_cpu_s": invoke_start_cpu - imported_cpu,
         "first_invoke_s": invoked - invoke_start, "first_invoke_cpu_s": invoked_cpu - invoke_start_cpu,
         "process_cpu_s": invoked_cpu, "phases_s": phases.seconds, "phases_cpu_s": phases.cpu_seconds,
         "phase_calls": phases.calls}
print(json.dumps(first), flush=True)

warm = []
for _ in range(warm_invokes):
    start = time.perf_counter()
    response = handler.lambda_handler(event, Context())
    warm.append(time.perf_counter() - start)
settings_start = time.perf_counter()
core.settings.load_settings()
settings_s = time.perf_counter() - settings_start
library_modules = sorted(name for name in sys.modules
                         if name.partition(".")[0] not in ("core", "handlers", "training", "__main__"))
print(json.dumps({"warm_s": warm, "settings_parse_s": settings_s, "warm_status": response["statusCode"],
                  "library_modules": library_modules}), flush=True)
"""

# The floor under the function's cold start: a new process that imports only what the function's first
# response loaded from outside the project (third-party libraries and the standard library) and creates the
# three clients it uses from one session, with no project code and no AWS call.
LIBRARIES_CHILD = r"""
import importlib, json, sys
failed = []
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except ImportError:
        failed.append(name)  # created by another module's import, not importable by name
import boto3
session = boto3.session.Session()
for service in ("s3", "dynamodb", "secretsmanager"):
    session.client(service)
print(json.dumps({"failed": failed}), flush=True)
"""


class ColdStartError(Exception):
    """The measurement cannot run (no Python 3.12, package build failed, the function failed)."""


def lambda_python() -> Path:
    """The Lambda runtime's interpreter without any site-packages: .venv-lambda's base Python 3.12."""
    if not LAMBDA_VENV_PYTHON.exists():
        raise ColdStartError(f"{LAMBDA_VENV_PYTHON} is missing: make test creates it (Python 3.12)")
    base = subprocess.run([str(LAMBDA_VENV_PYTHON), "-c", "import sys; print(sys._base_executable)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return Path(base)


def build_package(target: Path) -> Path:
    """`make build-PredictFunction` into `target`, for this machine's architecture (the template's is
    arm64)."""
    platforms = HOST_PLATFORMS.get(platform.machine())
    if platforms is None:
        raise ColdStartError(f"no wheel platforms known for {platform.machine()}")
    command = ["make", "--no-print-directory", f"build-{FUNCTION}", f"ARTIFACTS_DIR={target}",
               f"LAMBDA_PLATFORMS={platforms}", f"PYTHON={LAMBDA_VENV_PYTHON}"]
    proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ColdStartError(f"package build failed: {proc.stderr[-2000:]}")
    return target


def package_facts(package: Path) -> dict:
    files = [p for p in package.rglob("*") if p.is_file()]
    return {"files": len(files), "mb": round(sum(p.stat().st_size for p in files) / 1e6, 1),
            "pyc_files": sum(1 for p in files if p.suffix == ".pyc")}


class EmulatedStack:
    """Local mode's emulator with template.yaml deployed and `model_dir` registered and active."""

    def __init__(self, model_dir: Path):
        self.model_dir = model_dir
        self._stack = ExitStack()

    def __enter__(self) -> EmulatedStack:
        from local.emulator import Emulator
        from local.iam.enforcement import access_control
        from local.stack import deploy
        from local.template import TEMPLATE_PATH

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log
        self._stack.__enter__()
        self.emulator = self._stack.enter_context(Emulator(log_dir=None))
        self.deployment = deploy(self.emulator, TEMPLATE_PATH)
        environment = self.deployment.function_environment(FUNCTION)
        self.function_name = self.deployment.functions[FUNCTION]
        role = self.deployment.role_arns[FUNCTION]
        self.credentials = access_control.credentials(role, self.function_name)
        self.environment = environment
        self.version = self._activate(environment)
        return self

    def _activate(self, environment: dict[str, str]) -> str:
        from core.aws_clients import reset_clients
        from core.registry.versions import ModelRegistry
        from core.settings import load_settings

        reset_clients()
        registry = ModelRegistry(load_settings({**os.environ, **environment}))
        item = registry.register_model_dir(self.model_dir, source="manual")
        registry.activate(item["version"], reason="cold start bench")
        return item["version"]

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def function_env(self, package: Path, tmp: Path, memory_mb: int) -> dict[str, str]:
        """The process environment Lambda gives the function (tracing on, /tmp private to this run)."""
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(package),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": self.emulator.region,
            "AWS_DEFAULT_REGION": self.emulator.region,
            "AWS_ENDPOINT_URL": self.emulator.endpoint_url,
            "LAMBDA_TASK_ROOT": str(package),
            "LAMBDA_RUNTIME_DIR": str(package),
            "_HANDLER": "handlers/api_predict.lambda_handler",
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        for key, value in self.environment.items():
            value = str(value)
            private = value == "/tmp" or value.startswith("/tmp/")
            env[key] = str(tmp) + value[len("/tmp"):] if private else value
        env.update(self.credentials)
        return env


def function_memory_mb() -> int:
    from local.template import TEMPLATE_PATH, load_template

    template = load_template(TEMPLATE_PATH)
    own = template["Resources"][FUNCTION]["Properties"].get("MemorySize")
    return int(own or template["Globals"]["Function"]["MemorySize"])


@dataclass
class Spawned:
    first_line: str  # the process's first output line: its JSON report
    rest: str
    errors: str
    wall_start: float  # time.time() at the spawn
    seconds_to_line: float  # spawn -> the first line (the process's exit is not counted)


def spawn(python: Path, env: dict[str, str], code: str, args: list[str], cpu: int | None,
          what: str) -> Spawned:
    """Run `code` in a new process as Lambda would start the function (python -S, pinned to `cpu`)."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    spawned_wall, spawned = time.time(), time.perf_counter()
    proc = subprocess.Popen([str(python), "-S", "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=env["LAMBDA_TASK_ROOT"], preexec_fn=pin)
    first_line = proc.stdout.readline()
    seconds = time.perf_counter() - spawned
    rest, errors = proc.communicate(timeout=120)
    if proc.returncode != 0 or not first_line.startswith("{"):
        raise ColdStartError(f"{what} failed (exit {proc.returncode}): {errors[-3000:]}")
    return Spawned(first_line, rest, errors, spawned_wall, seconds)


def run_once(python: Path, env: dict[str, str], event: dict, warm_invokes: int, cpu: int | None) -> dict:
    run = spawn(python, env, CHILD, [json.dumps(event), str(warm_invokes)], cpu, "the function's process")
    first = json.loads(run.first_line)
    later = json.loads(run.rest.strip().splitlines()[-1])
    if first["status"] != 200 or later["warm_status"] != 200:
        raise ColdStartError(
            f"predict answered {first['status']}/{later['warm_status']}: {run.errors[-2000:]}")
    phases = {name: first["phases_s"][name] for name in first["phases_s"]}
    phases["rest_of_first_invoke"] = first["first_invoke_s"] - sum(phases.values())
    phases_cpu = dict(first["phases_cpu_s"])
    phases_cpu["rest_of_first_invoke"] = first["first_invoke_cpu_s"] - sum(phases_cpu.values())
    return {
        "total_s": run.seconds_to_line,
        "interpreter_start_s": first["wall_start"] - run.wall_start,
        "import_s": first["import_s"],
        "lazy_imports_s": first["lazy_imports_s"],
        "first_invoke_s": first["first_invoke_s"],
        "phases_s": phases,
        "process_cpu_s": first["process_cpu_s"],
        "import_cpu_s": first["import_cpu_s"],
        "lazy_imports_cpu_s": first["lazy_imports_cpu_s"],
        "first_invoke_cpu_s": first["first_invoke_cpu_s"],
        "phases_cpu_s": phases_cpu,
        "phase_calls": first["phase_calls"],
        "settings_parse_s": later["settings_parse_s"],
        "warm_median_s": statistics.median(later["warm_s"]),
        "model_version": first["model_version"],
        "library_modules": later["library_modules"],
    }


def run_libraries_once(python: Path, env: dict[str, str], modules: list[str], cpu: int | None) -> dict:
    """Spawn -> the line of a process that loads the function's libraries only (LIBRARIES_CHILD)."""
    run = spawn(python, env, LIBRARIES_CHILD, [json.dumps(modules)], cpu, "the libraries' process")
    return {"total_s": run.seconds_to_line, "failed": json.loads(run.first_line)["failed"]}


def timed_runs(env_for, tmp_prefix: Path, runs: int, warmup_runs: int, run_one) -> list[dict]:
    """`run_one(env)` in new processes, each with a fresh /tmp (`env_for(dir)`); warm-up runs dropped."""
    kept = []
    for index in range(warmup_runs + runs):
        function_tmp = tmp_prefix.with_name(f"{tmp_prefix.name}-tmp-{index}")
        function_tmp.mkdir()
        outcome = run_one(env_for(function_tmp))
        shutil.rmtree(function_tmp, ignore_errors=True)
        if index >= warmup_runs:
            kept.append(outcome)
    return kept


def costliest_imports(python: Path, env: dict[str, str], event: dict, top: int = 15) -> list[dict]:
    """One run with -X importtime: the modules with the largest cumulative import time (top level first)."""
    command = [str(python), "-S", "-X", "importtime", "-c", CHILD, json.dumps(event), "0"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=env["LAMBDA_TASK_ROOT"],
                          timeout=120)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.partition("import time:")[2].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        self_us, cumulative_us, name = parts
        rows.append({"module": name.strip(), "depth": (len(name) - len(name.lstrip()) - 1) // 2,
                     "cumulative_ms": int(cumulative_us) / 1000, "self_ms": int(self_us) / 1000})
    return sorted(rows, key=lambda row: -row["cumulative_ms"])[:top]


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def summarise(runs: list[dict]) -> dict:
    out: dict = {key: median_of(runs, key) for key in (
        "total_s", "interpreter_start_s", "import_s", "lazy_imports_s", "first_invoke_s", "process_cpu_s",
        "import_cpu_s", "lazy_imports_cpu_s", "first_invoke_cpu_s", "settings_parse_s")}
    out["warm_invoke_s"] = median_of(runs, "warm_median_s")
    for key in ("phases_s", "phases_cpu_s"):
        names = sorted({name for run in runs for name in run[key]})
        out[key] = {name: statistics.median(run[key].get(name, 0.0) for run in runs) for name in names}
    return out


def cpu_split() -> tuple[int | None, set[int] | None]:
    """(the CPU the function runs on, the CPUs left to this process's moto server): a Lambda function has
    at most one vCPU below 1769 MB, and the emulated AWS must not take the function's CPU."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, None
    return cpus[-1], set(cpus[:-1])


def measure(model_dir: Path, runs: int = 7, warmup_runs: int = 1) -> dict:
    """Build the package, deploy the stack with `model_dir` active, time `runs` new processes (after
    `warmup_runs` discarded ones: page cache)."""
    from bench.run import load_average

    python = lambda_python()
    event = json.loads(EVENT_PATH.read_text())
    memory = function_memory_mb()
    function_cpu, server_cpus = cpu_split()
    saved_affinity = os.sched_getaffinity(0) if server_cpus else None
    with tempfile.TemporaryDirectory(prefix="mlnews-cold-") as tmp_name, ExitStack() as restore:
        tmp = Path(tmp_name)
        package = build_package(tmp / "package")
        if server_cpus:
            os.sched_setaffinity(0, server_cpus)  # the moto server's threads start from this process
            restore.callback(os.sched_setaffinity, 0, saved_affinity)
        with EmulatedStack(model_dir) as stack:
            env_for = functools.partial(stack.function_env, package, memory_mb=memory)
            results = timed_runs(env_for, tmp / "function", runs, warmup_runs,
                                 lambda env: run_once(python, env, event, WARM_INVOKES, function_cpu))
            modules = results[0]["library_modules"]
            libraries = timed_runs(env_for, tmp / "libraries", runs, warmup_runs,
                                   lambda env: run_libraries_once(python, env, modules, function_cpu))
            function_tmp = tmp / "function-tmp-importtime"
            function_tmp.mkdir()
            imports = costliest_imports(python, stack.function_env(package, function_tmp, memory), event)
        facts = package_facts(package)
    return {
        "python": str(python),
        "python_version": subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True).stdout.strip(),
        "package": facts,
        "function_memory_mb": memory,
        "function_cpu": function_cpu,
        "runs": runs,
        "warm_invokes_per_run": WARM_INVOKES,
        "median": summarise(results),
        "raw": [{key: value for key, value in run.items() if key != "library_modules"} for run in results],
        "costliest_imports": imports,
        "libraries_floor": {
            "median_s": statistics.median(run["total_s"] for run in libraries),
            "modules": len(modules),
            "not_importable_by_name": libraries[0]["failed"],
        },
        "load_average": load_average(),
    }


GOAL_S = 0.5  # issue 10: process start -> first response
PHASE_LABELS = {
    "aws_clients": "AWS client creation",
    "registry_reads": "registry reads (active pointer, version item)",
    "bundle_download": "bundle download from S3",
    "bundle_verify_load": "bundle verify (sha256) + load",
    "first_prediction": "first prediction",
    "signing_key": "signing key (Secrets Manager)",
    "prediction_counters": "prediction counters (DynamoDB)",
    "rest_of_first_invoke": "rest: Powertools resolver, validation, logging, metrics, tracing",
}


def floor_lines(result: dict) -> list[str]:
    floor = result.get("libraries_floor")
    if not floor:
        return []
    share = floor["median_s"] / GOAL_S * 100
    return [
        f"- **the libraries alone: {floor['median_s']:.3f} s** ({share:.0f} % of the goal): process start -> "
        f"a process that imports only the {floor['modules']:,} modules from outside the project that the "
        "first response loaded (boto3, Powertools, pydantic, numpy, the X-Ray SDK, the standard library) and "
        "creates the function's three AWS clients from one session; no project code, no AWS call. No change "
        "to the project's code can start the function faster without dropping one of those libraries"
    ]


def render_markdown(result: dict) -> str:
    from bench.run import commit_label

    median = result["median"]
    total = median["total_s"]
    lines = [
        f"# Predict function cold start {result['run_id']}",
        "",
        f"- Python {result['python_version']} without site-packages, the package "
        f"`make build-PredictFunction` builds ({result['package']['files']:,} files, "
        f"{result['package']['mb']} MB, "
        f"{result['package']['pyc_files']:,} precompiled .pyc), {result['function_memory_mb']} MB function "
        f"pinned to one CPU; AWS = local mode's moto server (loopback), bundle {result['bundle_mb']} MB",
        f"- commit {commit_label(result['git'])}; median of {result['runs']} new processes after one "
        "discarded; "
        f"load average (1/5/15 min) at the end {'/'.join(str(v) for v in result['load_average'])} on "
        f"{os.cpu_count()} CPUs (shared machine)",
        f"- **process start -> first response: {total:.3f} s** (goal <= {GOAL_S} s: "
        f"{'PASS' if total <= GOAL_S else 'MISS'}); warm invoke {median['warm_invoke_s'] * 1000:.1f} ms",
        f"- the function process's CPU time (user + system) to that response: "
        f"{median['process_cpu_s']:.3f} s: "
        "what the wall time tends to on an idle CPU (loopback I/O is short); on a loaded machine the wall "
        "time also holds the waits for a CPU",
        *floor_lines(result),
        "",
        "| phase | wall, s | CPU, s |",
        "|---|---|---|",
        f"| interpreter start | {median['interpreter_start_s']:.3f} | |",
        f"| import of the handler module | {median['import_s']:.3f} | {median['import_cpu_s']:.3f} |",
        f"| imports the first request makes (numpy, model code) | {median['lazy_imports_s']:.3f} | "
        f"{median['lazy_imports_cpu_s']:.3f} |",
        f"| first invocation | {median['first_invoke_s']:.3f} | {median['first_invoke_cpu_s']:.3f} |",
    ]
    for name, label in PHASE_LABELS.items():
        if name in median["phases_s"]:
            lines.append(f"| - {label} | {median['phases_s'][name]:.3f} | "
                         f"{median['phases_cpu_s'].get(name, 0.0):.3f} |")
    lines += ["", "Costliest imports (one run with `-X importtime`, cumulative):", "",
              "| module | cumulative ms | self ms |", "|---|---|---|"]
    for row in result["costliest_imports"][:12]:
        lines.append(f"| {'  ' * row['depth']}{row['module']} | {row['cumulative_ms']:.1f} | "
                     f"{row['self_ms']:.1f} |")
    lines += ["", "Wall time from the parent: spawn -> the first response's line (the process's exit is not "
              "counted). Phases exclude the wrapped calls they make. Not counted: Lambda's own runtime "
              "client and the network to real AWS endpoints (every call here goes over loopback)."]
    return "\n".join(lines) + "\n"


def default_model_dir(target: Path) -> Path:
    """The v3-temporal model (headline + short_description, default hyperparameters): what the bench uses."""
    from core.data.splits import standard_split
    from core.fitting.training import train_to_dir

    train, _test = standard_split("v3-temporal")
    train_to_dir(train, target)
    return target


def main(argv: list[str] | None = None) -> int:
    from bench.run import git_facts, write_result_files

    parser = argparse.ArgumentParser(prog="python -m bench.lambda_cold_start",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path,
                        help="a model directory (mlnews train); default: train the v3-temporal model first")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results",
                        help="results folder (default %(default)s)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    started = dt.datetime.now(dt.UTC)
    try:
        with tempfile.TemporaryDirectory(prefix="mlnews-cold-model-") as tmp:
            if args.model_dir is None:
                print("training the v3-temporal model ...", file=sys.stderr, flush=True)
                model_dir = default_model_dir(Path(tmp) / "model")
            else:
                model_dir = args.model_dir.resolve()
            result = measure(model_dir, args.runs)
            bundle_bytes = sum(path.stat().st_size for path in (model_dir / "bundle").iterdir())
            result["bundle_mb"] = round(bundle_bytes / 1e6, 1)
    except (ColdStartError, OSError) as exc:
        print(f"lambda cold start: error: {exc}", file=sys.stderr)
        return 2
    result.update(run_id=started.strftime("%Y%m%dT%H%M%SZ"), git=git_facts(), goal_s=GOAL_S)
    markdown = render_markdown(result)
    stamped = f"lambda-cold-start-{result['run_id']}"
    write_result_files(args.out, stamped, "lambda-cold-start-latest", result, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
