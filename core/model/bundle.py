"""The serving model: predicts categories with numpy from a verified bundle (no scikit-learn, scipy, pickle).

The bundle's format (reading, writing, digest) is core.model.bundle_format; the features are computed with the
same analyzers (core.model.textproc) and embedding block (core.model.embeddings) the training pipeline used,
so probabilities equal the scikit-learn pipeline's (tests/unit/test_bundle_parity.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from itertools import chain

import numpy as np

from core.model.bundle_format import EMB_PREFIX, FORMAT_VERSION, BundleError, read_bundle
from core.model.embeddings import embedding_block
from core.model.textproc import WordAnalyzer, compose_text
from core.model.vocab_blob import decode_terms

EXPLAIN_TERMS = 5
_CHUNK_DOCS = 64  # documents per vectorised chunk: temporaries stay in the CPU cache


class ServingModel:
    """Predicts categories with numpy from a verified bundle."""

    def __init__(self, meta: dict, arrays: Mapping[str, np.ndarray], sha256: str, version: str | None = None,
                 embeddings_cls=None):
        try:
            self._setup(meta, arrays, embeddings_cls)
        except (KeyError, ValueError, TypeError) as exc:
            raise BundleError(f"bundle content is inconsistent: {exc}") from None
        self.sha256 = sha256
        self.version = version or str(meta.get("version", ""))
        self.metadata = meta

    def _setup(self, meta: dict, arrays: Mapping[str, np.ndarray], embeddings_cls) -> None:
        if meta.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"unsupported bundle format {meta.get('format_version')!r}")
        sizes = meta["vocab_sizes"]
        if meta["analyzers"].get("char") or int(sizes.get("char", 0)):
            raise BundleError("bundle has char n-gram features, which serving no longer computes; retrain it")
        self.classes = [str(c) for c in meta["classes"]]
        self.text_fields = tuple(meta["text_fields"])
        n_word, emb_dim = int(sizes["word"]), int(sizes["embedding_dim"])
        self._n_word = n_word
        self._word_analyzer = WordAnalyzer(meta["analyzers"]["word"]["ngram_max"])
        terms = decode_terms(arrays["word_vocab"], n_word)
        self._word_vocab = dict(zip(terms, range(n_word), strict=True))
        self._idf = np.asarray(arrays["word_idf"], dtype=np.float64)
        weights = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
        k = len(self.classes)
        if weights.shape != (n_word + emb_dim, k) or self._idf.shape != (n_word,):
            raise BundleError(f"array shapes {weights.shape}/{self._idf.shape} do not match bundle.json")
        self._w_word = weights[:n_word]
        self._w_emb = weights[n_word:]
        self._bias = np.asarray(arrays["bias"], dtype=np.float64)
        if self._bias.shape != (k,):
            raise BundleError("bias shape does not match classes")
        self._temperature = float(meta["temperature"])
        if not self._temperature > 0:
            raise BundleError("temperature must be positive")
        self._embedding_weight = float(meta.get("embedding_weight", 0.0))
        self._embeddings = None
        if emb_dim:
            if embeddings_cls is None:
                from core.model.embeddings import StaticEmbeddings as embeddings_cls
            emb_arrays = {key[len(EMB_PREFIX):]: arrays[key] for key in arrays if key.startswith(EMB_PREFIX)}
            self._embeddings = embeddings_cls.from_arrays(emb_arrays)
            if int(self._embeddings.dim) != emb_dim:
                raise BundleError("embedding dimension does not match the weight rows")

    @classmethod
    def load(cls, path: str | os.PathLike, expected_sha256: str | None = None, version: str | None = None,
             embeddings_cls=None) -> ServingModel:
        """Load a model dir or its bundle/ dir; verify arrays.npz against bundle.json (and the digest if
        expected_sha256 is given)."""
        meta, arrays, digest = read_bundle(path, expected_sha256)
        return cls(meta, arrays, digest, version=version, embeddings_cls=embeddings_cls)

    # ------------------------------------------------------------ features

    def _texts(self, items: Sequence) -> list[str]:
        fields = self.text_fields
        return [compose_text(item, fields) for item in items]

    def _feature_ids(self, text: str) -> list[int]:
        vocab = self._word_vocab
        return [vocab[t] for t in self._word_analyzer(text) if t in vocab]

    def _sparse(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc, feature, value) of the L2-normalised sublinear TF-IDF, sorted by doc then feature."""
        ids = [self._feature_ids(text) for text in texts]
        return self._values(list(chain.from_iterable(ids)), [len(x) for x in ids])

    def _values(self, flat: list[int], lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not flat:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        n_feat = self._n_word
        keys = np.repeat(np.arange(len(lengths), dtype=np.int64) * n_feat, lengths)
        keys += np.array(flat, dtype=np.int64)
        keys.sort()
        # unique keys and their counts (the term frequencies), as np.unique would give
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(keys)))
        doc, feat = np.divmod(keys[starts], n_feat)
        values = (np.log(counts) + 1.0) * self._idf[feat]
        norms = np.sqrt(np.bincount(doc, weights=values * values, minlength=len(lengths)))
        values /= norms[doc]
        return doc, feat, values

    def _logits(self, texts: Sequence[str]) -> np.ndarray:
        n = len(texts)
        logits = np.empty((n, len(self.classes)), dtype=np.float64)
        logits[:] = self._bias
        get = self._word_vocab.get
        analyzer = self._word_analyzer
        for i in range(0, n, _CHUNK_DOCS):
            word_ids: list[int] = []
            word_lengths: list[int] = []
            for text in texts[i : i + _CHUNK_DOCS]:
                ids = [j for j in map(get, analyzer(text)) if j is not None]
                word_ids.extend(ids)
                word_lengths.append(len(ids))
            if word_ids:
                doc, feat, values = self._values(word_ids, word_lengths)
                docs, starts = np.unique(doc, return_index=True)
                contrib = self._w_word[feat] * values[:, None]
                logits[i + docs] += np.add.reduceat(contrib, starts, axis=0)
        if self._embeddings is not None:
            block = embedding_block(self._embeddings.embed(list(texts)), self._embedding_weight)
            logits += block @ self._w_emb
        return logits

    def _softmax(self, logits: np.ndarray) -> np.ndarray:
        z = logits / self._temperature
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    # ------------------------------------------------------------ public API

    def predict_proba(self, items: Sequence) -> np.ndarray:
        """Probabilities (n, n_classes); items are dicts with 'headline' (+ optional fields) or strings."""
        if not len(items):
            return np.zeros((0, len(self.classes)))
        return self._softmax(self._logits(self._texts(items)))

    def predict(self, items: Sequence, top_k: int = 3, explain: bool = True) -> list[dict]:
        texts = self._texts(items)
        if not texts:
            return []
        proba = self._softmax(self._logits(texts))
        k = max(1, min(int(top_k), len(self.classes)))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        out = []
        for row, text in enumerate(texts):
            best = int(order[row, 0])
            out.append({
                "category": self.classes[best],
                "confidence": float(proba[row, best]),
                "top_k": [{"category": self.classes[c], "probability": float(proba[row, c])}
                          for c in order[row]],
                "explanation": self.explain(text, best) if explain else [],
            })
        return out

    def explain(self, text: str, class_index: int, n_terms: int = EXPLAIN_TERMS) -> list[dict]:
        """Input terms that pushed class_index most: x_j * W[j, class] summed over the features containing
        each word, plus the embedding block's share of each token."""
        scores: dict[str, float] = {}
        doc, feat, values = self._sparse([text])
        if len(feat):
            share = values * self._w_word[feat, class_index]
            contrib = dict(zip(feat.tolist(), share.tolist(), strict=True))
            vocab = self._word_vocab
            for term in set(self._word_analyzer(text)):
                j = vocab.get(term)
                if j is not None:
                    for word in set(term.split(" ")):
                        scores[word] = scores.get(word, 0.0) + contrib[j]
        if self._embeddings is not None:
            # token_vectors are the summands of the text vector; the block is weight * sum / |sum|,
            # so each token's share of the logit is weight * (v_t . W[:, class]) / |sum|
            pairs = self._embeddings.token_vectors(text)
            total = np.sum([np.asarray(v, dtype=np.float64) for _, v in pairs], axis=0) if pairs else None
            norm = float(np.sqrt(total @ total)) if pairs else 0.0
            if norm > 0:
                w = self._w_emb[:, class_index].astype(np.float64) * (self._embedding_weight / norm)
                for token, vector in pairs:
                    scores[token] = scores.get(token, 0.0) + float(np.asarray(vector, dtype=np.float64) @ w)
        ranked = sorted(((s, t) for t, s in scores.items() if s > 0 and math.isfinite(s)), reverse=True)
        return [{"term": t, "weight": round(s, 4)} for s, t in ranked[:n_terms]]
