"""The scale benchmarks' own logic (docs/scale.md): synthetic records and the reports. The benchmarks
themselves (`make bench-scale`, `make bench-cold-start`) are never run here."""

from __future__ import annotations

import json
import re

import pytest

from bench import lambda_cold_start, training_scale
from bench.synthetic_records import letter_suffix, synthetic_records, write_synthetic_set

SOURCE = [
    {"headline": "Senate passes the budget bill after a long night", "short_description": "Votes were close.",
     "category": "POLITICS", "authors": "A. Writer", "date": "2020-01-02", "link": "https://example.com/a"},
    {"headline": "Team wins the championship game in overtime", "short_description": "",
     "category": "SPORTS", "authors": "", "date": "2020-01-03", "link": "https://example.com/b"},
]


def _words(records) -> set[str]:
    return {word for r in records for word in re.findall(r"\w+", f"{r['headline']} {r['short_description']}")}


def test_letter_suffix_counts_like_spreadsheet_columns():
    assert [letter_suffix(i) for i in (1, 2, 26, 27, 28, 52, 53, 702, 703)] == [
        "a", "b", "z", "aa", "ab", "az", "ba", "zz", "aaa"]


def test_synthetic_records_are_deterministic_keep_labels_and_grow_the_vocabulary():
    small = list(synthetic_records(SOURCE, 200, seed=1))
    assert small == list(synthetic_records(SOURCE, 200, seed=1))
    assert small != list(synthetic_records(SOURCE, 200, seed=2))
    by_link = {r["link"]: r for r in SOURCE}
    for record in small:
        original = by_link[record["link"].split("#")[0]]
        assert record["category"] == original["category"] and record["date"] == original["date"]
    large = list(synthetic_records(SOURCE, 2000, seed=1))
    assert len(_words(SOURCE)) < len(_words(small)) < len(_words(large))
    assert len({r["link"] for r in large}) == 2000  # every record is its own


def test_synthetic_set_is_written_as_json_lines(tmp_path):
    path = write_synthetic_set(SOURCE, 5, tmp_path / "train.jsonl", seed=0)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(synthetic_records(SOURCE, 5, seed=0))
    with pytest.raises(ValueError, match="no source records"):
        next(synthetic_records([], 1))


def test_training_scale_report_has_a_row_per_size():
    run = {"seconds": 12.3, "peak_rss_mb": 456.7, "cpu_seconds": 20.0,
           "load_average_1min": {"min": 1.0, "median": 1.5, "max": 2.0},
           "fit_timings_s": {"features": 5, "fit": 4, "calibrate": 0.1, "refit": 3},
           "n_train_augmented": 1800, "n_features": 9000, "validation_accuracy": 0.61, "validation_ece": 0.04}
    results = {"run_id": "20260101T000000Z", "git": {"commit": "0123456789abcdef", "dirty": False}, "seed": 0,
               "runs": {
        "10000": run, "50000": {**run, "seconds": 60.0}}, "machine": {
        "cpu_count": 2, "python": "3.12.1", "scikit-learn": "1.9.0", "numpy": "2.4.6", "scipy": "1.17.1"}}
    text = training_scale.render_markdown(results)
    assert "| 10,000 | 12 | 457 | 20 | 5, 4, 0, 3 | 1,800 | 9,000 | 0.610 / 0.040 |" in text
    assert "| 50,000 | 60 |" in text


def test_training_scale_refuses_bad_sizes(capsys):
    assert training_scale.main(["--sizes", "10k"]) == 2
    assert "record counts" in capsys.readouterr().err


def test_cold_start_report_says_pass_or_miss_against_the_goal():
    median = {"total_s": 0.45, "interpreter_start_s": 0.02, "import_s": 0.2, "import_cpu_s": 0.19,
              "lazy_imports_s": 0.05, "lazy_imports_cpu_s": 0.05, "first_invoke_s": 0.18,
              "first_invoke_cpu_s": 0.1, "warm_invoke_s": 0.006, "process_cpu_s": 0.4,
              "phases_s": {"aws_clients": 0.1, "bundle_download": 0.05},
              "phases_cpu_s": {"aws_clients": 0.09}}
    result = {"run_id": "20260101T000000Z", "git": {"commit": "0123456789abcdef", "dirty": False},
              "python_version": "3.12.1",
              "package": {"files": 10, "mb": 1.0, "pyc_files": 5}, "function_memory_mb": 1024,
              "bundle_mb": 9.9,
              "runs": 7, "load_average": [0.5, 0.5, 0.5], "median": median,
              "costliest_imports": [{"module": "boto3", "depth": 1, "cumulative_ms": 120.0, "self_ms": 1.0}]}
    text = lambda_cold_start.render_markdown(result)
    assert "0.450 s** (goal <= 0.5 s: PASS)" in text
    assert "| - AWS client creation | 0.100 | 0.090 |" in text and "|   boto3 | 120.0 | 1.0 |" in text
    result["median"] = {**median, "total_s": 0.61}
    assert "MISS" in lambda_cold_start.render_markdown(result)
    assert "libraries alone" not in text  # results measured before the floor was
    result["libraries_floor"] = {"median_s": 0.4, "modules": 812, "not_importable_by_name": []}
    assert "the libraries alone: 0.400 s** (80 % of the goal)" in lambda_cold_start.render_markdown(result)
