"""The two reference models of shared/data/README.md, built with scikit-learn exactly as described there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

REFERENCE_MODELS = ("naive", "tuned")


def reference_text(item: object, fields: Sequence[str]) -> str:
    """The record's chosen fields joined by single spaces (the references see plain text, no field marks)."""
    parts = []
    for field in fields:
        value = item.get(field) if isinstance(item, Mapping) else getattr(item, field, None)
        if value and str(value).strip():
            parts.append(str(value).strip())
    return " ".join(parts)


def build_reference(kind: str):
    """naive: TfidfVectorizer() + LogisticRegression(); tuned: word 1-2-gram + char_wb 2-5-gram TF-IDF
    (sublinear) + LinearSVC(C=0.5). Unfitted scikit-learn pipelines over plain strings."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    if kind == "naive":
        return Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())])
    if kind == "tuned":
        features = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ])
        return Pipeline([("features", features), ("clf", LinearSVC(C=0.5))])
    raise ValueError(f"unknown reference model {kind!r}; choose from {', '.join(REFERENCE_MODELS)}")
