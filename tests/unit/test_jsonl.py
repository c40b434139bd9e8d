"""The project's one JSON-lines reader and writer (core.data.jsonl)."""

import io

import pytest

from core.data.jsonl import DatasetError, dumps_jsonl, iter_jsonl, parse_jsonl, read_jsonl, write_jsonl

ROWS = [{"headline": "Élection — résultats", "category": "WORLD NEWS"}, "bare headline", {"n": 1}]


def test_written_lines_read_back_with_their_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    assert "Élection" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert list(read_jsonl(path)) == [(1, ROWS[0]), (2, ROWS[1]), (3, ROWS[2])]
    assert parse_jsonl(dumps_jsonl(ROWS), "s3://bucket/key") == ROWS
    stream = io.StringIO()
    assert write_jsonl(stream, ROWS[:1]) is stream
    write_jsonl(stream, ROWS[1:])
    assert stream.getvalue().encode("utf-8") == dumps_jsonl(ROWS) == path.read_bytes()


def test_blank_lines_and_a_byte_order_mark_are_skipped(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n   \n{"a": 2}\r\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]
    assert parse_jsonl(path.read_bytes(), "body") == [{"a": 1}, {"a": 2}]


def test_a_line_that_is_not_json_names_source_and_line(tmp_path):
    lines = ['{"a": 1}', "{not json", '{"a": 3}']
    with pytest.raises(DatasetError, match=r"^src:2: not valid JSON \(Expecting property .* column 2\)$"):
        list(iter_jsonl(lines, "src"))
    rows = list(iter_jsonl(lines, "src", invalid="yield"))
    assert [n for n, _ in rows] == [1, 2, 3] and isinstance(rows[1][1], DatasetError)
    with pytest.raises(DatasetError, match="s3://b/k:1: not valid JSON"):
        parse_jsonl(b"[1,\n", "s3://b/k")


def test_unreadable_files_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="missing.jsonl: no such file"):
        list(read_jsonl(tmp_path / "missing.jsonl"))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"h": "café"}\n'.encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        list(read_jsonl(latin))
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        parse_jsonl(latin.read_bytes(), "body")
