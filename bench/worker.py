"""Measurements that must run in a fresh process: `python -m bench.worker TASK SPEC.json RESULT.json`.

run.py starts every worker with OMP/OPENBLAS/MKL threads set to 1, so the figures are single-core.
Peak memory is the process's ru_maxrss (Linux: KiB), read right after training, before evaluation.
"""

from __future__ import annotations

import gc
import json
import math
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.latency_stats import median, summarise_latencies, throughput
from bench.reference import build_reference, reference_text

EVAL_KEYS = ("accuracy", "macro_f1", "top3_accuracy", "ece", "n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_split(spec: dict):
    """Standard split, subsampled (seeded) when the spec sets limits (--quick)."""
    from core.data.splits import standard_split

    train, test = standard_split(spec["split"], spec["data_dir"])
    limits = spec.get("limits") or {}
    if limits.get("train") and len(train) > limits["train"]:
        train = random.Random(0).sample(train, limits["train"])
    if limits.get("test") and len(test) > limits["test"]:
        test = random.Random(1).sample(test, limits["test"])
    return train, test


def items_of(records: Sequence, fields: Sequence[str]) -> list[dict]:
    """What serving receives: only the chosen fields of each record."""
    return [{field: getattr(r, field) for field in fields if getattr(r, field)} for r in records]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def train_ours(spec: dict) -> dict:
    from core.fitting.training import train_to_dir
    from core.model.bundle import ServingModel
    from core.model.evaluation import evaluate

    train, test = load_split(spec)
    model_dir = Path(spec["model_dir"])
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    manifest = train_to_dir(train, model_dir, hyperparameters=spec["hyperparameters"],
                            text_fields=spec["train_fields"], version="bench")
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()

    model = ServingModel.load(model_dir)
    labels = [r.category for r in test]
    evals = {}
    for name, fields in spec["evals"].items():
        report = evaluate(labels, model.predict_proba(items_of(test, fields)), model.classes)
        evals[name] = {key: report[key] for key in EVAL_KEYS}
    metrics = manifest["metrics"]
    return {
        "n_train": len(train),
        "n_test": len(test),
        "training": {
            "seconds": seconds,
            "fit_seconds": metrics.get("training_seconds"),
            "peak_rss_mb": peak,
            "rss_before_fit_mb": rss_before,
            "artifact_bytes": dir_bytes(model_dir / "bundle"),
            "pipeline_joblib_bytes": (model_dir / "pipeline.joblib").stat().st_size,
        },
        "model": {
            "hyperparameters": manifest["hyperparameters"],
            "embeddings": metrics.get("embeddings"),
            "n_features": metrics.get("n_features"),
            "classifier_iterations": metrics.get("classifier_iterations"),
            "temperature": metrics.get("temperature"),
            "timings": metrics.get("timings"),
            "validation_accuracy": metrics.get("accuracy"),
        },
        "evals": evals,
        "sample_item": items_of(test[:1], spec["train_fields"])[0],
    }


def train_reference(spec: dict) -> dict:
    import joblib
    from sklearn.metrics import accuracy_score, f1_score

    train, test = load_split(spec)
    texts = [reference_text(r, spec["train_fields"]) for r in train]
    labels = [r.category for r in train]
    pipeline = build_reference(spec["kind"])
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    pipeline.fit(texts, labels)
    fit_seconds = time.perf_counter() - start
    path = Path(spec["joblib_path"])
    joblib.dump(pipeline, path)  # uncompressed: the fastest joblib load, i.e. the strongest baseline
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()

    truth = [r.category for r in test]
    evals = {}
    for name, fields in spec["evals"].items():
        predicted = pipeline.predict([reference_text(r, fields) for r in test])
        evals[name] = {
            "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro")),
            "n": len(truth),
        }
    return {
        "n_train": len(train),
        "n_test": len(test),
        "training": {
            "seconds": seconds,
            "fit_seconds": fit_seconds,
            "peak_rss_mb": peak,
            "rss_before_fit_mb": rss_before,
            "artifact_bytes": path.stat().st_size,
        },
        "evals": evals,
    }


