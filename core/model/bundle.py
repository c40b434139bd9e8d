"""Numpy-only serving bundle: no scikit-learn, no scipy, no pickle.

bundle/ holds bundle.json (metadata, sha256 of arrays.npz) and arrays.npz (the word vocabulary as a UTF-8
blob, idf, float16 weights [n_word + embedding_dim, n_classes], bias, embedding arrays), read with
allow_pickle=False. The features are computed with the same analyzers (core.model.textproc) the training
pipeline used.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from core.errors import MlNewsError
from core.model.textproc import WordAnalyzer, compose_text
from core.model.vocab_blob import decode_terms, encode_terms

FORMAT_VERSION = 1
BUNDLE_JSON = "bundle.json"
ARRAYS_NPZ = "arrays.npz"
EMB_PREFIX = "emb_"
EXPLAIN_TERMS = 5
_CHUNK_DOCS = 64  # documents per vectorised chunk: temporaries stay in the CPU cache


class BundleError(MlNewsError):
    """The bundle is missing, corrupt, tampered with, or of an unknown format."""


def embedding_block(vectors: np.ndarray, weight: float) -> np.ndarray:
    """Static-embedding features: each mean token vector scaled to unit L2 norm, times the block weight.

    Unit norm keeps the block on the scale of the L2-normalised TF-IDF block whatever the vectors' scale,
    which keeps the saga solver fast. Training and serving both call this function.
    """
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return v * (float(weight) / np.where(norms > 0, norms, 1.0))


# ---------------------------------------------------------------- writing and reading


def bundle_dir(path: str | os.PathLike) -> Path:
    """The bundle directory itself, or the bundle/ directory of a model directory."""
    path = Path(path)
    if (path / BUNDLE_JSON).is_file():
        return path
    if (path / "bundle" / BUNDLE_JSON).is_file():
        return path / "bundle"
    raise BundleError(f"{path}: no {BUNDLE_JSON} here or in {path / 'bundle'}")


def _digest_of(json_sha: str, arrays_sha: str) -> str:
    text = f"{ARRAYS_NPZ} {arrays_sha}\n{BUNDLE_JSON} {json_sha}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def bundle_digest(path: str | os.PathLike) -> str:
    """One sha256 over the bundle files: sha256 of 'name sha256' lines, names sorted."""
    root = bundle_dir(path)
    shas = {}
    for name in (ARRAYS_NPZ, BUNDLE_JSON):
        with open(root / name, "rb") as fh:
            shas[name] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _digest_of(shas[BUNDLE_JSON], shas[ARRAYS_NPZ])


def write_bundle(out_dir: str | os.PathLike, *, version: str, classes: Sequence[str],
                 text_fields: Sequence[str], word_analyzer: Mapping, word_vocab: Sequence[str],
                 word_idf: np.ndarray, weights: np.ndarray, bias: np.ndarray, temperature: float,
                 embedding_arrays: Mapping[str, np.ndarray] | None = None, embedding_weight: float = 0.0,
                 metadata: Mapping | None = None) -> dict:
    """Write bundle.json + arrays.npz; weights are [n_word + embedding_dim, n_classes]. Returns the meta."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_word = len(word_vocab)
    # float16 on disk halves the bundle; training rounds its coefficients to float16 first, so both sides
    # compute with the very same values.
    weights = np.ascontiguousarray(weights, dtype=np.float16)
    emb_dim = weights.shape[0] - n_word
    if weights.shape[1] != len(classes) or emb_dim < 0:
        raise BundleError(f"weights shape {weights.shape} does not match vocabularies and classes")
    if (embedding_arrays is None) != (emb_dim == 0):
        raise BundleError("embedding arrays and embedding weight rows must come together")
    try:
        vocab = encode_terms(word_vocab)
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    arrays = {
        "word_vocab": vocab,
        "word_idf": np.asarray(word_idf, dtype=np.float64),
        "weights": weights,
        "bias": np.asarray(bias, dtype=np.float64),
    }
    for key, value in (embedding_arrays or {}).items():
        arrays[EMB_PREFIX + key] = np.asarray(value)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    (out / ARRAYS_NPZ).write_bytes(data)
    meta = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "classes": list(classes),
        "text_fields": list(text_fields),
        # "char" stays in format 1 as an empty block: char n-gram features were removed (README, "What did
        # not work"), and bundles keep the layout earlier serving code reads.
        "analyzers": {"word": dict(word_analyzer), "char": None},
        "vocab_sizes": {"word": n_word, "char": 0, "embedding_dim": int(emb_dim)},
        "embedding_weight": float(embedding_weight),
        "temperature": float(temperature),
        "arrays_sha256": hashlib.sha256(data).hexdigest(),
        "metadata": dict(metadata or {}),
    }
    (out / BUNDLE_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def read_bundle(path: str | os.PathLike, expected_sha256: str | None = None
                ) -> tuple[dict, dict[str, np.ndarray], str]:
    """(bundle.json, arrays, digest) of a model dir or its bundle/ dir, arrays.npz verified against
    bundle.json and the digest against expected_sha256 when given."""
    root = bundle_dir(path)
    try:
        meta_bytes = (root / BUNDLE_JSON).read_bytes()
        data = (root / ARRAYS_NPZ).read_bytes()
    except OSError as exc:
        raise BundleError(f"{root}: cannot read bundle ({exc.strerror or exc})") from None
    try:
        meta = json.loads(meta_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{root / BUNDLE_JSON}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{root / BUNDLE_JSON}: expected a JSON object")
    arrays_sha = hashlib.sha256(data).hexdigest()
    if arrays_sha != meta.get("arrays_sha256"):
        raise BundleError(f"{root / ARRAYS_NPZ}: sha256 does not match bundle.json (corrupt or tampered)")
    digest = _digest_of(hashlib.sha256(meta_bytes).hexdigest(), arrays_sha)
    if expected_sha256 is not None and digest != expected_sha256:
        raise BundleError(f"{root}: bundle digest {digest} differs from the expected {expected_sha256}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{root / ARRAYS_NPZ}: cannot read arrays ({exc})") from None
    return meta, arrays, digest


# ---------------------------------------------------------------- serving


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
