"""Training: word n-gram TF-IDF + static embeddings -> linear classifier -> temperature.

The fitted scikit-learn pipeline is the training artifact; `core.model.bundle` serves the same model with
numpy from the bundle written here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from core.data.dataset import NewsRecord
from core.errors import MlNewsError
from core.model import bundle_format
from core.model import manifest as manifest_mod
from core.model.embeddings import embedding_block
from core.model.evaluation import evaluate
from core.model.textproc import (
    DEFAULT_TEXT_FIELDS,
    WordAnalyzer,
    compose_text,
    has_extra_text,
    validate_text_fields,
)

log = logging.getLogger(__name__)


class TrainingError(MlNewsError, ValueError):
    """Training input is unusable (empty data, a single category, bad text fields or hyperparameters)."""


class Hyperparameters(BaseModel):
    """Every training knob. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    classifier: Literal["linear_svm", "logreg"] = Field(
        "linear_svm", description="linear SVM (one-vs-rest) or multinomial logistic regression; both "
        "calibrated by temperature scaling of their decision values")
    C: float = Field(0.5, gt=0, description="inverse L2 regularisation")
    solver: Literal["saga", "lbfgs"] = "saga"
    max_iter: int = Field(100, ge=1, le=5000)
    tol: float = Field(1e-2, gt=0, description="saga stops early at this tolerance (also regularises)")
    class_weight: Literal["none", "balanced"] = "none"
    word_ngram_max: int = Field(2, ge=1, le=3)
    word_min_df: int = Field(2, ge=1)
    word_max_features: int | None = Field(100_000, ge=1)
    char_ngrams: bool = Field(False, description="retired: only false, which hyperparameter sets written "
                              "when char n-grams were an option may still carry")
    embeddings: Literal["default", "none"] = "default"
    embedding_weight: float = Field(2.0, ge=0)
    headline_only_augment: bool = True
    calibration_fraction: float = Field(0.1, gt=0, lt=0.5)
    refit_full: bool = Field(True, description="after calibration, refit the classifier on all the data")
    seed: int = 0

    @field_validator("char_ngrams")
    @classmethod
    def _char_ngrams_removed(cls, value: bool) -> bool:
        if value:
            raise ValueError("char n-gram features were removed (measured: 3x the bundle, a point less on "
                             "v3-temporal; README, What did not work)")
        return value

    @classmethod
    def parse(cls, values: Hyperparameters | Mapping | None) -> Hyperparameters:
        """Validate user-supplied hyperparameters; raise TrainingError with a readable message."""
        if values is None:
            return cls()
        if isinstance(values, Hyperparameters):
            return values
        if not isinstance(values, Mapping):
            raise TrainingError("hyperparameters must be a JSON object")
        try:
            hp = cls.model_validate(dict(values))
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(x) for x in err.get("loc", ())) or "hyperparameters"
                if err.get("type") == "extra_forbidden":
                    problems.append(f"unknown hyperparameter {key!r}")
                else:
                    problems.append(f"{key}: {err.get('msg')}")
            known = ", ".join(cls.model_fields)
            message = "bad hyperparameters: " + "; ".join(problems) + f" (known: {known})"
            raise TrainingError(message) from None
        return hp


# ---------------------------------------------------------------- pipeline steps


class TextComposer(BaseEstimator, TransformerMixin):
    """Records (dicts, NewsRecord or bare headlines) -> one text per record, as serving composes it."""

    def __init__(self, text_fields: tuple[str, ...] = DEFAULT_TEXT_FIELDS):
        self.text_fields = text_fields

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:  # stateless
        return True

    def transform(self, X):
        fields = tuple(self.text_fields)
        return [compose_text(item, fields) for item in X]


class EmbeddingBlock(BaseEstimator, TransformerMixin):
    """Mean of static token vectors times a weight (dense block of the feature union)."""

    def __init__(self, embeddings=None, weight: float = 1.0):
        self.embeddings = embeddings
        self.weight = weight

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:  # stateless
        return True

    def transform(self, X):
        return embedding_features(self.embeddings, list(X), self.weight)


def embedding_features(embeddings, texts: Sequence[str], weight: float) -> np.ndarray:
    """The embedding block exactly as serving computes it (float64)."""
    return embedding_block(embeddings.embed(texts), weight)


