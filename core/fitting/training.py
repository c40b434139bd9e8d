"""Training: fit the pipeline (features -> linear classifier -> temperature) and write the model directory.

The fitted scikit-learn pipeline is the training artifact; `core.fitting.export` writes the numpy bundle that
`core.model.bundle` serves. Hyperparameters: core.fitting.hyperparameters; the pipeline's steps:
core.fitting.features and core.fitting.classifier.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline

from core.data.dataset import NewsRecord
from core.fitting.classifier import TemperatureScaledLinearClassifier
from core.fitting.export import export_bundle
from core.fitting.features import TextComposer, build_features, csr_row_slice, resolve_embeddings
from core.fitting.hyperparameters import Hyperparameters, TrainingError
from core.model import bundle_format
from core.model import manifest as manifest_mod
from core.model.evaluation import evaluate
from core.model.textproc import DEFAULT_TEXT_FIELDS, has_extra_text, validate_text_fields

FIT_STEPS = ("features", "classifier", "temperature", "validation")  # what on_step is told, in order


def _as_items(records: Sequence) -> list:
    return [r.model_dump() if isinstance(r, NewsRecord) else r for r in records]


def _labels(records: Sequence) -> list[str]:
    return [r.category if isinstance(r, NewsRecord) else r["category"] for r in records]


def _augment(items: list, labels: list[str], text_fields: tuple[str, ...]) -> tuple[list, list[str]]:
    """Add a headline-only copy of every record that has more than a headline (serving may see only that)."""
    out_items, out_labels = list(items), list(labels)
    for item, label in zip(items, labels, strict=True):
        if has_extra_text(item, text_fields):
            out_items.append({"headline": item["headline"]})
            out_labels.append(label)
    return out_items, out_labels


def _release_freed_memory() -> None:
    """Hand freed heap pages back to the OS: counting every n-gram of 210k records leaves hundreds of MB freed
    but kept by glibc's heap, which the large arrays of the fits that follow (their own mappings) cannot reuse
    (docs/scale.md). A no-op where the C library is not glibc."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def calibration_split(n: int, labels: Sequence[str], fraction: float, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, calibration): a seeded random slice per category so every class is represented."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    cal: list[int] = []
    for label in sorted(by_class):
        members = np.array(by_class[label])
        if len(members) < 3:
            continue
        k = max(1, int(round(len(members) * fraction)))
        cal.extend(rng.choice(members, size=k, replace=False).tolist())
    cal_idx = np.array(sorted(cal), dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[cal_idx] = False
    return np.flatnonzero(mask), cal_idx


def fit_pipeline(records: Sequence, hyperparameters: Hyperparameters | Mapping | None = None,
                 text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS, embeddings=None,
                 on_step: Callable[[str], None] | None = None) -> tuple[Pipeline, dict]:
    """Fit the pipeline; return it and validation metrics measured on the held-out calibration slice.
    `on_step` is called with each of FIT_STEPS as it starts (the CLI's progress bar)."""
    hp = Hyperparameters.parse(hyperparameters)
    try:
        fields = validate_text_fields(text_fields)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    items, labels = _as_items(records), _labels(records)
    if not items:
        raise TrainingError("no training records")
    counts = Counter(labels)
    if len(counts) < 2:
        raise TrainingError("training needs at least two categories")
    embeddings = resolve_embeddings(hp, embeddings)

    step = on_step or (lambda _name: None)
    timings: dict[str, float] = {}

    fit_idx, cal_idx = calibration_split(len(items), labels, hp.calibration_fraction, hp.seed)
    fit_items = [items[i] for i in fit_idx]
    fit_labels = [labels[i] for i in fit_idx]
    cal_items = [items[i] for i in cal_idx]
    cal_labels = [labels[i] for i in cal_idx]
    if hp.headline_only_augment:
        fit_items, fit_labels = _augment(fit_items, fit_labels, fields)
        cal_aug_items, cal_aug_labels = _augment(cal_items, cal_labels, fields)
    else:
        cal_aug_items, cal_aug_labels = cal_items, cal_labels

    start = time.perf_counter()
    step("features")
    composer = TextComposer(fields)
    features = build_features(hp, embeddings)
    X_fit = features.fit_transform(composer.transform(fit_items))
    word = dict(features.transformer_list)["word"]
    word.vocabulary_ = dict(word.vocabulary_)  # compact: the pruned dict keeps a slot per n-gram counted
    _release_freed_memory()
    n_fit_rows = X_fit.shape[0]
    X_cal = features.transform(composer.transform(cal_aug_items)) if len(cal_items) else None
    X_all = None
    if hp.refit_full and X_cal is not None:
        # one matrix for the refit, the fit and calibration rows views of it: no copy at the refit
        X_all = sparse.vstack([X_fit, X_cal], format="csr")
        del X_fit, X_cal
        X_fit = csr_row_slice(X_all, 0, n_fit_rows)
        X_cal = csr_row_slice(X_all, n_fit_rows, X_all.shape[0])
    n_train_augmented = len(fit_items)
    del fit_items, cal_aug_items  # their texts are in the matrices now: the fits need the memory
    timings["features"] = time.perf_counter() - start

    start = time.perf_counter()
    step("classifier")
    clf = TemperatureScaledLinearClassifier(
        classifier=hp.classifier, C=hp.C, solver=hp.solver, max_iter=hp.max_iter, tol=hp.tol,
        class_weight=None if hp.class_weight == "none" else "balanced", random_state=hp.seed,
    )
    clf.fit(X_fit, fit_labels)
    timings["fit"] = time.perf_counter() - start

    start = time.perf_counter()
    step("temperature")
    pipeline = Pipeline([("text", composer), ("features", features), ("clf", clf)])
    if X_cal is not None:
        clf.calibrate(X_cal, cal_aug_labels)
    timings["calibrate"] = time.perf_counter() - start

    step("validation")
    metrics: dict = {
        "n_train": len(fit_idx), "n_train_augmented": n_train_augmented, "n_validation": len(cal_idx),
        "temperature": clf.temperature_, "classifier_iterations": clf.n_iter_,
        "n_features": int(X_fit.shape[1]), "embeddings": embeddings is not None,
    }
    if len(cal_items):
        classes = [str(c) for c in clf.classes_]
        # the calibration matrix starts with cal_items' rows (_augment appends the headline-only copies)
        report = evaluate(cal_labels, clf.predict_proba(X_cal[: len(cal_items)]), classes)
        metrics.update({k: report[k] for k in ("accuracy", "macro_f1", "top3_accuracy", "ece", "n")})
        headline_only = [{"headline": item["headline"]} for item in cal_items]
        ho = evaluate(cal_labels, pipeline.predict_proba(headline_only), classes)
        metrics["headline_only_accuracy"] = ho["accuracy"]
        metrics["headline_only_macro_f1"] = ho["macro_f1"]
    if X_all is not None:
        # The figures above are the held-out estimate; the shipped model also learns from that slice,
        # keeping the temperature fitted on it.
        start = time.perf_counter()
        temperature = clf.temperature_
        del X_fit, X_cal
        clf.fit(X_all, list(fit_labels) + list(cal_aug_labels))
        clf.temperature_ = temperature
        timings["refit"] = time.perf_counter() - start
    metrics["refit_full"] = X_all is not None
    metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return pipeline, metrics


def train_to_dir(records: Sequence, out_dir: str | os.PathLike,
                 hyperparameters: Hyperparameters | Mapping | None = None,
                 text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS, embeddings=None,
                 version: str | None = None, on_step: Callable[[str], None] | None = None) -> dict:
    """Fit and write a model directory (pipeline.joblib, bundle/, metrics.json, manifest.json).

    Returns the manifest. `embeddings` overrides the packaged static embeddings (tests);
    `version` labels the bundle (default: time stamp + data fingerprint prefix).
    """
    hp = Hyperparameters.parse(hyperparameters)
    start = time.perf_counter()
    pipeline, metrics = fit_pipeline(records, hp, text_fields, embeddings=embeddings, on_step=on_step)
    training_seconds = time.perf_counter() - start
    metrics["training_seconds"] = round(training_seconds, 3)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    created = dt.datetime.now(dt.UTC)
    fingerprint = manifest_mod.data_fingerprint(records)
    if version is None:
        version = created.strftime("%Y%m%dT%H%M%SZ") + "-" + fingerprint[:8]
    joblib.dump(pipeline, out / "pipeline.joblib", compress=3)
    export_bundle(pipeline, out / "bundle", version)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    categories = Counter(_labels(records))
    return manifest_mod.write_manifest(
        out,
        version=version,
        created_at=created.isoformat().replace("+00:00", "Z"),
        data={"fingerprint": fingerprint, "n_records": len(records),
              "categories": dict(sorted(categories.items()))},
        hyperparameters=hp.model_dump(),
        text_fields=list(pipeline.named_steps["text"].text_fields),
        metrics=metrics,
        bundle_sha256=bundle_format.bundle_digest(out / "bundle"),
    )
