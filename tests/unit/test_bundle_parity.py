"""The numpy bundle must serve exactly what the scikit-learn pipeline learned, without sklearn or pickle."""

import json
from pathlib import Path

import joblib
import numpy as np
import pytest

from core.data.dataset import NewsRecord, load_records
from core.fitting.training import train_to_dir
from core.model.bundle import BundleError, ServingModel
from core.model.bundle_format import bundle_digest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=["generated", "v3-sample"])
def parity_case(request, tmp_path_factory, generated_rows, fake_embeddings):
    """(model dir, test records): generated records, and real v3 records (past -> future), which are skipped
    visibly when ../shared/data is absent."""
    if request.param == "v3-sample":
        from core.data.shared_data import V3_SAMPLE_FILE
        from core.data.splits import temporal_split

        records = load_records([request.getfixturevalue("shared_data_dir") / V3_SAMPLE_FILE])
        train, test = temporal_split(records, "2021-01-01")
        train = train[::3]  # a third of the past keeps the test quick; parity does not need the best model
    else:
        records = [NewsRecord.model_validate(r) for r in generated_rows]
        train, test = records[:300], records[300:]
    out = tmp_path_factory.mktemp("parity")
    hp = {"embeddings": "default", "embedding_weight": 0.5}
    train_to_dir(train, out, hyperparameters=hp,
                 text_fields=("headline", "short_description", "authors"), embeddings=fake_embeddings)
    return out, test


