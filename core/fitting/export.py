"""A fitted pipeline -> the numpy serving bundle (core.model.bundle_format), the only way a model reaches
serving."""

from __future__ import annotations

import os
from collections.abc import Mapping

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from core.fitting.classifier import TemperatureScaledLinearClassifier
from core.fitting.features import EmbeddingBlock, TextComposer
from core.model import bundle_format


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
