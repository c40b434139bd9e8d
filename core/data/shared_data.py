"""Where the project's evaluation data lives: ../shared/data beside the repository (its README describes the
files and the standard splits), or $MLNEWS_DATA_DIR. The tests, the bench, the standard splits and local
mode's first dataset all look here."""

from __future__ import annotations

import os
from pathlib import Path

BAL41_FILE = "news_category_41_balanced.jsonl"
V3_SAMPLE_FILE = "news_category_v3_sample.jsonl"


def shared_data_dir() -> Path:
    """$MLNEWS_DATA_DIR, else ../shared/data relative to the repository root (whether or not it exists)."""
    env = os.environ.get("MLNEWS_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"
