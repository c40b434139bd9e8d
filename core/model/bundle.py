"""Numpy-only serving bundle: no scikit-learn, no scipy, no pickle.

bundle/ holds bundle.json (metadata, sha256 of arrays.npz) and arrays.npz (vocabularies as UTF-8 blobs, idf,
float32 weights [n_features, n_classes], bias, embedding arrays) read with allow_pickle=False.
The features are computed with the same analyzers (core.model.textproc) the training pipeline used.
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
from core.model.textproc import CharWbAnalyzer, WordAnalyzer, compose_text, tokenize
from core.model.vocab_blob import decode_terms, encode_terms

FORMAT_VERSION = 1
BUNDLE_JSON = "bundle.json"
ARRAYS_NPZ = "arrays.npz"
EMB_PREFIX = "emb_"
EXPLAIN_TERMS = 5
_CHUNK_DOCS = 64  # documents per vectorised chunk: temporaries stay in the CPU cache
_WORD_CACHE_LIMIT = 200_000
_WORD_ROWS = 32_768  # words whose char-block partial sums are cached (x n_classes float64)


class BundleError(MlNewsError):
    """The bundle is missing, corrupt, tampered with, or of an unknown format."""


def embedding_block(vectors: np.ndarray, weight: float) -> np.ndarray:
    """Static-embedding features: each mean token vector scaled to unit L2 norm, times the block weight.

    Unit norm keeps the block on the scale of the L2-normalised TF-IDF blocks whatever the vectors' scale,
    which keeps the saga solver fast. Training and serving both call this function.
    """
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return v * (float(weight) / np.where(norms > 0, norms, 1.0))


# ---------------------------------------------------------------- writing


def bundle_digest(bundle_dir: str | os.PathLike) -> str:
    """One sha256 over the bundle files: sha256 of 'name sha256' lines, names sorted."""
    root = _bundle_dir(Path(bundle_dir))
    parts = []
    for name in (ARRAYS_NPZ, BUNDLE_JSON):
        with open(root / name, "rb") as fh:
            parts.append(f"{name} {hashlib.file_digest(fh, 'sha256').hexdigest()}\n")
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _digest_of(json_sha: str, arrays_sha: str) -> str:
    text = f"{ARRAYS_NPZ} {arrays_sha}\n{BUNDLE_JSON} {json_sha}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def write_bundle(out_dir: str | os.PathLike, *, version: str, classes: Sequence[str],
                 text_fields: Sequence[str], word_analyzer: Mapping, word_vocab: Sequence[str],
                 word_idf: np.ndarray,
                 char_analyzer: Mapping | None, char_vocab: Sequence[str] | None, char_idf: np.ndarray | None,
                 weights: np.ndarray, bias: np.ndarray, temperature: float,
                 embedding_arrays: Mapping[str, np.ndarray] | None = None, embedding_weight: float = 0.0,
                 metadata: Mapping | None = None) -> dict:
    """Write bundle.json + arrays.npz; weights are [n_word + n_char + emb_dim, n_classes]."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_word = len(word_vocab)
    n_char = len(char_vocab) if char_vocab is not None else 0
    # float16 on disk halves the bundle; training rounds its coefficients to float16 first, so both sides
    # compute with the very same values.
    weights = np.ascontiguousarray(weights, dtype=np.float16)
    emb_dim = weights.shape[0] - n_word - n_char
    if weights.shape[1] != len(classes) or emb_dim < 0:
        raise BundleError(f"weights shape {weights.shape} does not match vocabularies and classes")
    if (embedding_arrays is None) != (emb_dim == 0):
        raise BundleError("embedding arrays and embedding weight rows must come together")
    try:
        vocab_blobs = {"word_vocab": encode_terms(word_vocab)}
        if char_vocab is not None:
            vocab_blobs["char_vocab"] = encode_terms(char_vocab)
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    arrays = {
        **vocab_blobs,
        "word_idf": np.asarray(word_idf, dtype=np.float64),
        "weights": weights,
        "bias": np.asarray(bias, dtype=np.float64),
    }
    if char_vocab is not None:
        arrays["char_idf"] = np.asarray(char_idf, dtype=np.float64)
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
        "analyzers": {"word": dict(word_analyzer), "char": dict(char_analyzer) if char_analyzer else None},
        "vocab_sizes": {"word": n_word, "char": n_char, "embedding_dim": int(emb_dim)},
        "embedding_weight": float(embedding_weight),
        "temperature": float(temperature),
        "arrays_sha256": hashlib.sha256(data).hexdigest(),
        "metadata": dict(metadata or {}),
    }
    (out / BUNDLE_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


# ---------------------------------------------------------------- loading and serving


def _bundle_dir(path: Path) -> Path:
    if (path / BUNDLE_JSON).is_file():
        return path
    if (path / "bundle" / BUNDLE_JSON).is_file():
        return path / "bundle"
    raise BundleError(f"{path}: no {BUNDLE_JSON} here or in {path / 'bundle'}")


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
        self.classes = [str(c) for c in meta["classes"]]
        self.text_fields = tuple(meta["text_fields"])
        sizes = meta["vocab_sizes"]
        n_word, n_char, emb_dim = int(sizes["word"]), int(sizes["char"]), int(sizes["embedding_dim"])
        self._n_word, self._n_tfidf = n_word, n_word + n_char
        word_cfg = meta["analyzers"]["word"]
        self._word_analyzer = WordAnalyzer(word_cfg["ngram_max"])
        terms = decode_terms(arrays["word_vocab"], n_word)
        self._word_vocab = dict(zip(terms, range(n_word), strict=True))
        char_cfg = meta["analyzers"].get("char")
        idf = [np.asarray(arrays["word_idf"], dtype=np.float64)]
        if char_cfg:
            self._char_analyzer = CharWbAnalyzer(char_cfg["ngram_min"], char_cfg["ngram_max"])
            terms = decode_terms(arrays["char_vocab"], n_char)
            self._char_vocab = dict(zip(terms, range(n_word, n_word + n_char), strict=True))
            idf.append(np.asarray(arrays["char_idf"], dtype=np.float64))
        else:
            self._char_analyzer = None
            self._char_vocab = {}
        self._idf = np.concatenate(idf)
        weights = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
        k = len(self.classes)
        if weights.shape != (self._n_tfidf + emb_dim, k) or self._idf.shape != (self._n_tfidf,):
            raise BundleError(f"array shapes {weights.shape}/{self._idf.shape} do not match bundle.json")
        self._weights = weights
        self._w_tfidf = weights[: self._n_tfidf]
        self._w_emb = weights[self._n_tfidf :]
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
        self._char_cache: dict[str, list[int]] = {}
        # Per-word partial sums of the char block (see _char_logits): row of each cached word
        self._row_of: dict[str, int] = {}
        self._pending: list[int] = []  # rows whose sums are not computed yet
        self._row_ids: list[list[int]] = []
        # the rows' char ids back to back (pool) with each row's offset and length, for vectorised gathers
        self._pool = np.zeros(1 << 16, dtype=np.int32)
        self._pool_used = 0
        self._row_start = np.zeros(_WORD_ROWS, dtype=np.int64)
        self._row_len = np.zeros(_WORD_ROWS, dtype=np.int64)
        self._row_num = np.zeros((_WORD_ROWS, k), dtype=np.float64)
        self._row_sq = np.zeros(_WORD_ROWS, dtype=np.float64)

    @classmethod
    def load(cls, path: str | os.PathLike, expected_sha256: str | None = None, version: str | None = None,
             embeddings_cls=None) -> ServingModel:
        """Load a model dir or its bundle/ dir; verify arrays.npz against bundle.json (and the digest if
        expected_sha256 is given)."""
        root = _bundle_dir(Path(path))
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
        return cls(meta, arrays, digest, version=version, embeddings_cls=embeddings_cls)

    # ------------------------------------------------------------ features

    def _texts(self, items: Sequence) -> list[str]:
        fields = self.text_fields
        return [compose_text(item, fields) for item in items]

    def _char_ids(self, word: str) -> list[int]:
        ids = self._char_cache.get(word)
        if ids is None:
            grams = self._char_analyzer.word_ngrams(word)
            ids = [j for j in map(self._char_vocab.get, grams) if j is not None]
            if len(self._char_cache) >= _WORD_CACHE_LIMIT:
                self._char_cache.clear()
            self._char_cache[word] = ids
        return ids

    def _feature_ids(self, text: str) -> list[int]:
        vocab = self._word_vocab
        ids = [vocab[t] for t in self._word_analyzer(text) if t in vocab]
        if self._char_analyzer is not None:
            char_ids = self._char_ids
            for word in text.lower().split():
                ids.extend(char_ids(word))
        return ids

    def _sparse(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc, feature, value) of the L2-normalised sublinear TF-IDF blocks, sorted by doc then feature."""
        ids = [self._feature_ids(text) for text in texts]
        return self._values(list(chain.from_iterable(ids)), [len(x) for x in ids])

    def _values(self, flat: list[int], lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not flat:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        n_feat = self._n_tfidf
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
        group = doc * 2 + (feat >= self._n_word)
        norms = np.sqrt(np.bincount(group, weights=values * values, minlength=2 * len(lengths)))
        values /= norms[group]
        return doc, feat, values

    def _word_row(self, word: str) -> int:
        """Cached row of a word: its char feature ids, sum of idf_j * W[j] and sum of idf_j**2."""
        row = self._row_of.get(word)
        if row is None:
            row = len(self._row_ids)
            ids = self._char_ids(word)
            self._row_ids.append(ids)
            self._row_of[word] = row
            used = self._pool_used
            if used + len(ids) > len(self._pool):
                self._pool = np.concatenate([self._pool, np.zeros(max(len(self._pool), len(ids)), np.int32)])
            self._pool[used : used + len(ids)] = ids
            self._row_start[row] = used
            self._row_len[row] = len(ids)
            self._pool_used = used + len(ids)
            self._pending.append(row)
        return row

    def _fill_pending_rows(self) -> None:
        """Sums of idf_j * W[j] and idf_j**2 for the rows registered since the last call, vectorised."""
        pending = np.array(self._pending, dtype=np.int64)
        self._pending.clear()
        lengths = self._row_len[pending]
        self._row_num[pending] = 0.0
        self._row_sq[pending] = 0.0
        keep = lengths > 0
        pending, lengths = pending[keep], lengths[keep]
        if not len(pending):
            return
        ends = np.cumsum(lengths)
        starts = ends - lengths
        gather = np.arange(int(ends[-1]), dtype=np.int64)
        gather += np.repeat(self._row_start[pending] - starts, lengths)
        ids = self._pool[gather]
        idf = self._idf[ids]
        self._row_num[pending] = np.add.reduceat(self._w_tfidf[ids] * idf[:, None], starts, axis=0)
        self._row_sq[pending] = np.add.reduceat(idf * idf, starts)

    def _reserve_rows(self, needed: int) -> None:
        """Make room for `needed` new word rows: start the table afresh, growing it for very long texts."""
        if len(self._row_ids) + needed <= len(self._row_sq):
            return
        self._row_of.clear()
        self._row_ids.clear()
        self._pending.clear()
        self._pool_used = 0
        if needed > len(self._row_sq):
            self._row_num = np.zeros((needed, len(self.classes)), dtype=np.float64)
            self._row_sq = np.zeros(needed, dtype=np.float64)
            self._row_start = np.zeros(needed, dtype=np.int64)
            self._row_len = np.zeros(needed, dtype=np.int64)

    def _char_logits(self, rows: list[int], row_lengths: list[int]) -> np.ndarray:
        """Char-block logits of a chunk of documents from cached per-word sums.

        With u_j = (1 + log c_j) idf_j the block adds (sum_j u_j W[j]) / |u|. Summing the words' cached
        idf_j W[j] counts every occurrence once, which is exact for c_j = 1; n-grams occurring c_j >= 2 times
        in a document get a correction of (1 + log c_j - c_j) idf_j (and likewise for |u|^2).
        """
        n_docs = len(row_lengths)
        k = len(self.classes)
        doc_of_row = np.repeat(np.arange(n_docs, dtype=np.int64), row_lengths)
        rows_arr = np.array(rows, dtype=np.int64)
        num = np.zeros((n_docs, k), dtype=np.float64)
        present, starts = np.unique(doc_of_row, return_index=True)
        num[present] = np.add.reduceat(self._row_num[rows_arr], starts, axis=0)
        sq = np.bincount(doc_of_row, weights=self._row_sq[rows_arr], minlength=n_docs)
        # repeated n-grams within a document: gather the rows' ids from the pool, sort (doc, id) keys
        lengths = self._row_len[rows_arr]
        total = int(lengths.sum())
        if total:
            n_feat = self._n_tfidf
            ends = np.cumsum(lengths)
            gather = np.arange(total, dtype=np.int64)
            gather += np.repeat(self._row_start[rows_arr] - (ends - lengths), lengths)
            key_type = np.int32 if n_docs * n_feat < 2**31 else np.int64
            keys = np.repeat((doc_of_row * n_feat).astype(key_type), lengths)
            keys += self._pool[gather]
            keys.sort()
            dup = keys[1:] == keys[:-1]
            if dup.any():
                repeated, counts = np.unique(keys[1:][dup], return_counts=True)
                counts += 1
                doc, feat = np.divmod(repeated.astype(np.int64), n_feat)
                idf = self._idf[feat]
                tf = np.log(counts) + 1.0
                coef = (tf - counts) * idf
                sq += np.bincount(doc, weights=(tf * tf - counts) * idf * idf, minlength=n_docs)
                fix = self._w_tfidf[feat] * coef[:, None]
                fix_docs, fix_starts = np.unique(doc, return_index=True)
                num[fix_docs] += np.add.reduceat(fix, fix_starts, axis=0)
        norm = np.sqrt(sq)
        return num / np.where(norm > 0, norm, 1.0)[:, None]

    def _logits(self, texts: Sequence[str]) -> np.ndarray:
        n = len(texts)
        logits = np.empty((n, len(self.classes)), dtype=np.float64)
        logits[:] = self._bias
        get = self._word_vocab.get
        analyzer = self._word_analyzer
        use_char = self._char_analyzer is not None
        i = 0
        while i < n:
            # chunks of documents: temporaries stay in the CPU cache and the word rows fit their table
            j = min(n, i + _CHUNK_DOCS)
            chunk = texts[i:j]
            word_ids: list[int] = []
            word_lengths: list[int] = []
            for text in chunk:
                ids = [j for j in map(get, analyzer(text)) if j is not None]
                word_ids.extend(ids)
                word_lengths.append(len(ids))
            rows: list[int] = []
            row_lengths: list[int] = []
            if use_char:
                words = [text.lower().split() for text in chunk]
                row_lengths = [len(w) for w in words]
                self._reserve_rows(sum(row_lengths))
                row_of, word_row = self._row_of, self._word_row
                rows = [row_of[w] if w in row_of else word_row(w) for w in chain.from_iterable(words)]
                if self._pending:
                    self._fill_pending_rows()
            if word_ids:
                doc, feat, values = self._values(word_ids, word_lengths)
                docs, starts = np.unique(doc, return_index=True)
                contrib = self._w_tfidf[feat] * values[:, None]
                logits[i + docs] += np.add.reduceat(contrib, starts, axis=0)
            if rows:
                logits[i:j] += self._char_logits(rows, row_lengths)
            i = j
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
            share = values * self._w_tfidf[feat, class_index]
            contrib = dict(zip(feat.tolist(), share.tolist(), strict=True))
            vocab = self._word_vocab
            for term in set(self._word_analyzer(text)):
                j = vocab.get(term)
                if j is not None:
                    for word in set(term.split(" ")):
                        scores[word] = scores.get(word, 0.0) + contrib[j]
            if self._char_analyzer is not None:
                # a char n-gram counts for every whitespace word that contains it, credited to its tokens
                for chunk in set(text.lower().split()):
                    tokens = set(tokenize(chunk))
                    if not tokens:
                        continue
                    share = sum(contrib[j] for j in set(self._char_ids(chunk)))
                    for token in tokens:
                        scores[token] = scores.get(token, 0.0) + share
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
