"""`make bench`: our model against the two reference models on the standard splits, in one run.

Usage: python -m bench.run [--quick] [--only bal41|v3] [--out DIR] [--data-dir DIR] [--hp KEY=VALUE ...]
Writes <out>/<UTC time>.json, <out>/latest.json and <out>/latest.md (a --quick run writes only
<UTC time>-quick.json) and prints the Markdown table. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.cold_start import cold_start_commands, measure_cold_starts
from bench.report import evaluate_targets, render_markdown

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
SPLIT_ALIASES = {"bal41": "bal41", "v3": "v3-temporal", "v3-temporal": "v3-temporal"}
REFERENCES = ("naive", "tuned")
WORKER_TIMEOUT_S = 1800

H = ("headline",)
HD = ("headline", "short_description")
HDA = ("headline", "short_description", "authors")


@dataclass(frozen=True)
class TrainingConfig:
    """One model per config and model kind; evals maps test-set name -> fields the test records keep."""

    name: str
    fields: tuple[str, ...]
    evals: dict[str, tuple[str, ...]]


# The first config of a split is its main one: cold start, latency, throughput and bundle size use it.
PLANS = {
    "bal41": [TrainingConfig("headline", H, {"headline": H})],
    "v3-temporal": [
        TrainingConfig("headline+description", HD, {"headline+description": HD, "headline-only": H}),
        TrainingConfig("headline+description+authors", HDA, {"headline+description+authors": HDA}),
    ],
}


@dataclass(frozen=True)
class Settings:
    limits: dict | None  # subsample sizes (train/test) or None for the full split
    cold_runs: int
    latency_calls: int
    throughput_repeats: int


FULL = Settings(limits=None, cold_runs=7, latency_calls=2000, throughput_repeats=3)
QUICK = Settings(limits={"train": 3000, "test": 600}, cold_runs=5, latency_calls=300, throughput_repeats=1)


class BenchError(Exception):
    """A benchmark cannot run (missing data, bad option) or a measurement failed; the message says why."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run on subsampled data (does not replace latest.json / latest.md)")
    parser.add_argument("--only", choices=sorted(SPLIT_ALIASES), help="run one split only (v3 = v3-temporal)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"results directory (default {DEFAULT_OUT})")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the shared data files (default: $MLNEWS_DATA_DIR or "
                             "../shared/data)")
    parser.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                        help="override one of our model's hyperparameters (repeatable; VALUE is read as JSON "
                             "when it parses, e.g. --hp C=2 --hp embeddings=none)")
    return parser.parse_args(argv)


def parse_overrides(pairs: list[str]) -> dict:
    """['C=2', 'embeddings=none'] -> {'C': 2, 'embeddings': 'none'}; values are JSON when they parse."""
    out: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--hp expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def selected_splits(only: str | None) -> list[str]:
    return [SPLIT_ALIASES[only]] if only else list(PLANS)


def resolve_data_dir(arg: Path | None) -> Path:
    from core.data.shared_data import shared_data_dir

    return arg if arg is not None else shared_data_dir()


def check_data(data_dir: Path, splits: list[str]) -> None:
    """Raise BenchError naming every missing file and how to point the harness at the data."""
    from core.data.splits import STANDARD_SPLITS

    paths = [data_dir / STANDARD_SPLITS[split][0] for split in splits]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise BenchError(
            "benchmark data not found: " + ", ".join(str(p) for p in missing)
            + ". Put the shared data files there, or pass --data-dir DIR (or set MLNEWS_DATA_DIR)."
        )


def check_hyperparameters(overrides: dict) -> dict:
    """Validate overrides now (not ten minutes into the run); return the full hyperparameters in effect."""
    from core.fitting.hyperparameters import Hyperparameters, TrainingError

    try:
        return Hyperparameters.parse(overrides).model_dump()
    except TrainingError as exc:
        raise BenchError(str(exc)) from None


