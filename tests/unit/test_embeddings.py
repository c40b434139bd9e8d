"""Static embeddings: the tokenizer matches BERT's; embed() is the normalised weighted mean."""

import json
from pathlib import Path

import numpy as np
import pytest

from core.model.embeddings import ASSET_PATH, StaticEmbeddings
from core.model.wordpiece import WordPiece, basic_tokens

CASES = json.loads((Path(__file__).parent / "fixtures" / "wordpiece_cases.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def packaged() -> StaticEmbeddings:
    assert ASSET_PATH.exists(), "core/model/assets/minilm_static.npz is part of the repository"
    return StaticEmbeddings.load_default()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["text"][:30] or "<empty>")
def test_tokens_match_hugging_face_bert_uncased(packaged, case):
    """Expected tokens were produced by Hugging Face's tokenizer for all-MiniLM-L6-v2 (full vocabulary).

    The packaged vocabulary keeps only tokens that ASCII-folded text can produce, so non-ASCII pieces become
    [UNK] here (and are then ignored by embed()).
    """
    ours = [str(packaged.vocab[i]) for i in packaged.tokenizer.ids(case["text"])]
    expected = case["tokens"]
    if all(tok.isascii() for tok in expected):
        assert ours == expected
    else:
        assert set(ours) <= set(expected) | {"[UNK]"}
        assert "[UNK]" in ours


def test_basic_tokens_ascii_fast_path_equals_general_path():
    text = "Don't panic: U.S. stocks (mostly) rose 3.5% -- #markets @nyse"
    general = basic_tokens(text + " é")[:-1]  # a non-ASCII character forces the general path
    assert basic_tokens(text) == general


def test_wordpiece_greedy_longest_match_and_unknown():
    wp = WordPiece(["[UNK]", "un", "##aff", "##able", "aff"])
    assert wp.ids("unaffable") == [1, 2, 3]
    assert wp.ids("zzz") == [0]
    assert wp.ids("un" + "a" * 200) == [0]  # longer than BERT's 100-character limit


def test_embed_is_normalised_weighted_mean_and_zero_for_empty():
    vocab = ["[UNK]", "good", "news", "bad"]
    vectors = np.array([[0, 0], [1, 0], [0, 1], [-1, 0]], dtype=np.int8)
    emb = StaticEmbeddings(vocab, vectors, scales=np.ones(4), weights=np.array([1, 1, 3, 1]))
    out = emb.embed(["good news", "", "zzz", "bad"])
    expected = np.array([1.0, 3.0]) / np.sqrt(10.0)
    assert np.allclose(out[0], expected)
    assert np.allclose(out[1], 0) and np.allclose(out[2], 0)  # nothing known: zeros, not NaN
    assert np.allclose(out[3], [-1, 0])
    pieces = emb.token_vectors("good news")
    assert [tok for tok, _ in pieces] == ["good", "news"]
    assert np.allclose(sum(vec for _, vec in pieces), [1, 3])


def test_round_trip_through_arrays_keeps_int8_table(packaged):
    arrays = packaged.to_arrays()
    assert arrays["vectors_int8"].dtype == np.int8
    again = StaticEmbeddings.from_arrays(arrays)
    texts = ["Senate passes the budget bill", "New vaccine trial shows promise"]
    assert np.array_equal(again.embed(texts), packaged.embed(texts))


def test_related_headlines_are_closer_than_unrelated(packaged):
    """The distilled table carries meaning: a sanity check with no label information involved."""
    a, b, c = packaged.embed([
        "Senate votes on the new tax bill",
        "Congress passes legislation on taxes",
        "Chocolate cake recipe with fresh strawberries",
    ])
    assert a @ b > a @ c + 0.1