def time_calls(call: Callable[[object], object], inputs: Sequence) -> tuple[list[float], list[float]]:
    """Wall time and this thread's CPU time of call(x) for each input, in seconds. Under load the wall time
    includes waits for the CPU (preemption); the CPU time does not, which tells noise from work."""
    clock, cpu_clock = time.perf_counter, time.thread_time
    walls, cpus = [], []
    for x in inputs:
        cpu_start = cpu_clock()
        start = clock()
        call(x)
        walls.append(clock() - start)
        cpus.append(cpu_clock() - cpu_start)
    return walls, cpus


def latency_summary(samples: tuple[list[float], list[float]]) -> dict:
    walls, cpus = samples
    summary = summarise_latencies(walls)
    cpu = summarise_latencies(cpus)
    summary.update({"cpu_p50_ms": cpu["p50_ms"], "cpu_p99_ms": cpu["p99_ms"]})
    return summary


def cycle_to(values: Sequence, n: int) -> list:
    return (list(values) * math.ceil(n / len(values)))[:n]


def serving(spec: dict) -> dict:
    """Single-item latency and batch throughput: ours (fresh model = cold pass, then warm) vs tuned."""
    import joblib

    from core.model.bundle import ServingModel

    _, test = load_split(spec)
    fields = spec["fields"]
    items = items_of(test, fields)
    texts = [reference_text(r, fields) for r in test]
    n_calls = spec["n_calls"]
    single_items, single_texts = cycle_to(items, n_calls), cycle_to(texts, n_calls)
    model_dir = spec["model_dir"]

    latency: dict = {}
    model = ServingModel.load(model_dir)
    cold = latency_summary(time_calls(lambda item: model.predict([item]), single_items))
    warm = latency_summary(time_calls(lambda item: model.predict([item]), single_items))
    explained = sum(1 for item in single_items[:200] if model.predict([item])[0]["explanation"])
    latency["ours_predict_explain"] = {"cold": cold, "warm": warm,
                                       "with_explanation_terms": explained / min(200, len(single_items))}
    del model
    gc.collect()  # the previous model's memory must not be reclaimed while the next one is timed
    model = ServingModel.load(model_dir)
    cold = latency_summary(time_calls(lambda item: model.predict_proba([item]), single_items))
    warm = latency_summary(time_calls(lambda item: model.predict_proba([item]), single_items))
    latency["ours_predict_proba"] = {"cold": cold, "warm": warm}
    del model
    gc.collect()

    tuned = joblib.load(spec["tuned_joblib"])
    time_calls(lambda text: tuned.predict([text]), single_texts[:50])  # warm-up; scikit-learn keeps no cache
    samples = time_calls(lambda text: tuned.predict([text]), single_texts)
    latency["tuned_predict"] = {"warm": latency_summary(samples)}

    repeats = spec["throughput_repeats"]
    ours_cold, ours_warm, ref = [], [], []
    for _ in range(repeats):
        gc.collect()
        model = ServingModel.load(model_dir)
        start = time.perf_counter()
        model.predict_proba(items)
        ours_cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict_proba(items)
        ours_warm.append(time.perf_counter() - start)
        start = time.perf_counter()
        tuned.predict(texts)
        ref.append(time.perf_counter() - start)

    def rate(seconds: list[float]) -> dict:
        return {"headlines_per_s": throughput(len(items), median(seconds)), "seconds": seconds}

    return {
        "latency": latency,
        "throughput": {
            "batch_size": len(items),
            "repeats": repeats,
            "ours_predict_proba": {"cold": rate(ours_cold), "warm": rate(ours_warm)},
            "tuned_predict": {"warm": rate(ref)},
        },
    }


TASKS = {"train_ours": train_ours, "train_reference": train_reference, "serving": serving}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 3 or argv[0] not in TASKS:
        print(f"usage: python -m bench.worker {{{','.join(TASKS)}}} SPEC.json RESULT.json", file=sys.stderr)
        return 2
    task, spec_path, result_path = argv
    spec = json.loads(Path(spec_path).read_text())
    result = TASKS[task](spec)
    Path(result_path).write_text(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
