"""Targets (PASS/MISS) and the Markdown table of a benchmark result."""

from __future__ import annotations

from collections.abc import Mapping

# the input each split is read with: name of its main training config and of its main test set
MAIN_INPUT = {"bal41": "headline", "v3-temporal": "headline+description"}
V3_EVALS = ("headline+description", "headline-only", "headline+description+authors")
MODELS = (("ours", "ours"), ("tuned", "tuned reference"), ("naive", "naive reference"))
# shared/data/README.md's figures for the references (bal41, v3-temporal headline+description): a check that
# the references here are built as described there
PUBLISHED = {"tuned": ((0.520, 0.517), (0.646, 0.286)), "naive": ((0.468, 0.468), (0.608, 0.172))}

BAL41_ACCURACY = 0.55
V3_ACCURACY = 0.70
COLD_START_S = 0.35
COLD_START_SPEEDUP = 4.0
SINGLE_P50_MS = 1.0
THROUGHPUT_RATIO = 3.0
BUNDLE_MB = 15.0
TRAINING_BAL41_S = 60.0
MB = 1_000_000  # decimal megabytes: the stricter reading of "15 MB"


def _get(data: Mapping, *keys, default=None):
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return default
        data = data[key]
    return data


def _target(name: str, split: str, value: float | None, limit: float, at_least: bool, unit: str,
            spec: str) -> dict:
    """One target row: PASS/MISS against limit (>= when at_least, else <=), NOT RUN when unmeasured."""
    if value is None:
        result = "NOT RUN"
    else:
        result = "PASS" if (value >= limit if at_least else value <= limit) else "MISS"
    goal = f"{'>=' if at_least else '<='} {limit:g}{unit}"
    return {"target": name, "split": split, "value": value, "goal": goal, "shown": _fmt(value, spec, unit),
            "result": result}


def evaluate_targets(results: Mapping) -> list[dict]:
    """Every target of the brief, per split where it applies; NOT RUN when the figure was not measured."""
    splits = results.get("splits", {})
    out = [
        _target("accuracy", "bal41", _get(splits, "bal41", "accuracy", "headline", "ours", "accuracy"),
                BAL41_ACCURACY, True, "", ".3f"),
        _target("accuracy (headline+description)", "v3-temporal",
                _get(splits, "v3-temporal", "accuracy", "headline+description", "ours", "accuracy"),
                V3_ACCURACY, True, "", ".3f"),
    ]
    for split in ("bal41", "v3-temporal"):
        data = splits.get(split) or {}
        cold = data.get("cold_start") or {}
        ours = _get(cold, "ours_bundle", "median_s")
        out.append(_target("cold start median", split, ours, COLD_START_S, False, " s", ".3f"))
        baselines = [_get(cold, name, "median_s") for name in ("ours_pipeline_joblib", "tuned_joblib")]
        speedup = min(baselines) / ours if ours and None not in baselines else None
        out.append(_target("cold start speed-up vs the faster joblib load", split, speedup,
                           COLD_START_SPEEDUP, True, "x", ".1f"))
        p50 = _get(data, "latency", "ours_predict_explain", "cold", "p50_ms")
        out.append(_target("single-item p50, predict + explanation (cold pass)", split, p50,
                           SINGLE_P50_MS, False, " ms", ".3f"))
        out.append(throughput_target(data, split))
        size = _get(data, "training", MAIN_INPUT[split], "ours", "artifact_bytes")
        out.append(_target("bundle size", split, None if size is None else size / MB, BUNDLE_MB, False,
                           " MB", ".2f"))
    seconds = _get(splits, "bal41", "training", "headline", "ours", "seconds")
    out.append(_target("training time", "bal41", seconds, TRAINING_BAL41_S, False, " s", ".1f"))
    return out


