"""Training at the full dataset's size: wall time and peak memory of `training/train.py` on synthetic sets of
10k, 50k and 210k records (bench/synthetic_records.py), each in a fresh process as a training job runs it.

Usage: python -m bench.training_scale [--sizes 10000,50000,210000] [--python PATH] [--out DIR]
                                      [--data-dir DIR]   (make bench-scale)
Writes <out>/training-scale-<UTC time>.json, training-scale-latest.json and training-scale-latest.md. The 210k
run takes minutes: it is a benchmark, never a test. See docs/scale.md.

Per size: the synthetic set is written as JSON lines to a temporary directory (never to the repository), then
`training/train.py --train FILE` runs with the default hyperparameters and text fields (headline +
short_description) on the training image's Python (.venv-training, Python 3.12, the image's scikit-learn,
numpy and scipy; --python overrides), with every core (as on the training instance). Wall time is measured
from the parent (process start to exit: reading the data, fitting, writing the model directory); peak memory
is the process's ru_maxrss from wait4 (Linux: KiB). The load average is sampled every 2 s during each run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
DEFAULT_SIZES = (10_000, 50_000, 210_000)
INSTANCE_MEMORY_MB = 8192  # ml.m5.large, the template's default TrainingInstanceType
MEMORY_GOAL_MB = INSTANCE_MEMORY_MB / 2


class LoadSampler:
    """The 1-minute load average every `interval` seconds while a run lasts (other people's work shows)."""

    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(round(os.getloadavg()[0], 2))
            self._stop.wait(self.interval)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {}
        return {"min": min(self.samples), "median": statistics.median(self.samples), "max": max(self.samples)}


def install_job_requirements(python: Path, target: Path) -> Path:
    """What a training job installs before train.py runs (training/requirements.txt, from the wheels the
    source dir ships: training-wheels/ here), into `target`: the image's own packages stay the image's."""
    from local.training_image import REQUIREMENTS, WHEELS_DIR

    if not WHEELS_DIR.is_dir():
        raise RuntimeError(f"{WHEELS_DIR} is missing: `make training-wheels` builds it")
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
               "--no-deps", "--find-links", str(WHEELS_DIR), "--target", str(target), "-r", str(REQUIREMENTS)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"installing the job's requirements failed: {proc.stderr[-2000:]}")
    return target


def run_training(python: Path, data: Path, work: Path, job_packages: Path, repo: Path = REPO_ROOT) -> dict:
    """One training job as a fresh process: wall time, peak RSS, and what train.py wrote."""
    model_dir, output_dir = work / "model", work / "output"
    command = [str(python), str(repo / "training" / "train.py"), "--train", str(data), "--model-dir",
               str(model_dir), "--output-data-dir", str(output_dir), "--hyperparameters", "{}"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(repo), str(job_packages)])
    with LoadSampler() as load:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # stopped: the training process goes too
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed (exit {proc.returncode}): {output.decode()[-3000:]}")
    metrics = json.loads((model_dir / "metrics.json").read_text())
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average_1min": load.summary(),
        "fit_timings_s": metrics.get("timings"),
        "training_seconds_in_process": metrics.get("training_seconds"),
        "n_train_augmented": metrics.get("n_train_augmented"),
        "n_features": metrics.get("n_features"),
        "validation_accuracy": metrics.get("accuracy"),
        "validation_ece": metrics.get("ece"),
        "bundle_mb": round(sum(p.stat().st_size for p in (model_dir / "bundle").iterdir()) / 1e6, 2),
    }


def machine_facts(python: Path) -> dict:
    """The host's facts (bench.run), with the versions of the interpreter that trains."""
    from bench.run import machine_facts as host_facts

    libraries = subprocess.run(
        [str(python), "-c", "import json, platform, joblib, numpy, scipy, sklearn; print(json.dumps("
         "{'python': platform.python_version(), 'numpy': numpy.__version__, 'scipy': scipy.__version__, "
         "'scikit-learn': sklearn.__version__, 'joblib': joblib.__version__}))"],
        capture_output=True, text=True, check=True).stdout
    return {**host_facts(), "training_python": str(python), **json.loads(libraries)}