def test_labels_and_probabilities_match_pipeline(parity_case, fake_embeddings_cls):
    model_dir, test = parity_case
    pipeline = joblib.load(model_dir / "pipeline.joblib")
    model = ServingModel.load(model_dir, embeddings_cls=fake_embeddings_cls)
    items = [r.model_dump() for r in test]
    headline_only = [{"headline": r.headline} for r in test]
    # repeated words and n-grams exercise the bundle's term-frequency corrections; long text, odd characters
    edge = [{"headline": h} for h in ("the the the vote vote", "aaaa aaaa a", "Élection — résultats!!",
                                      " ".join(["senate"] * 400), "x" * 300, "?")]
    for batch in (items, headline_only, edge):
        expected_labels = pipeline.predict(batch)
        expected = pipeline.predict_proba(batch)
        proba = model.predict_proba(batch)
        assert proba.shape == expected.shape
        assert list(np.asarray(model.classes)[proba.argmax(axis=1)]) == list(expected_labels)
        assert np.allclose(proba, expected, atol=1e-6, rtol=0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # one at a time (the Lambda path) equals the batch path
    batch = model.predict_proba(items)
    for i in range(0, len(items), max(1, len(items) // 25)):
        assert np.allclose(model.predict_proba([items[i]]), batch[i : i + 1], atol=1e-12)


def test_predict_shape_and_explanations(parity_case, fake_embeddings_cls):
    model_dir, test = parity_case
    model = ServingModel.load(model_dir / "bundle", embeddings_cls=fake_embeddings_cls)
    predictions = model.predict([r.model_dump() for r in test[:20]], top_k=3)
    assert len(predictions) == 20
    for p in predictions:
        assert p["category"] in model.classes
        assert p["top_k"][0]["category"] == p["category"]
        assert p["confidence"] == pytest.approx(p["top_k"][0]["probability"])
        assert len(p["top_k"]) == 3
        probs = [t["probability"] for t in p["top_k"]]
        assert probs == sorted(probs, reverse=True)
        weights = [e["weight"] for e in p["explanation"]]
        assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
    # the explanation terms come from the input
    p = model.predict([{"headline": test[0].headline}])[0]
    words = set(test[0].headline.lower().replace("'", " ").split())
    assert p["explanation"]
    assert all(any(e["term"] in w for w in words) for e in p["explanation"])


def test_explanation_credits_the_decisive_word(tiny_model_dir):
    model = ServingModel.load(tiny_model_dir)
    p = model.predict(["xyzzy recipe"])[0]
    assert p["category"] == "FOOD & DRINK"
    assert p["explanation"][0]["term"] == "recipe"


def test_version_sha_and_expected_digest(tiny_model_dir):
    model = ServingModel.load(tiny_model_dir, version="v0007")
    assert model.version == "v0007"
    assert model.sha256 == bundle_digest(tiny_model_dir / "bundle")
    assert ServingModel.load(tiny_model_dir, expected_sha256=model.sha256).sha256 == model.sha256
    with pytest.raises(BundleError, match="differs from the expected"):
        ServingModel.load(tiny_model_dir, expected_sha256="0" * 64)
    default = ServingModel.load(tiny_model_dir)
    meta = json.loads((tiny_model_dir / "bundle" / "bundle.json").read_text())
    assert default.version == meta["version"]


def _copy_bundle(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("bundle.json", "arrays.npz"):
        (dst / name).write_bytes((src / "bundle" / name).read_bytes())
    return dst


def test_tampered_arrays_are_rejected(tiny_model_dir, tmp_path):
    bundle = _copy_bundle(tiny_model_dir, tmp_path / "b")
    data = bytearray((bundle / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 does not match"):
        ServingModel.load(bundle)


def test_corrupt_or_missing_bundle_is_rejected(tiny_model_dir, tmp_path):
    with pytest.raises(BundleError, match="no bundle.json"):
        ServingModel.load(tmp_path)
    bundle = _copy_bundle(tiny_model_dir, tmp_path / "b")
    (bundle / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        ServingModel.load(bundle)
    # consistent hashes but garbage arrays: a rewritten bundle.json cannot smuggle in a broken file
    bundle2 = _copy_bundle(tiny_model_dir, tmp_path / "c")
    (bundle2 / "arrays.npz").write_bytes(b"garbage")
    meta = json.loads((bundle2 / "bundle.json").read_text())
    import hashlib

    meta["arrays_sha256"] = hashlib.sha256(b"garbage").hexdigest()
    (bundle2 / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="cannot read arrays"):
        ServingModel.load(bundle2)
    meta["format_version"] = 99
    (bundle2 / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError):
        ServingModel.load(bundle2)


def test_empty_inputs(tiny_model_dir):
    model = ServingModel.load(tiny_model_dir)
    assert model.predict_proba([]).shape == (0, len(model.classes))
    assert model.predict([]) == []
    # text with no known feature falls back to the prior (bias) and still sums to one
    proba = model.predict_proba([{"headline": "qqqq"}])
    assert proba.shape == (1, len(model.classes))
    assert proba.sum() == pytest.approx(1.0)


def test_single_word_explanation_is_its_whole_logit(parity_case, fake_embeddings_cls):
    """For a one-word input every feature (unigram, embedding token) belongs to that word."""
    model_dir, _ = parity_case
    pipeline = joblib.load(model_dir / "pipeline.joblib")
    clf = pipeline.named_steps["clf"]
    model = ServingModel.load(model_dir, embeddings_cls=fake_embeddings_cls)
    checked = 0
    for word in ("election", "trump", "food", "game", "film"):
        prediction = model.predict([word])[0]
        c = model.classes.index(prediction["category"])
        share = float(clf.decision_function(pipeline[:-1].transform([word]))[0, c] - clf.intercept_[c])
        if share > 0:
            assert prediction["explanation"] == [{"term": word, "weight": round(share, 4)}]
            checked += 1
        else:
            assert prediction["explanation"] == []
    assert checked >= 1


def test_word_analyzer_matches_scikit_learn():
    from sklearn.feature_extraction.text import CountVectorizer

    from core.model.textproc import WordAnalyzer

    texts = ["a", "ab abc abcd", "Hello World!", "x y  zz", "supercalifragilistic", "", "Élan vital"]
    reference = CountVectorizer(ngram_range=(1, 3)).build_analyzer()
    assert [WordAnalyzer(3)(t) for t in texts] == [reference(t) for t in texts]


def test_a_bundle_with_char_ngram_features_is_refused(tiny_model_dir, tmp_path):
    """Char n-gram features were removed; a bundle that has them must not be served without them."""
    bundle = _copy_bundle(tiny_model_dir, tmp_path / "b")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["analyzers"]["char"] = {"kind": "char_wb", "ngram_min": 2, "ngram_max": 5}
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="char n-gram"):
        ServingModel.load(bundle)
