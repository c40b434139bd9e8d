"""Shared fixtures: the real evaluation data when present, and a small generated corpus otherwise."""

from __future__ import annotations

import random
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.data import shared_data
from core.data.jsonl import write_jsonl
from local.iam.enforcement import access_control
from local.iam.enforcement import install as install_iam_checks

# Every AWS call made as a function, the state machine or a training job is authorized against its role as
# template.yaml defines it (local/iam); installed before any botocore session exists so all are checked.
install_iam_checks()


# Generated corpus: each category has its own words, plus words shared by all categories (noise).
_TOPICS = {
    "POLITICS": ["senate", "vote", "congress", "president", "bill", "election", "governor", "campaign"],
    "SPORTS": ["match", "coach", "season", "goal", "team", "league", "championship", "player"],
    "FOOD & DRINK": ["recipe", "pasta", "dinner", "chef", "wine", "bake", "kitchen", "flavor"],
    "SCIENCE": ["study", "researchers", "planet", "species", "climate", "physics", "telescope", "cells"],
    "ENTERTAINMENT": ["movie", "actor", "album", "singer", "premiere", "star", "series", "festival"],
}
_SHARED = ["new", "says", "after", "year", "first", "big", "week", "how", "why", "people", "world", "day"]
_AUTHORS = {
    "POLITICS": ["Ann Lee", "Bo Park"], "SPORTS": ["Cy Young"], "FOOD & DRINK": ["Di Rossi"],
    "SCIENCE": ["Ed Kim", "Flo Chen"], "ENTERTAINMENT": ["Gus Moe"],
}


def generate_records(n: int = 400, seed: int = 0) -> list[dict]:
    """Deterministic News-Category-like rows (JSON-lines keys of the real dataset)."""
    rng = random.Random(seed)
    categories = sorted(_TOPICS)
    rows = []
    for i in range(n):
        category = categories[i % len(categories)]
        own = _TOPICS[category]
        # a quarter of the topical words come from another category, so the task is not trivial
        words = []
        for _ in range(rng.randint(4, 8)):
            pool = own if rng.random() > 0.25 else _TOPICS[rng.choice(categories)]
            words.append(rng.choice(pool if rng.random() > 0.3 else _SHARED))
        headline = " ".join(words).capitalize() + f" {i}"
        description = " ".join(rng.choice(own + _SHARED) for _ in range(rng.randint(0, 6)))
        rows.append({
            "link": f"https://example.org/{i}",
            "headline": headline,
            "category": category,
            "short_description": description,
            "authors": rng.choice(_AUTHORS[category]),
            "date": f"20{18 + i % 4}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        })
    return rows


class FakeEmbeddings:
    """Same API as core.model.embeddings.StaticEmbeddings, with random vectors over a small vocabulary."""

    _TOKEN = re.compile(r"\w+")

    def __init__(self, vocab: Sequence[str], vectors: np.ndarray):
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.dim = int(self.vectors.shape[1])

    @classmethod
    def random(cls, dim: int = 8, seed: int = 0) -> FakeEmbeddings:
        vocab = sorted({w for words in _TOPICS.values() for w in words} | set(_SHARED)
                       | {"trump", "election", "game", "film", "food", "the", "new"})
        rng = np.random.default_rng(seed)
        return cls(vocab, rng.normal(size=(len(vocab), dim)).astype(np.float32))

    def _tokens(self, text: str) -> list[str]:
        return [t for t in self._TOKEN.findall(text.lower()) if t in self.index]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [self.index[t] for t in self._tokens(text)]
            if ids:
                out[row] = self.vectors[ids].mean(axis=0)
        return out

    def token_vectors(self, text: str) -> list[tuple[str, np.ndarray]]:
        return [(t, self.vectors[self.index[t]]) for t in self._tokens(text)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"vocab": np.array(self.vocab), "vectors": self.vectors}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FakeEmbeddings:
        return cls([str(w) for w in arrays["vocab"]], arrays["vectors"])

    @classmethod
    def load_default(cls) -> FakeEmbeddings:
        return cls.random()


# joblib pickles the pipeline, embeddings included: give the fake an importable home.
_FAKES_MODULE = types.ModuleType("mlnews_test_fakes")
_FAKES_MODULE.FakeEmbeddings = FakeEmbeddings
FakeEmbeddings.__module__ = _FAKES_MODULE.__name__
sys.modules[_FAKES_MODULE.__name__] = _FAKES_MODULE


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """../shared/data (or $MLNEWS_DATA_DIR) holding the evaluation files. Without them a test that needs them
    is skipped with the reason shown, never run on weaker checks (CI has them)."""
    root = shared_data.shared_data_dir()
    files = (shared_data.BAL41_FILE, shared_data.V3_SAMPLE_FILE)
    missing = [name for name in files if not (root / name).is_file()]
    if missing:
        pytest.skip(f"needs the shared evaluation data: {', '.join(missing)} not in {root}")
    return root


@pytest.fixture(scope="session")
def generated_rows() -> list[dict]:
    return generate_records()


@pytest.fixture
def tiny_jsonl(tmp_path: Path, generated_rows) -> Path:
    return write_jsonl(tmp_path / "tiny.jsonl", generated_rows)


@pytest.fixture(scope="session")
def write_rows():
    """write_rows(path, rows) -> path: JSON lines."""
    return write_jsonl


@pytest.fixture(scope="session")
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings.random()


@pytest.fixture(scope="session")
def fake_embeddings_cls() -> type[FakeEmbeddings]:
    return FakeEmbeddings


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, generated_rows) -> Path:
    """A model trained once per session on the generated corpus (word n-grams, no embeddings)."""
    from core.data.dataset import NewsRecord
    from core.fitting.training import train_to_dir

    out = tmp_path_factory.mktemp("tiny_model")
    records = [NewsRecord.model_validate(r) for r in generated_rows]
    train_to_dir(records, out, hyperparameters={"embeddings": "none", "word_min_df": 1})
    return out


@pytest.fixture(scope="session")
def cli_model(tmp_path_factory, generated_rows) -> tuple[Path, Path]:
    """(model dir, its training data): `mlnews train` once per session on the generated corpus, all three
    text fields."""
    from cli.main import main

    work = tmp_path_factory.mktemp("cli")
    data = write_jsonl(work / "train.jsonl", generated_rows)
    hyperparameters = '{"embeddings": "none", "word_min_df": 1}'
    assert main(["train", "--data", str(data), "--out", str(work / "model"), "--hyperparameters",
                 hyperparameters, "--text-fields", "headline,short_description,authors"]) == 0
    return work / "model", data


@pytest.fixture(autouse=True)
def iam_conformance():
    """Fail the test when code running as a role made a call the role does not allow (AWS would refuse it).
    Tests that provoke a refusal on purpose take it with local.iam.enforcement.expected_denials()."""
    access_control.take_denials()
    yield
    denials = access_control.take_denials()
    if denials:
        pytest.fail(
            "AWS would refuse these calls (IAM, as template.yaml defines the roles):\n"
            + "\n".join(denial.report() for denial in denials),
            pytrace=False,
        )
