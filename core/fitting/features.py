"""The feature pipeline: records -> text -> word n-gram TF-IDF + static-embedding block (scikit-learn).

Each step computes what serving computes (core.model.textproc, core.model.embeddings), so the numpy bundle
reproduces the pipeline's features.

Sized for the full dataset (docs/scale.md): the union's matrix is built as CSR in one allocation, block rows
copied in chunks, because scikit-learn's FeatureUnion turns the dense embedding block (256 values a row, five
times the word block's) into COO and CSR copies first: at 210k records those copies were gigabytes. The matrix
stays float64: LinearSVC (liblinear) takes nothing else, so a float32 matrix would add a float64 copy.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from core.fitting.hyperparameters import Hyperparameters
from core.model.embeddings import StaticEmbeddings, embedding_block
from core.model.textproc import DEFAULT_TEXT_FIELDS, WordAnalyzer, compose_text

CHUNK_ROWS = 8192  # rows per chunk when filling large matrices: a few MB at a time


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
        # the embedding block exactly as serving computes it (float64, row by row), filled in chunks so the
        # float32 means and their float64 products never exist for all rows at once
        texts = list(X)
        out = np.empty((len(texts), self.embeddings.dim), dtype=np.float64)
        for start in range(0, len(texts), CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            out[start:stop] = embedding_block(self.embeddings.embed(texts[start:stop]), self.weight)
        return out


def hstack_csr(blocks: list, chunk_rows: int | None = None) -> sparse.csr_matrix:
    """Blocks (sparse or dense, same rows) side by side as one float64 CSR matrix, its arrays allocated once
    and filled a chunk of rows at a time; zeros of dense blocks are not stored (as scipy's hstack does)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    blocks = [block.tocsr() if sparse.issparse(block) else block for block in blocks]
    if len(blocks) == 1 and sparse.issparse(blocks[0]):
        return blocks[0].astype(np.float64, copy=False)
    n_rows = blocks[0].shape[0]
    row_nnz = np.zeros(n_rows, dtype=np.int64)
    for block in blocks:
        row_nnz += np.diff(block.indptr) if sparse.issparse(block) else np.count_nonzero(block, axis=1)
    width = sum(block.shape[1] for block in blocks)
    index_dtype = np.int32 if max(int(row_nnz.sum()), width) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(row_nnz, out=indptr[1:])
    data = np.empty(int(indptr[-1]), dtype=np.float64)
    indices = np.empty(int(indptr[-1]), dtype=index_dtype)
    for start in range(0, n_rows, chunk_rows):
        stop = min(n_rows, start + chunk_rows)
        rows = [block[start:stop] if sparse.issparse(block) else sparse.csr_matrix(block[start:stop])
                for block in blocks]
        piece = sparse.hstack(rows, format="csr")
        data[indptr[start]:indptr[stop]] = piece.data
        indices[indptr[start]:indptr[stop]] = piece.indices
    return sparse.csr_matrix((data, indices, indptr), shape=(n_rows, width), copy=False)


def csr_row_slice(matrix: sparse.csr_matrix, start: int, stop: int) -> sparse.csr_matrix:
    """Rows start..stop of a CSR matrix, sharing its data and indices when the rows hold at least half of
    them (scipy copies smaller views; its slicing always copies)."""
    first, last = int(matrix.indptr[start]), int(matrix.indptr[stop])
    indptr = matrix.indptr[start:stop + 1]
    if first:
        indptr = indptr - first
    return sparse.csr_matrix((matrix.data[first:last], matrix.indices[first:last], indptr),
                             shape=(stop - start, matrix.shape[1]), copy=False)


class SparseFeatureUnion(FeatureUnion):
    """FeatureUnion whose output is one float64 CSR matrix built by hstack_csr (no intermediate copies)."""

    def _hstack(self, Xs):  # FeatureUnion's one stacking hook (scikit-learn is pinned by the training image)
        return hstack_csr(list(Xs))


def resolve_embeddings(hp: Hyperparameters, embeddings=None):
    """The StaticEmbeddings to use, or None (hyperparameter 'none', or no packaged asset)."""
    if hp.embeddings == "none" or hp.embedding_weight == 0:
        return None
    if embeddings is not None:
        return embeddings
    return StaticEmbeddings.load_default()


def build_features(hp: Hyperparameters, embeddings=None) -> SparseFeatureUnion:
    parts = [(
        "word",
        TfidfVectorizer(analyzer=WordAnalyzer(hp.word_ngram_max), sublinear_tf=True, min_df=hp.word_min_df,
                        max_features=hp.word_max_features, dtype=np.float64),
    )]
    if embeddings is not None:
        parts.append(("emb", EmbeddingBlock(embeddings, hp.embedding_weight)))
    return SparseFeatureUnion(parts)
