"""Cold start: wall time of a fresh interpreter that imports the serving code, loads a model and predicts one
headline, measured from the parent (interpreter start included)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.latency_stats import median

OURS_BUNDLE = """
import json, sys, time
t0 = time.perf_counter()
from core.model.bundle import ServingModel
t1 = time.perf_counter()
model = ServingModel.load(sys.argv[1])
t2 = time.perf_counter()
out = model.predict([json.loads(sys.argv[2])])[0]["category"]
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "predict_s": t3 - t2, "category": out,
                  "sklearn_imported": "sklearn" in sys.modules}))
"""

JOBLIB_PIPELINE = """
import json, sys, time
t0 = time.perf_counter()
import joblib
t1 = time.perf_counter()
pipeline = joblib.load(sys.argv[1])
t2 = time.perf_counter()
out = str(pipeline.predict([json.loads(sys.argv[2])])[0])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "predict_s": t3 - t2, "category": out,
                  "sklearn_imported": "sklearn" in sys.modules}))
"""

PYTHON_STARTUP = "pass"


def cold_start_commands(python: str, bundle_dir: Path, pipeline_joblib: Path, tuned_joblib: Path,
                        item: Mapping, text: str) -> dict[str, list[str]]:
    """The processes to time: our bundle, our pipeline.joblib, the tuned reference, a bare interpreter."""
    return {
        "ours_bundle": [python, "-c", OURS_BUNDLE, str(bundle_dir), json.dumps(dict(item))],
        "ours_pipeline_joblib": [python, "-c", JOBLIB_PIPELINE, str(pipeline_joblib), json.dumps(dict(item))],
        "tuned_joblib": [python, "-c", JOBLIB_PIPELINE, str(tuned_joblib), json.dumps(text)],
        "python_startup": [python, "-c", PYTHON_STARTUP],
    }


def measure_cold_starts(commands: Mapping[str, Sequence[str]], runs: int, cwd: Path, env: Mapping[str, str],
                        warmup_rounds: int = 1) -> dict:
    """Run the commands round-robin (so machine noise spreads evenly); the first round only warms the
    page cache and .pyc files and is discarded. Returns per command the median and every run."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    inner: dict[str, list[dict]] = {name: [] for name in commands}
    for round_index in range(warmup_rounds + runs):
        for name, command in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(list(command), cwd=cwd, env=dict(env), capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                tail = proc.stderr[-2000:]
                raise RuntimeError(f"cold start {name} failed (exit {proc.returncode}): {tail}")
            if round_index < warmup_rounds:
                continue
            walls[name].append(wall)
            lines = proc.stdout.strip().splitlines()
            if lines and lines[-1].startswith("{"):
                inner[name].append(json.loads(lines[-1]))
    out = {}
    for name, values in walls.items():
        entry: dict = {"median_s": median(values), "runs_s": values}
        if inner[name]:
            entry["in_process_median_s"] = {
                key: median([r[key] for r in inner[name]]) for key in ("import_s", "load_s", "predict_s")
            }
            entry["sklearn_imported"] = any(r["sklearn_imported"] for r in inner[name])
            entry["category"] = inner[name][-1]["category"]
        out[name] = entry
    return out