def render_markdown(results: dict) -> str:
    from bench.run import commit_label

    facts = results["machine"]
    lines = [
        f"# Training at scale {results['run_id']}",
        "",
        f"- machine: {facts.get('cpu_count')} CPUs ({facts.get('cpu_model', '?')}), "
        f"{facts.get('memory_gb', '?')} GB RAM; training on Python {facts['python']}, "
        f"scikit-learn {facts['scikit-learn']}, numpy {facts['numpy']}, scipy {facts['scipy']}",
        f"- commit {commit_label(results['git'])}; synthetic sets grown from the v3 sample "
        f"(seed {results['seed']}); default hyperparameters, headline + short_description",
        f"- goal: time linear in the records, peak memory under {MEMORY_GOAL_MB:.0f} MB "
        "(half of ml.m5.large) at 210k",
        "",
        "| records | wall time, s | peak RSS, MB | CPU time, s | features, fit, calibrate, refit, s | "
        "training rows | features | validation accuracy / ECE | load average (1 min) during the run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, run in results["runs"].items():
        timings = run.get("fit_timings_s") or {}
        steps = ", ".join(f"{timings.get(k, 0):.0f}" for k in ("features", "fit", "calibrate", "refit"))
        load = run.get("load_average_1min") or {}
        lines.append(
            f"| {int(size):,} | {run['seconds']:.0f} | {run['peak_rss_mb']:.0f} | {run['cpu_seconds']:.0f} | "
            f"{steps} | {run.get('n_train_augmented') or 0:,} | {run.get('n_features') or 0:,} | "
            f"{run.get('validation_accuracy') or 0:.3f} / {run.get('validation_ece') or 0:.3f} | "
            f"{load.get('min', '?')}-{load.get('max', '?')} (median {load.get('median', '?')}) |"
        )
    lines += ["", "Wall time from the parent (process start to exit: reading the JSON lines, fitting, "
              "writing the model directory); peak RSS = ru_maxrss of the training process (wait4). The "
              "machine is shared: compare runs at similar load."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.training_scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in DEFAULT_SIZES),
                        help="comma-separated record counts (default %(default)s)")
    parser.add_argument("--python", type=Path, default=None,
                        help="interpreter that trains (default .venv-training's when present, "
                        "else this one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the shared data (default: $MLNEWS_DATA_DIR or ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run_sizes(results: dict, sizes: list[int], source: list[dict], python: Path, seed: int) -> None:
    """Each size in turn: the synthetic set and the job's packages in temporary folders, removed after."""
    from bench.synthetic_records import write_synthetic_set

    with tempfile.TemporaryDirectory(prefix="mlnews-scale-packages-") as packages:
        job_packages = install_job_requirements(python, Path(packages))
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix=f"mlnews-scale-{size}-") as tmp:
                work = Path(tmp)
                data = write_synthetic_set(source, size, work / "train.jsonl", seed=seed)
                print(f"training on {size:,} synthetic records ...", file=sys.stderr, flush=True)
                run = run_training(python, data, work, job_packages)
                print(f"  {run['seconds']:.0f} s, peak {run['peak_rss_mb']:.0f} MB", file=sys.stderr,
                      flush=True)
                results["runs"][str(size)] = run


def main(argv: list[str] | None = None) -> int:
    from bench.run import git_facts, write_result_files
    from bench.synthetic_records import read_source
    from core.data.shared_data import V3_SAMPLE_FILE, shared_data_dir
    from local.training_image import env_python

    args = parse_args(argv)
    try:
        sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        print(f"training scale: error: --sizes takes record counts, not {args.sizes!r}", file=sys.stderr)
        return 2
    if not sizes or min(sizes) < 100:
        print("training scale: error: --sizes needs record counts of at least 100", file=sys.stderr)
        return 2
    # a stopped run removes its temporary data (TemporaryDirectory cleans up on SystemExit, not on SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    training_python = env_python()
    python = args.python or (training_python if training_python.exists() else Path(sys.executable))
    sample = (args.data_dir or shared_data_dir()) / V3_SAMPLE_FILE
    if not sample.is_file():
        print(f"training scale: error: {sample} not found (pass --data-dir or set MLNEWS_DATA_DIR)",
              file=sys.stderr)
        return 2
    source = read_source(sample)
    started = dt.datetime.now(dt.UTC)
    results: dict = {"run_id": started.strftime("%Y%m%dT%H%M%SZ"), "git": git_facts(),
                     "seed": args.seed, "machine": machine_facts(python), "memory_goal_mb": MEMORY_GOAL_MB,
                     "runs": {}}
    try:
        run_sizes(results, sizes, source, python, args.seed)
    except RuntimeError as exc:
        print(f"training scale: error: {exc}", file=sys.stderr)
        return 2
    markdown = render_markdown(results)
    stamped = f"training-scale-{results['run_id']}"
    write_result_files(args.out, stamped, "training-scale-latest", results, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
