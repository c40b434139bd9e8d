from collections import Counter

import pytest

from core.data.dataset import NewsRecord
from core.data.splits import golden_split, is_golden, standard_split, stratified_split, temporal_split


@pytest.fixture
def records(generated_rows):
    return [NewsRecord.model_validate(r) for r in generated_rows]


def test_stratified_split_is_deterministic_and_stratified(records):
    train, test = stratified_split(records, test_size=0.2, seed=0)
    again_train, again_test = stratified_split(records, test_size=0.2, seed=0)
    assert [r.headline for r in test] == [r.headline for r in again_test]
    assert len(train) + len(test) == len(records)
    assert len(test) == 80
    counts = Counter(r.category for r in test)
    assert set(counts.values()) == {16}
    other = stratified_split(records, test_size=0.2, seed=1)[1]
    assert [r.headline for r in other] != [r.headline for r in test]


def test_temporal_split_uses_cutoff(records):
    train, test = temporal_split(records, "2020-01-01")
    assert train and test
    assert all(r.date < "2020-01-01" for r in train)
    assert all(r.date >= "2020-01-01" for r in test)
    undated = NewsRecord(headline="x", category="Y")
    assert temporal_split([undated], "2020-01-01") == ([], [])


def test_golden_holdout_is_stable_as_data_grows(records):
    rest, golden = golden_split(records[:200], 0.2)
    rest_all, golden_all = golden_split(records, 0.2)
    assert {r.headline for r in golden} <= {r.headline for r in golden_all}
    assert len(rest) + len(golden) == 200
    assert 0.1 < len(golden_all) / len(records) < 0.3
    # depends on the normalised headline only
    assert is_golden("Senate Votes  Today", 0.5) == is_golden({"headline": " senate votes today"}, 0.5)
    assert all(is_golden(r, 0.2) for r in golden_all)
    with pytest.raises(ValueError):
        golden_split(records, 1.5)


def test_standard_split_without_its_file_names_it(tmp_path):
    with pytest.raises(Exception, match="no such file"):
        standard_split("bal41", tmp_path)


def test_standard_splits_match_readme_sizes(shared_data_dir):
    train, test = standard_split("bal41", shared_data_dir)
    assert (len(train), len(test)) == (23616, 5904)
    from sklearn.model_selection import train_test_split

    from core.data.dataset import load_records

    rows = load_records([shared_data_dir / "news_category_41_balanced.jsonl"])
    _, ref_test = train_test_split(rows, test_size=0.2, random_state=0, stratify=[r.category for r in rows])
    assert [r.headline for r in test] == [r.headline for r in ref_test]
    train, test = standard_split("v3-temporal", shared_data_dir)
    assert (len(train), len(test)) == (9177, 2066)
    with pytest.raises(ValueError, match="unknown split"):
        standard_split("nope", shared_data_dir)
