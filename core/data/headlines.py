"""The identity of a headline: when two headlines count as the same (standard library only).

One normal form serves every place that asks "same headline?": duplicate counts, golden-holdout membership and
the headline hash a prediction_id is bound to. NFKC folds full-width and compatibility characters and composes
combining marks, casefold is Unicode's case-insensitive lower-casing, and runs of whitespace become one space.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalise_headline(text: str | None) -> str:
    """Case-, width- and whitespace-insensitive form of a headline."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def headline_sha256(text: str | None) -> str:
    """Hex sha256 of the normalised headline: the headline's identity."""
    return hashlib.sha256(normalise_headline(text).encode("utf-8")).hexdigest()