class TemperatureScaledLinearClassifier(BaseEstimator, ClassifierMixin):
    """A linear classifier (SVM or logistic regression) whose probabilities are softmax(decision / T).

    Coefficients are rounded to float16 after fitting so the numpy bundle (float16 weights on disk) computes
    with the very same numbers.
    """

    def __init__(self, classifier: str = "linear_svm", C: float = 0.5, solver: str = "saga",
                 max_iter: int = 100, tol: float = 1e-2, class_weight=None, random_state: int = 0):
        self.classifier = classifier
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):
        if self.classifier == "linear_svm":
            model = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)
        else:
            model = LogisticRegression(C=self.C, solver=self.solver, max_iter=self.max_iter, tol=self.tol,
                                       class_weight=self.class_weight, random_state=self.random_state)
        with warnings.catch_warnings():
            # early stopping at `tol` is deliberate: saga's ConvergenceWarning is noise here
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        coef, intercept = model.coef_, np.atleast_1d(model.intercept_)
        if coef.shape[0] == 1:  # two classes: one decision value s becomes logits (-s/2, s/2)
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.concatenate([-intercept / 2, intercept / 2])
        self.classes_ = model.classes_
        self.coef_ = coef.astype(np.float16).astype(np.float64)  # exactly what the bundle stores
        self.intercept_ = intercept.astype(np.float64)
        self.n_iter_ = int(np.max(model.n_iter_))
        self.temperature_ = 1.0
        return self

    def decision_function(self, X):
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def calibrate(self, X, y) -> float:
        """Fit the single temperature T minimising the negative log-likelihood on held-out data."""
        logits = self.decision_function(X)
        index = {c: i for i, c in enumerate(self.classes_)}
        known = np.array([label in index for label in y])
        if not known.any():
            self.temperature_ = 1.0
            return 1.0
        logits = logits[known]
        target = np.array([index[label] for label, k in zip(y, known, strict=True) if k])

        def nll(log_t: float) -> float:
            z = logits / math.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            logsum = np.log(np.exp(z).sum(axis=1))
            return float(np.mean(logsum - z[np.arange(len(target)), target]))

        # T in [0.1, 10]: beyond that a tiny or separable held-out slice is talking, not calibration
        result = minimize_scalar(nll, bounds=(math.log(0.1), math.log(10.0)), method="bounded",
                                 options={"xatol": 1e-4})
        self.temperature_ = float(math.exp(result.x))
        return self.temperature_

    def predict_proba(self, X):
        z = self.decision_function(X) / self.temperature_
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def resolve_embeddings(hp: Hyperparameters, embeddings=None):
    """The StaticEmbeddings to use, or None (hyperparameter 'none', or no packaged asset)."""
    if hp.embeddings == "none" or hp.embedding_weight == 0:
        return None
    if embeddings is not None:
        return embeddings
    try:
        from core.model.embeddings import StaticEmbeddings
    except ImportError:
        log.warning("core.model.embeddings is not available: training without the embedding block")
        return None
    return StaticEmbeddings.load_default()


def build_features(hp: Hyperparameters, embeddings=None) -> FeatureUnion:
    parts = [(
        "word",
        TfidfVectorizer(analyzer=WordAnalyzer(hp.word_ngram_max), sublinear_tf=True, min_df=hp.word_min_df,
                        max_features=hp.word_max_features, dtype=np.float64),
    )]
    if embeddings is not None:
        parts.append(("emb", EmbeddingBlock(embeddings, hp.embedding_weight)))
    return FeatureUnion(parts)


