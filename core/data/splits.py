"""Deterministic train/test splits, including a golden holdout that stays stable as data grows."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from core.data.dataset import DatasetError, NewsRecord, load_records
from core.data.headlines import headline_sha256
from core.data.shared_data import BAL41_FILE, V3_SAMPLE_FILE, shared_data_dir

STANDARD_SPLITS = {
    # name: (file, kind, argument)
    "bal41": (BAL41_FILE, "stratified", 0.2),
    "v3-temporal": (V3_SAMPLE_FILE, "temporal", "2021-01-01"),
}


def stratified_split(records: Sequence[NewsRecord], test_size: float = 0.2, seed: int = 0
                     ) -> tuple[list[NewsRecord], list[NewsRecord]]:
    """Same rows as sklearn's train_test_split(records, test_size, random_state=seed, stratify=categories)."""
    from sklearn.model_selection import train_test_split  # training-side only

    records = list(records)
    train, test = train_test_split(
        records, test_size=test_size, random_state=seed, stratify=[r.category for r in records]
    )
    return list(train), list(test)


def temporal_split(records: Sequence[NewsRecord], cutoff_date: str
                   ) -> tuple[list[NewsRecord], list[NewsRecord]]:
    """Train on the past (date < cutoff), test on the future (date >= cutoff). Undated: left out."""
    cutoff = str(cutoff_date)[:10]
    train = [r for r in records if r.date is not None and r.date < cutoff]
    test = [r for r in records if r.date is not None and r.date >= cutoff]
    return train, test


def golden_score(headline: str) -> float:
    """Position of a headline in [0, 1) from its identity (the first 64 bits of headline_sha256)."""
    return int(headline_sha256(headline)[:16], 16) / 2.0**64


def is_golden(record: NewsRecord | dict | str, fraction: float = 0.1) -> bool:
    """Whether a record is in the golden holdout: depends only on its headline, never on the data size."""
    if isinstance(record, str):
        headline = record
    elif isinstance(record, dict):
        headline = record.get("headline") or ""
    else:
        headline = record.headline
    return golden_score(headline) < fraction


def golden_split(records: Sequence[NewsRecord], fraction: float = 0.1
                 ) -> tuple[list[NewsRecord], list[NewsRecord]]:
    """(rest, golden): the golden holdout is the same for a headline whatever else is in the data."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rest, golden = [], []
    for record in records:
        (golden if is_golden(record, fraction) else rest).append(record)
    return rest, golden


def standard_split(name: str, data_dir: str | os.PathLike | None = None
                   ) -> tuple[list[NewsRecord], list[NewsRecord]]:
    """The standard splits of shared/data/README.md: 'bal41' and 'v3-temporal'."""
    if name not in STANDARD_SPLITS:
        raise ValueError(f"unknown split {name!r}; choose from {', '.join(STANDARD_SPLITS)}")
    filename, kind, argument = STANDARD_SPLITS[name]
    path = Path(data_dir) if data_dir is not None else shared_data_dir()
    path = path / filename
    if not path.exists():
        raise DatasetError(f"{path}: no such file (standard split {name!r} needs the shared data)")
    records = load_records([path])
    if kind == "stratified":
        return stratified_split(records, test_size=float(argument), seed=0)
    return temporal_split(records, str(argument))
