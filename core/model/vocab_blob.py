"""Vocabularies stored in .npz files: the terms as one newline-joined UTF-8 byte array (numpy only).

A quarter of numpy's fixed-width unicode size, and loadable with allow_pickle=False; the bundle's TF-IDF
vocabulary and the static embeddings' WordPiece vocabulary are both stored this way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode_terms(terms: Sequence[str]) -> np.ndarray:
    for term in terms:
        if "\n" in term:
            raise ValueError(f"vocabulary term {term!r} contains a newline")
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


def decode_terms(blob: np.ndarray, expected: int | None = None) -> list[str]:
    """The terms of a blob; `expected` (when given) is how many there must be."""
    terms = blob.tobytes().decode("utf-8").split("\n") if blob.size else []
    if expected is not None and len(terms) != expected:
        raise ValueError(f"vocabulary has {len(terms)} terms, {expected} expected")
    return terms