# ---------------------------------------------------------------- fitting


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
                 text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS, embeddings=None, progress: bool = False
                 ) -> tuple[Pipeline, dict]:
    """Fit the pipeline; return it and validation metrics measured on the held-out calibration slice."""
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

    steps = ["features", "classifier", "temperature", "validation"]
    bar = _progress(len(steps), progress)
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
    bar.set_description("features")
    composer = TextComposer(fields)
    features = build_features(hp, embeddings)
    X_fit = features.fit_transform(composer.transform(fit_items))
    timings["features"] = time.perf_counter() - start
    bar.update(1)

    start = time.perf_counter()
    bar.set_description(hp.classifier)
    clf = TemperatureScaledLinearClassifier(
        classifier=hp.classifier, C=hp.C, solver=hp.solver, max_iter=hp.max_iter, tol=hp.tol,
        class_weight=None if hp.class_weight == "none" else "balanced", random_state=hp.seed,
    )
    clf.fit(X_fit, fit_labels)
    timings["fit"] = time.perf_counter() - start
    bar.update(1)

    start = time.perf_counter()
    bar.set_description("temperature")
    pipeline = Pipeline([("text", composer), ("features", features), ("clf", clf)])
    X_cal = features.transform(composer.transform(cal_aug_items)) if len(cal_items) else None
    if X_cal is not None:
        clf.calibrate(X_cal, cal_aug_labels)
    timings["calibrate"] = time.perf_counter() - start
    bar.update(1)

    bar.set_description("validation")
    metrics: dict = {
        "n_train": len(fit_idx), "n_train_augmented": len(fit_items), "n_validation": len(cal_idx),
        "temperature": clf.temperature_, "classifier_iterations": clf.n_iter_,
        "n_features": int(X_fit.shape[1]), "embeddings": embeddings is not None,
    }
    if len(cal_items):
        classes = [str(c) for c in clf.classes_]
        report = evaluate(cal_labels, pipeline.predict_proba(cal_items), classes)
        metrics.update({k: report[k] for k in ("accuracy", "macro_f1", "top3_accuracy", "ece", "n")})
        headline_only = [{"headline": item["headline"]} for item in cal_items]
        ho = evaluate(cal_labels, pipeline.predict_proba(headline_only), classes)
        metrics["headline_only_accuracy"] = ho["accuracy"]
        metrics["headline_only_macro_f1"] = ho["macro_f1"]
    if hp.refit_full and X_cal is not None:
        # The figures above are the held-out estimate; the shipped model also learns from that slice,
        # keeping the temperature fitted on it.
        start = time.perf_counter()
        temperature = clf.temperature_
        clf.fit(sparse.vstack([X_fit, X_cal]).tocsr(), list(fit_labels) + list(cal_aug_labels))
        clf.temperature_ = temperature
        timings["refit"] = time.perf_counter() - start
    metrics["refit_full"] = bool(hp.refit_full and X_cal is not None)
    bar.update(1)
    bar.close()
    metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return pipeline, metrics


def _progress(total: int, enabled: bool):
    if enabled:
        from tqdm import tqdm

        return tqdm(total=total, unit="step", leave=False)
    return _NoProgress()


class _NoProgress:
    def set_description(self, _text: str) -> None:
        pass

    def update(self, _n: int) -> None:
        pass

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- export


def export_bundle(pipeline: Pipeline, out_dir: str | os.PathLike, version: str,
                  extra_metadata: Mapping | None = None) -> dict:
    """Write the numpy serving bundle for a fitted pipeline; return bundle.json contents."""
    composer: TextComposer = pipeline.named_steps["text"]
    features: FeatureUnion = pipeline.named_steps["features"]
    clf: TemperatureScaledLinearClassifier = pipeline.named_steps["clf"]
    blocks = dict(features.transformer_list)
    word: TfidfVectorizer = blocks["word"]
    emb: EmbeddingBlock | None = blocks.get("emb")

    def vocab_of(vec: TfidfVectorizer) -> list[str]:
        terms = [""] * len(vec.vocabulary_)
        for term, j in vec.vocabulary_.items():
            terms[j] = term
        return terms

    return bundle_format.write_bundle(
        out_dir,
        version=version,
        classes=[str(c) for c in clf.classes_],
        text_fields=list(composer.text_fields),
        word_analyzer=word.analyzer.config(),
        word_vocab=vocab_of(word),
        word_idf=word.idf_,
        weights=clf.coef_.T,
        bias=clf.intercept_,
        temperature=clf.temperature_,
        embedding_arrays=emb.embeddings.to_arrays() if emb is not None else None,
        embedding_weight=float(emb.weight) if emb is not None else 0.0,
        metadata=extra_metadata,
    )


def train_to_dir(records: Sequence, out_dir: str | os.PathLike,
                 hyperparameters: Hyperparameters | Mapping | None = None,
                 text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS, progress: bool = False,
                 embeddings=None, version: str | None = None) -> dict:
    """Fit and write a model directory (pipeline.joblib, bundle/, metrics.json, manifest.json).

    Returns the manifest. `embeddings` overrides the packaged static embeddings (tests);
    `version` labels the bundle (default: time stamp + data fingerprint prefix).
    """
    hp = Hyperparameters.parse(hyperparameters)
    start = time.perf_counter()
    pipeline, metrics = fit_pipeline(records, hp, text_fields, embeddings=embeddings, progress=progress)
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
