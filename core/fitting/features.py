"""The feature pipeline: records -> text -> word n-gram TF-IDF + static-embedding block (scikit-learn).

Each step computes what serving computes (core.model.textproc, core.model.embeddings), so the numpy bundle
reproduces the pipeline's features.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from core.fitting.hyperparameters import Hyperparameters
from core.model.embeddings import StaticEmbeddings, embedding_block
from core.model.textproc import DEFAULT_TEXT_FIELDS, WordAnalyzer, compose_text


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
        # the embedding block exactly as serving computes it (float64)
        return embedding_block(self.embeddings.embed(list(X)), self.weight)


def resolve_embeddings(hp: Hyperparameters, embeddings=None):
    """The StaticEmbeddings to use, or None (hyperparameter 'none', or no packaged asset)."""
    if hp.embeddings == "none" or hp.embedding_weight == 0:
        return None
    if embeddings is not None:
        return embeddings
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
