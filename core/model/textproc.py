"""Text processing shared by training and serving (standard library only).

Training hands these analyzers to scikit-learn's TfidfVectorizer and the numpy serving bundle calls the very
same functions, so the features match by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

KNOWN_TEXT_FIELDS = ("headline", "short_description", "authors")
DEFAULT_TEXT_FIELDS = ("headline", "short_description")

# Same token definition as scikit-learn's default token_pattern: words of two or more word characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def validate_text_fields(text_fields: Sequence[str]) -> tuple[str, ...]:
    fields = tuple(text_fields)
    if not fields:
        raise ValueError("text_fields must name at least one field")
    unknown = [f for f in fields if f not in KNOWN_TEXT_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown text field(s) {', '.join(unknown)}; choose from {', '.join(KNOWN_TEXT_FIELDS)}"
        )
    if "headline" not in fields:
        raise ValueError("text_fields must include 'headline'")
    return fields


def compose_text(item: object, text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS) -> str:
    """Join the chosen fields of a record (mapping, object with attributes, or bare headline string).

    Fields are separated by newlines so word n-grams never span two fields.
    """
    if isinstance(item, str):
        return item.strip()
    parts = []
    for field in text_fields:
        if isinstance(item, Mapping):
            value = item.get(field)
        else:
            value = getattr(item, field, None)
        if value:
            value = str(value).strip()
            if value:
                parts.append(value)
    return "\n".join(parts)


def has_extra_text(item: object, text_fields: Sequence[str]) -> bool:
    """True when a record carries text beyond its headline in the chosen fields."""
    for field in text_fields:
        if field == "headline":
            continue
        value = item.get(field) if isinstance(item, Mapping) else getattr(item, field, None)
        if value and str(value).strip():
            return True
    return False


class WordAnalyzer:
    """Word n-grams (1..ngram_max) of lower-cased tokens, computed per field line."""

    def __init__(self, ngram_max: int = 2):
        self.ngram_max = int(ngram_max)

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        n_max = self.ngram_max
        for line in text.lower().split("\n"):
            tokens = _TOKEN_RE.findall(line)
            out.extend(tokens)
            if n_max >= 2:
                out.extend([a + " " + b for a, b in zip(tokens, tokens[1:])])  # noqa: B905 - shifted by one
            for n in range(3, n_max + 1):
                out.extend([" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)])
        return out

    def config(self) -> dict:
        return {"kind": "word", "ngram_max": self.ngram_max, "token_pattern": TOKEN_PATTERN}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordAnalyzer) and other.ngram_max == self.ngram_max

    def __hash__(self) -> int:
        return hash(("word", self.ngram_max))

    def __repr__(self) -> str:
        return f"WordAnalyzer(ngram_max={self.ngram_max})"