def throughput_target(data: Mapping, split: str) -> dict:
    """Ours (cold pass) / tuned reference >= 3x, and only at equal or better accuracy than the tuned one."""
    name = "batch throughput vs tuned (cold pass), at >= its accuracy"
    ours = _get(data, "throughput", "ours_predict_proba", "cold", "headlines_per_s")
    tuned = _get(data, "throughput", "tuned_predict", "warm", "headlines_per_s")
    row = _target(name, split, ours / tuned if ours is not None and tuned else None, THROUGHPUT_RATIO, True,
                  "x", ".1f")
    our_acc = _get(data, "accuracy", MAIN_INPUT[split], "ours", "accuracy")
    tuned_acc = _get(data, "accuracy", MAIN_INPUT[split], "tuned", "accuracy")
    if row["result"] != "NOT RUN" and (our_acc is None or tuned_acc is None or our_acc < tuned_acc):
        row["result"] = "MISS"
        row["shown"] += " (accuracy below tuned)"
    return row


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{format(value, spec)}{unit}"


def _pair(entry: Mapping | None) -> str:
    if not entry:
        return "-"
    return f"{entry['accuracy']:.3f} / {entry['macro_f1']:.3f}"


def _mb(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / MB:.2f}"


def render_markdown(results: Mapping) -> str:
    """The Markdown report quoted by the README: accuracy, cost and targets tables plus the run's facts."""
    machine = results.get("machine", {})
    splits = results.get("splits", {})
    load_start = results.get("load_average_start") or []
    load_end = results.get("load_average_end") or []
    lines = [
        f"# Benchmark {results.get('run_id', '')}" + (" (quick smoke run: subsampled)" if results.get("quick")
                                                        else ""),
        "",
        f"- machine: {machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}), "
        f"{machine.get('memory_gb', '?')} GB RAM; Python {machine.get('python')}, "
        f"numpy {machine.get('numpy')}, scikit-learn {machine.get('scikit-learn')}",
        f"- load average (1/5/15 min) at start {_loads(load_start)}, at end {_loads(load_end)} "
        "(shared machine: high load means noisy timings)",
        f"- commit {results.get('git', {}).get('commit', '?')[:12]}"
        + _uncommitted(results.get("git", {}))
        + f"; wall time {results.get('wall_seconds', 0):.0f} s",
        f"- our hyperparameters: {_overrides(results)}; static embeddings: "
        f"{'yes' if _embeddings_used(results) else 'no'}",
        "",
        "## Accuracy / macro-F1 on the test sets",
        "",
        "| model | bal41 (headline) | v3-temporal headline+description | v3-temporal headline only "
        "(trained on headline+description) | v3-temporal headline+description+authors |",
        "|---|---|---|---|---|",
    ]
    for key, label in MODELS:
        cells = [_pair(_get(splits, "bal41", "accuracy", "headline", key))]
        cells += [_pair(_get(splits, "v3-temporal", "accuracy", name, key)) for name in V3_EVALS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, label in MODELS[1:]:
        (bal_acc, bal_f1), (v3_acc, v3_f1) = PUBLISHED[key]
        lines.append(f"| {label}, as published in shared/data/README.md | {bal_acc:.3f} / {bal_f1:.3f} | "
                     f"{v3_acc:.3f} / {v3_f1:.3f} | | |")
    lines += ["", "Ours, top-3 accuracy / expected calibration error (15 bins):", "",
              "| test input | top-3 accuracy | ECE |", "|---|---|---|"]
    for split, names in (("bal41", ("headline",)), ("v3-temporal", V3_EVALS)):
        for name in names:
            entry = _get(splits, split, "accuracy", name, "ours")
            if entry:
                lines.append(f"| {split} {name} | {entry['top3_accuracy']:.3f} | {entry['ece']:.3f} |")
    for split, data in splits.items():
        lines += ["", *_cost_table(split, data)]
    lines += ["", "## Targets", "", "| target | split | measured | goal | result |", "|---|---|---|---|---|"]
    for t in results.get("targets", []):
        lines.append(f"| {t['target']} | {t['split']} | {t['shown']} | {t['goal']} | {t['result']} |")
    lines += ["", "How measured: " + " ".join(results.get("method", {}).values()), ""]
    return "\n".join(lines)


def _cost_table(split: str, data: Mapping) -> list[str]:
    config = MAIN_INPUT[split]
    training = _get(data, "training", config) or {}
    cold = data.get("cold_start") or {}
    latency = data.get("latency") or {}
    thr = data.get("throughput") or {}

    def train_cell(key: str, field: str, spec: str) -> str:
        return _fmt(_get(training, key, field), spec)

    def lat(entry: Mapping | None, prefix: str = "") -> str:
        if not entry or f"{prefix}p50_ms" not in entry:
            return "-"
        return f"{entry[prefix + 'p50_ms']:.3f} / {entry[prefix + 'p99_ms']:.3f}"

    ours_lat = latency.get("ours_predict_explain", {})
    proba_lat = latency.get("ours_predict_proba", {})
    ours_thr = thr.get("ours_predict_proba", {})
    rows = [
        ("training wall time, s (fit + write artifacts)",
         train_cell("ours", "seconds", ".1f"), train_cell("tuned", "seconds", ".1f"),
         train_cell("naive", "seconds", ".1f")),
        ("peak RSS of the training process, MB (ru_maxrss)",
         train_cell("ours", "peak_rss_mb", ".0f"), train_cell("tuned", "peak_rss_mb", ".0f"),
         train_cell("naive", "peak_rss_mb", ".0f")),
        ("model on disk, MB",
         f"bundle {_mb(_get(training, 'ours', 'artifact_bytes'))} "
         f"(pipeline.joblib {_mb(_get(training, 'ours', 'pipeline_joblib_bytes'))})",
         f"joblib {_mb(_get(training, 'tuned', 'artifact_bytes'))}",
         f"joblib {_mb(_get(training, 'naive', 'artifact_bytes'))}"),
        ("cold start, median s (new process: import, load, predict 1)",
         f"bundle {_fmt(_get(cold, 'ours_bundle', 'median_s'), '.3f')} · pipeline.joblib "
         f"{_fmt(_get(cold, 'ours_pipeline_joblib', 'median_s'), '.3f')}",
         f"joblib {_fmt(_get(cold, 'tuned_joblib', 'median_s'), '.3f')}", "-"),
        ("single item, predict + explanation, p50 / p99 ms",
         f"cold {lat(ours_lat.get('cold'))} · warm {lat(ours_lat.get('warm'))}",
         f"predict {lat(_get(latency, 'tuned_predict', 'warm'))}", "-"),
        ("same, CPU time only (no waiting for a busy CPU), p50 / p99 ms",
         f"cold {lat(ours_lat.get('cold'), 'cpu_')} · warm {lat(ours_lat.get('warm'), 'cpu_')}",
         f"predict {lat(_get(latency, 'tuned_predict', 'warm'), 'cpu_')}", "-"),
        ("single item, predict_proba, p50 / p99 ms",
         f"cold {lat(proba_lat.get('cold'))} · warm {lat(proba_lat.get('warm'))}", "-", "-"),
        (f"batch of {thr.get('batch_size', '?')}, items/s (one core)",
         f"cold {_fmt(_get(ours_thr, 'cold', 'headlines_per_s'), ',.0f')} · warm "
         f"{_fmt(_get(ours_thr, 'warm', 'headlines_per_s'), ',.0f')}",
         _fmt(_get(thr, "tuned_predict", "warm", "headlines_per_s"), ",.0f"), "-"),
    ]
    python_start = _get(cold, "python_startup", "median_s")
    out = [f"## Cost on {split} (model trained on {config})", "",
           "| measure | ours | tuned reference | naive reference |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if python_start is not None:
        out += ["", f"A bare `python -c pass` takes {python_start:.3f} s (median) on this machine."]
    return out


def _uncommitted(git: Mapping) -> str:
    if not git.get("dirty"):
        return ""
    files = list(git.get("uncommitted", []))
    return " with uncommitted changes" + (f" ({', '.join(files)})" if files else "")


def _loads(values) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"


def _overrides(results: Mapping) -> str:
    overrides = results.get("hyperparameter_overrides") or {}
    if not overrides:
        return "Hyperparameters() defaults"
    return "defaults with " + ", ".join(f"{k}={v!r}" for k, v in sorted(overrides.items()))


def _embeddings_used(results: Mapping) -> bool:
    for data in results.get("splits", {}).values():
        for config in (data.get("training") or {}).values():
            if _get(config, "ours", "embeddings"):
                return True
    return False
