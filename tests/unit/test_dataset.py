import json
from pathlib import Path

import pytest

from core.data.dataset import DatasetError, NewsRecord, inspect, iter_records, load_records

KAGGLE_LINE = (
    '{"link": "https://www.huffpost.com/entry/x", "headline": "The 5 Best Skin Care Resolutions", '
    '"category": "STYLE & BEAUTY", "short_description": "You already know No. 1.", '
    '"authors": "Abigail Abesamis Demarest", "date": "2021-12-31"}\n'
)


def test_reads_kaggle_json_lines_format(tmp_path: Path):
    path = tmp_path / "News_Category_Dataset_v3.json"
    path.write_text(KAGGLE_LINE * 3)
    records = list(iter_records(path))
    assert len(records) == 3
    assert records[0].category == "STYLE & BEAUTY"
    assert records[0].authors == "Abigail Abesamis Demarest"
    assert records[0].date == "2021-12-31"


def test_invalid_line_names_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(KAGGLE_LINE + '{"headline": "   ", "category": "X"}\n' + KAGGLE_LINE)
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: .*headline"):
        list(iter_records(path))


def test_malformed_json_and_bad_date_are_counted_when_skipping(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        KAGGLE_LINE + "{not json\n" + "\n" + '{"headline": "h", "category": "C", "date": "31/12/2021"}\n'
        + '["a list"]\n' + '{"headline": "", "category": "C"}\n' + KAGGLE_LINE
    )
    stats: dict = {}
    records = list(iter_records(path, skip_invalid=True, stats=stats))
    assert len(records) == 2
    assert stats["invalid"] == 4
    assert stats["blank"] == 1
    assert stats["empty_headline"] == 1
    with pytest.raises(DatasetError, match=r"mixed\.jsonl:2: not valid JSON"):
        list(iter_records(path))


def test_csv_with_headline_and_category(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('headline,category,extra\n"Senate votes, again",POLITICS,x\nNew pasta,FOOD,y\n')
    records = load_records([path])
    assert [r.headline for r in records] == ["Senate votes, again", "New pasta"]
    assert records[0].short_description == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("title,category\nx,y\n")
    with pytest.raises(DatasetError, match="lacks column"):
        load_records([bad])


def test_missing_file_and_directory_expansion(tmp_path: Path, generated_rows, write_rows):
    with pytest.raises(DatasetError, match="no such file"):
        load_records([tmp_path / "missing.jsonl"])
    write_rows(tmp_path / "a.jsonl", generated_rows[:10])
    write_rows(tmp_path / "b.jsonl", generated_rows[10:25])
    assert len(load_records(tmp_path)) == 25
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(DatasetError, match="no .jsonl"):
        load_records([empty_dir])


def test_record_validation_and_hash():
    record = NewsRecord(headline="  Hello  World ", category="X", authors=None)
    assert record.headline == "Hello  World"
    assert record.normalised_headline() == "hello world"
    assert record.authors == ""
    same = NewsRecord.model_validate({"headline": "Hello  World", "category": "X", "unknown": 1})
    assert same.record_hash() == record.record_hash()
    assert NewsRecord(headline="Hello", category="Y").record_hash() != record.record_hash()
    with pytest.raises(ValueError):
        NewsRecord(headline="x", category="  ")


def test_inspect_reports_counts_duplicates_and_dates(tmp_path: Path, write_rows):
    rows = [
        {"headline": "A b", "category": "X", "date": "2020-01-02"},
        {"headline": "a  B", "category": "X", "date": "2019-05-01", "short_description": "d"},
        {"headline": "c", "category": "Y"},
    ]
    path = write_rows(tmp_path / "x.jsonl", rows)
    with path.open("a") as fh:
        fh.write(json.dumps({"headline": "", "category": "Y"}) + "\n")
    report = inspect([path])
    assert report["records"] == 3
    assert report["invalid_lines"] == 1
    assert report["empty_texts"]["headline"] == 1
    assert report["empty_texts"]["short_description"] == 2
    assert report["duplicates"] == 1
    assert report["categories"] == {"X": 2, "Y": 1}
    assert report["date_range"] == {"min": "2019-05-01", "max": "2020-01-02"}
    assert report["undated"] == 1


def _assert_loads_completely(path: Path, expected_records: int, expected_categories: int) -> None:
    stats: dict = {}
    records = list(iter_records(path, stats=stats))
    assert len(records) == expected_records == stats["valid"] == stats["lines"]
    assert len({r.category for r in records}) == expected_categories
    assert all(r.date and r.short_description is not None for r in records)


def test_sample_file_loads_completely(shared_data_dir):
    """The real v3 sample (exact Kaggle lines)."""
    _assert_loads_completely(shared_data_dir / "news_category_v3_sample.jsonl", 11243, 29)


def test_generated_corpus_loads_completely(tiny_jsonl):
    _assert_loads_completely(tiny_jsonl, 400, 5)
