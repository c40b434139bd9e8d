"""Synthetic News-Category-like records and tiny models trained on them."""

from __future__ import annotations

import random
from pathlib import Path

CATEGORIES = {
    "POLITICS": "senate vote election congress president law bill campaign governor policy",
    "SPORTS": "team game season coach player championship score league match win",
    "FOOD & DRINK": "recipe dinner pasta cook kitchen chef flavor bake restaurant taste",
    "SCIENCE": "planet telescope study researchers cells physics species climate space lab",
}

FILLER = "the a new after for with in on about how why this".split()

FAST_HYPERPARAMETERS = {"embeddings": "none", "char_ngrams": False, "max_iter": 100}

def make_records(per_class: int, seed: int, label_noise: float = 0.0) -> list[dict]:
    """Synthetic headlines: three category words + three filler words; `label_noise` relabels at random."""
    rng = random.Random(seed)
    names = sorted(CATEGORIES)
    records = []
    for category in names:
        words = CATEGORIES[category].split()
        for index in range(per_class):
            tokens = rng.sample(words, 3) + rng.sample(FILLER, 3)
            rng.shuffle(tokens)
            label = rng.choice(names) if rng.random() < label_noise else category
            records.append(
                {
                    "headline": f"{' '.join(tokens)} {seed}-{index}",
                    "category": label,
                    "short_description": "",
                    "authors": "",
                }
            )
    return records

def train_model(records: list[dict], out_dir: Path) -> Path:
    from core.data.dataset import NewsRecord
    from core.fitting.training import train_to_dir

    train_to_dir([NewsRecord(**record) for record in records], out_dir, hyperparameters=FAST_HYPERPARAMETERS)
    return out_dir
