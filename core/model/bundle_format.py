"""The serving bundle on disk, written by training and read by serving (numpy only, no pickle).

bundle/ holds bundle.json (metadata, sha256 of arrays.npz) and arrays.npz: the word vocabulary as a UTF-8
blob (core.model.vocab_blob), its idf, float16 weights [n_word + embedding_dim, n_classes], the bias and the
static embeddings' arrays (prefixed emb_), read with allow_pickle=False. One digest over both files is what
the registry records and serving verifies.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from core.errors import MlNewsError
from core.model.vocab_blob import encode_terms

FORMAT_VERSION = 1
BUNDLE_JSON = "bundle.json"
ARRAYS_NPZ = "arrays.npz"
EMB_PREFIX = "emb_"


class BundleError(MlNewsError):
    """The bundle is missing, corrupt, tampered with, or of an unknown format."""


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
