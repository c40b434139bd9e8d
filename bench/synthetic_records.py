"""Synthetic training sets at the full dataset's size, grown from the v3 sample (never committed).

The full News Category Dataset has 209,527 records; these machines have an 11,243-record sample. To measure
training at 10k..210k records, records of the sample are drawn with replacement and their text perturbed so
the vocabulary keeps growing with the size, as a real corpus's does: each word of three or more letters
is, with probability PERTURB_RATE, replaced by a variant of itself (the word plus a letter suffix whose index
is Zipf-distributed, so a few variants recur often and new ones keep appearing). Categories, authors and
dates are the source record's. The same (n, seed) always gives the same records.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from core.data.jsonl import read_jsonl, write_jsonl

PERTURB_RATE = 0.15
ZIPF_EXPONENT = 1.6  # distinct variants after m draws grow like m ** (1 / 1.6): Heaps' law, beta ~ 0.6
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letter_suffix(index: int) -> str:
    """1 -> 'a', 26 -> 'z', 27 -> 'aa' ...: a suffix that keeps the variant one word for every tokenizer."""
    out = []
    while index > 0:
        index, rest = divmod(index - 1, 26)
        out.append(_LETTERS[rest])
    return "".join(reversed(out))


class _Perturber:
    """Replaces words by their variants, drawing from one seeded stream (deterministic for a seed)."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self._uniform = iter(())
        self._zipf = iter(())

    def _next(self, name: str) -> float:
        stream = getattr(self, name)
        try:
            return next(stream)
        except StopIteration:
            values = (self._rng.random(65536) if name == "_uniform"
                      else self._rng.zipf(ZIPF_EXPONENT, 65536)).tolist()
            setattr(self, name, iter(values))
            return self._next(name)

    def _replace(self, match: re.Match) -> str:
        word = match.group(0)
        if self._next("_uniform") >= PERTURB_RATE:
            return word
        return word + letter_suffix(int(self._next("_zipf")))

    def __call__(self, text: str) -> str:
        return _WORD.sub(self._replace, text) if text else text


def synthetic_records(source: Sequence[dict], n: int, seed: int = 0) -> Iterator[dict]:
    """n records drawn with replacement from `source` (dicts in the dataset's format), text perturbed."""
    if not source:
        raise ValueError("no source records")
    pick = random.Random(seed)
    perturb = _Perturber(seed)
    for i in range(n):
        record = dict(source[pick.randrange(len(source))])
        for field in ("headline", "short_description"):
            record[field] = perturb(record.get(field) or "")
        record["link"] = f"{record.get('link') or 'https://example.invalid/'}#synthetic-{i}"
        yield record


def read_source(path: str | os.PathLike) -> list[dict]:
    """The sample's records as plain dicts (JSON lines)."""
    return [record for _, record in read_jsonl(path)]


def write_synthetic_set(source: Sequence[dict], n: int, target: str | os.PathLike, seed: int = 0) -> Path:
    """Write n synthetic records as JSON lines (the dataset's format) to `target`; returns the path."""
    return write_jsonl(Path(target), synthetic_records(source, n, seed))