def worker_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_VARS})
    env["MLNEWS_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class Runner:
    """Starts workers in fresh processes and logs progress to stderr."""

    def __init__(self, work_dir: Path, env: dict[str, str], quiet: bool = False):
        self.work_dir = work_dir
        self.env = env
        self.quiet = quiet
        self.started = time.perf_counter()
        self._count = 0

    def log(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def worker(self, task: str, spec: dict) -> dict:
        self._count += 1
        spec_path = self.work_dir / f"{self._count:02d}-{task}-spec.json"
        result_path = self.work_dir / f"{self._count:02d}-{task}-result.json"
        spec_path.write_text(json.dumps(spec))
        command = [sys.executable, "-m", "bench.worker", task, str(spec_path), str(result_path)]
        try:
            proc = subprocess.run(command, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True,
                                  timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{task} worker did not finish within {WORKER_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            raise BenchError(f"{task} worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(result_path.read_text())


def machine_facts() -> dict:
    facts: dict = {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    for library in ("numpy", "scikit-learn", "scipy", "joblib"):
        try:
            facts[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            facts[library] = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return facts


def uncommitted_files(porcelain: str) -> list[str]:
    """Paths from `git status --porcelain` output ('XY path' lines), results files left out."""
    paths = [line[3:] for line in porcelain.splitlines() if len(line) > 3]
    return [path for path in paths if not path.startswith("bench/results/")]


def git_facts() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout

    try:
        changed = uncommitted_files(git("status", "--porcelain", "--", "core", "training", "bench"))
        commit = git("rev-parse", "HEAD").strip()
        return {"commit": commit, "dirty": bool(changed), "uncommitted": changed[:20]}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def commit_label(git: dict) -> str:
    """A report's commit as git_facts() recorded it: short hash, and whether the measured code was changed."""
    return git["commit"][:12] + (" with uncommitted changes" if git.get("dirty") else "")


def load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def stamp_report(report: dict, load_before: list[float], git: dict) -> str:
    """Record when, on what machine and code and under what load a run was measured; returns its stamp
    (e.g. 20261203T091607Z) for the result file's name."""
    report.update(
        measured_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        machine=machine_facts(),
        git=git,
        load_average={"start": load_before, "end": load_average()},
    )
    return report["measured_at"].replace("-", "").replace(":", "")


def method_notes(settings: Settings) -> dict:
    return {
        "processes": "Every training and serving measurement runs in a fresh subprocess with "
                     f"{'/'.join(THREAD_VARS)} = 1 (one core).",
        "training": "Training wall time = fit + writing the artifacts (ours: model dir with pipeline.joblib, "
                    "bundle and manifest; references: uncompressed joblib dump, their fastest load).",
        "memory": "Peak memory = ru_maxrss of the training subprocess (interpreter, imports and loaded data "
                  "included), read right after training, before evaluation.",
        "cold_start": f"Cold start = median of {settings.cold_runs} new interpreters timed from the parent "
                      "(interpreter start included) that import the serving code, load the model and predict "
                      "one test item; commands interleaved round-robin after one discarded warm-up round.",
        "latency": f"Single-item latency over {settings.latency_calls} calls, one test item each; "
                   "cold = first pass on a freshly loaded model, warm = second pass over the same items.",
        "throughput": "Batch throughput = the whole test set in one call: ours predict_proba (cold = first "
                      "call on a freshly loaded model, warm = second call), tuned reference "
                      f"pipeline.predict; median of {settings.throughput_repeats} repeat(s).",
        "references": "References are fed the chosen fields joined by spaces; headline-only test records "
                      "carry only the headline.",
        "targets": "Latency and throughput targets are judged on the cold pass; the cold-start speed-up on "
                   "the faster of the two joblib loads; MB = 10^6 bytes.",
    }


def bench_split(runner: Runner, split: str, data_dir: Path, settings: Settings, overrides: dict,
                work_dir: Path) -> dict:
    out: dict = {"training": {}, "accuracy": {}, "ours_model": {}}
    base = {"split": split, "data_dir": str(data_dir), "limits": settings.limits}
    paths: dict = {}
    for config in PLANS[split]:
        slug = config.name.replace("+", "_")
        model_dir = work_dir / f"{split}-{slug}-ours"
        evals = {name: list(fields) for name, fields in config.evals.items()}
        runner.log(f"{split}: training ours on {config.name}")
        spec = {**base, "model_dir": str(model_dir), "evals": evals, "train_fields": list(config.fields),
                "hyperparameters": overrides}
        ours = runner.worker("train_ours", spec)
        out["n_train"], out["n_test"] = ours["n_train"], ours["n_test"]
        trainings = {"ours": {**ours["training"], "embeddings": ours["model"]["embeddings"]}}
        out["ours_model"][config.name] = ours["model"]
        results = {"ours": ours["evals"]}
        for kind in REFERENCES:
            joblib_path = work_dir / f"{split}-{slug}-{kind}.joblib"
            runner.log(f"{split}: training {kind} reference on {config.name}")
            ref = runner.worker("train_reference", {**base, "kind": kind, "joblib_path": str(joblib_path),
                                                    "train_fields": list(config.fields), "evals": evals})
            trainings[kind] = ref["training"]
            results[kind] = ref["evals"]
            paths.setdefault(config.name, {})[kind] = joblib_path
        paths.setdefault(config.name, {})["ours"] = model_dir
        out["training"][config.name] = trainings
        for name in config.evals:
            out["accuracy"][name] = {model: evals_of[name] for model, evals_of in results.items()}
        if config is PLANS[split][0]:
            out["sample_item"] = ours["sample_item"]

    main = PLANS[split][0]
    main_paths = paths[main.name]
    item = out.pop("sample_item")
    text = " ".join(str(item[f]) for f in main.fields if item.get(f))
    commands = cold_start_commands(sys.executable, main_paths["ours"] / "bundle",
                                   main_paths["ours"] / "pipeline.joblib", main_paths["tuned"], item, text)
    runner.log(f"{split}: cold start, {settings.cold_runs} runs of {len(commands)} commands")
    try:
        out["cold_start"] = measure_cold_starts(commands, settings.cold_runs, REPO_ROOT, runner.env)
    except RuntimeError as exc:
        raise BenchError(str(exc)) from None

    runner.log(f"{split}: single-item latency ({settings.latency_calls} calls) and batch throughput")
    serving = runner.worker("serving", {**base, "model_dir": str(main_paths["ours"]),
                                        "tuned_joblib": str(main_paths["tuned"]), "fields": list(main.fields),
                                        "n_calls": settings.latency_calls,
                                        "throughput_repeats": settings.throughput_repeats})
    out.update(serving)
    return out


def run_benchmark(args: argparse.Namespace, quiet: bool = False) -> dict:
    splits = selected_splits(args.only)
    data_dir = resolve_data_dir(args.data_dir).resolve()
    check_data(data_dir, splits)
    overrides = parse_overrides(args.hp)
    hyperparameters = check_hyperparameters(overrides)
    settings = QUICK if args.quick else FULL
    started = dt.datetime.now(dt.UTC)
    results: dict = {
        "schema": 1,
        "run_id": started.strftime("%Y%m%dT%H%M%SZ"),
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "quick": bool(args.quick),
        "splits_requested": splits,
        "data_dir": str(data_dir),
        "machine": machine_facts(),
        "git": git_facts(),
        "load_average_start": load_average(),
        "hyperparameters": hyperparameters,
        "hyperparameter_overrides": overrides,
        "settings": dataclasses.asdict(settings),
        "method": method_notes(settings),
        "load_average_by_phase": {},
        "splits": {},
    }
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlnews-bench-") as tmp:
        runner = Runner(Path(tmp), worker_env(data_dir), quiet=quiet)
        for split in splits:
            results["load_average_by_phase"][split] = load_average()
            results["splits"][split] = bench_split(runner, split, data_dir, settings, overrides, Path(tmp))
    results["wall_seconds"] = time.perf_counter() - clock
    results["load_average_end"] = load_average()
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    results["targets"] = evaluate_targets(results)
    return results


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_result_files(out_dir: Path, stamped: str, latest: str, results: dict, markdown: str) -> list[Path]:
    """Every benchmark's record: <stamped>.json, and <latest>.json + <latest>.md replacing the last run's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    written = [out_dir / f"{stamped}.json", out_dir / f"{latest}.json", out_dir / f"{latest}.md"]
    _write(written[0], text)
    _write(written[1], text)
    _write(written[2], markdown)
    return written


def write_results(results: dict, out_dir: Path) -> list[Path]:
    """<run_id>.json plus latest.json/latest.md; a quick run writes only <run_id>-quick.json."""
    if results.get("quick"):
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{results['run_id']}-quick.json"
        _write(path, json.dumps(results, indent=2, sort_keys=True) + "\n")
        return [path]
    return write_result_files(out_dir, results["run_id"], "latest", results, render_markdown(results))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run_benchmark(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    written = write_results(results, args.out)
    print(render_markdown(results))
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
