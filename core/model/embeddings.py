"""Static token embeddings distilled from a sentence-embedding model.

Each WordPiece token of all-MiniLM-L6-v2 gets one vector: its contextual output averaged over a corpus,
shrunk towards the token encoded alone, reduced with PCA and stored as int8 (``assets/``; the recipe and the
command that rebuilds it are in ``training/distill_embeddings.py``). A text's embedding is the weighted mean
of its tokens' vectors: semantic features at n-gram serving cost, with no transformer, torch or tokenizer
library at run time.

Texts are tokenized with core.model.wordpiece, the tokenizer the table was distilled for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.model.vocab_blob import decode_terms, encode_terms
from core.model.wordpiece import WordPiece, basic_tokens

ASSET_PATH = Path(__file__).parent / "assets" / "minilm_static.npz"
_WORD_CACHE_LIMIT = 200_000
_EMBED_CHUNK = 256


def embedding_block(vectors: np.ndarray, weight: float) -> np.ndarray:
    """Static-embedding features: each mean token vector scaled to unit L2 norm, times the block weight.

    Unit norm keeps the block on the scale of the L2-normalised TF-IDF block whatever the vectors' scale,
    which keeps the saga solver fast. Training and serving both call this function.
    """
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return v * (float(weight) / np.where(norms > 0, norms, 1.0))


class StaticEmbeddings:
    """Token table + tokenizer; ``embed`` gives the L2-normalised weighted mean of a text's token vectors.

    The table is kept as int8 with one scale per row (4x smaller than float32); the float32 vectors used
    for computing are the dequantised values, identically in training and serving.
    """

    def __init__(self, vocab: Sequence[str], vectors_int8: np.ndarray, scales: np.ndarray,
                 weights: np.ndarray):
        self.vocab = list(vocab)
        self.vectors_int8 = np.ascontiguousarray(vectors_int8, dtype=np.int8)
        self.scales = np.ascontiguousarray(scales, dtype=np.float32)
        self.weights = np.array(weights, dtype=np.float32)
        # Unknown words contribute nothing rather than a meaningless [UNK] vector.
        self.tokenizer = WordPiece(self.vocab)
        if self.tokenizer.unk_id >= 0:
            self.weights[self.tokenizer.unk_id] = 0.0
        # A row's dequantised, weighted vector is its int8 row times this factor, computed for the rows a text
        # uses rather than for the whole table: a 4x larger float32 copy took ~0.02 s of each cold start.
        self._row_factor = self.scales * self.weights
        self.dim = int(self.vectors_int8.shape[1])
        self._keep = (self.weights > 0).tolist()  # plain list: fast per-token look-ups
        self._kept_ids: dict[str, tuple[int, ...]] = {}  # word -> its token ids that carry a vector

    def token_ids(self, text: str) -> list[int]:
        cache = self._kept_ids
        out: list[int] = []
        for word in basic_tokens(text):
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                keep = self._keep
                ids = cache[word] = tuple(i for i in self.tokenizer.word_ids(word) if i >= 0 and keep[i])
            out += ids
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), _EMBED_CHUNK):
            self._embed_chunk(texts[start : start + _EMBED_CHUNK], out[start : start + _EMBED_CHUNK])
        return out

    def _embed_chunk(self, texts: Sequence[str], out: np.ndarray) -> None:
        # chunks keep the gathered rows in the CPU cache
        ids_per_text = [self.token_ids(text) for text in texts]
        lengths = np.fromiter((len(ids) for ids in ids_per_text), dtype=np.int64, count=len(texts))
        rows = np.flatnonzero(lengths)
        if rows.size == 0:
            return
        flat = np.fromiter((i for ids in ids_per_text for i in ids), dtype=np.int64, count=int(lengths.sum()))
        starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
        sums = np.add.reduceat(self.weighted_rows(flat), starts, axis=0)
        norms = np.sqrt(np.einsum("ij,ij->i", sums, sums))
        nonzero = norms > 0
        out[rows[nonzero]] = sums[nonzero] / norms[nonzero, None]

    def weighted_rows(self, ids: np.ndarray) -> np.ndarray:
        """The dequantised vectors of token `ids`, each times its token weight (float32)."""
        rows = self.vectors_int8[ids].astype(np.float32)
        rows *= self._row_factor[ids, None]
        return rows

    def token_vectors(self, text: str) -> list[tuple[str, np.ndarray]]:
        """Each token's share of the (unnormalised) weighted sum, for explanations."""
        ids = self.token_ids(text)
        rows = self.weighted_rows(np.asarray(ids, dtype=np.int64))
        return [(self.vocab[i], row) for i, row in zip(ids, rows, strict=True)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"vocab_utf8": encode_terms(self.vocab), "vectors_int8": self.vectors_int8,
                "scales": self.scales, "weights": self.weights}

    @classmethod
    def from_arrays(cls, arrays) -> StaticEmbeddings:
        vocab = decode_terms(arrays["vocab_utf8"])
        return cls(vocab, arrays["vectors_int8"], arrays["scales"], arrays["weights"])

    @classmethod
    def load(cls, path: str | Path) -> StaticEmbeddings:
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays(data)

    @classmethod
    def load_default(cls) -> StaticEmbeddings | None:
        return cls.load(ASSET_PATH) if ASSET_PATH.exists() else None
