"""Reading the News Category Dataset: JSON lines as published on Kaggle, or any JSONL/CSV with headline and
category."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from core.data.headlines import normalise_headline
from core.data.jsonl import DatasetError, iter_jsonl

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv", ".ndjson")


class NewsRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    headline: str
    category: str
    short_description: str = ""
    authors: str = ""
    link: str = ""
    date: str | None = None

    @field_validator("headline", "category")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("short_description", "authors", "link", mode="before")
    @classmethod
    def _none_to_empty(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValueError("must be an ISO date string such as 2021-12-31")
        text = value.strip()
        try:
            dt.date.fromisoformat(text[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date such as 2021-12-31") from None
        return text[:10]

    def record_hash(self) -> str:
        """Stable content hash of the record (for the training-data fingerprint)."""
        payload = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def normalised_headline(self) -> str:
        return normalise_headline(self.headline)


def _describe_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "record"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts)


def _new_stats() -> dict:
    return {"lines": 0, "valid": 0, "invalid": 0, "blank": 0, "empty_headline": 0, "errors": []}


def _bump_invalid(stats: dict, message: str, empty_headline: bool) -> None:
    stats["invalid"] += 1
    if empty_headline:
        stats["empty_headline"] += 1
    if len(stats["errors"]) < 20:
        stats["errors"].append(message)


def _iter_raw(path: Path, stats: dict) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed row or DatasetError) for every non-blank row; count blank lines."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or ())
            missing = {"headline", "category"} - fields
            if missing:
                raise DatasetError(f"{path}: CSV header lacks column(s) {', '.join(sorted(missing))}")
            for row in reader:
                yield reader.line_num, row
        return
    with path.open("rb") as fh:
        first = fh.read(1)
        while first in (b" ", b"\t", b"\r", b"\n", b"\xef", b"\xbb", b"\xbf"):
            first = fh.read(1)
    if first == b"[":
        # a JSON array of records (not the published layout, but a common export)
        try:
            rows = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        for index, row in enumerate(rows, start=1):
            yield index, row
        return
    with path.open(encoding="utf-8-sig") as fh:
        yield from iter_jsonl(_counting_blank_lines(fh, stats), str(path), invalid="yield")


def _counting_blank_lines(lines: Iterable[str], stats: dict) -> Iterator[str]:
    for line in lines:
        if not line.strip():
            stats["blank"] += 1
        yield line


def iter_records(path: str | os.PathLike, skip_invalid: bool = False, stats: dict | None = None
                 ) -> Iterator[NewsRecord]:
    """Stream valid records from one file. Invalid rows raise DatasetError, or with skip_invalid are counted
    in stats."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, expected a .jsonl, .json or .csv file")
    if stats is None:
        stats = _new_stats()
    else:
        for key, value in _new_stats().items():
            stats.setdefault(key, value)
    try:
        for lineno, row in _iter_raw(path, stats):
            stats["lines"] += 1
            empty_headline = False
            if isinstance(row, DatasetError):
                message = str(row)
            elif not isinstance(row, dict):
                message = f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}"
            else:
                try:
                    record = NewsRecord.model_validate(row)
                except ValidationError as exc:
                    headline = row.get("headline")
                    empty_headline = headline is None or (isinstance(headline, str) and not headline.strip())
                    message = f"{path}:{lineno}: invalid record ({_describe_error(exc)})"
                else:
                    stats["valid"] += 1
                    yield record
                    continue
            if not skip_invalid:
                raise DatasetError(message + "; use --skip-invalid to skip such lines")
            _bump_invalid(stats, message, empty_headline)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; directories expand to their data files (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            if not found:
                raise DatasetError(f"{path}: directory holds no .jsonl, .json or .csv files")
            out.extend(found)
        elif not path.exists():
            raise DatasetError(f"{path}: no such file")
        else:
            out.append(path)
    return out


def load_records(paths: str | os.PathLike | Iterable[str | os.PathLike], skip_invalid: bool = False,
                 stats: dict | None = None) -> list[NewsRecord]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    records: list[NewsRecord] = []
    for path in expand_paths(paths):
        records.extend(iter_records(path, skip_invalid=skip_invalid, stats=stats))
    return records


def inspect(paths: str | os.PathLike | Iterable[str | os.PathLike], skip_invalid: bool = True) -> dict:
    """Summary of data files: counts per category, duplicates, empty texts, invalid lines, date range."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    stats = _new_stats()
    categories: Counter[str] = Counter()
    seen: set[str] = set()
    duplicates = 0
    empty_description = 0
    empty_authors = 0
    dates: list[str] = []
    undated = 0
    headline_words = 0
    n = 0
    for path in files:
        for record in iter_records(path, skip_invalid=skip_invalid, stats=stats):
            n += 1
            categories[record.category] += 1
            key = record.normalised_headline()
            if key in seen:
                duplicates += 1
            else:
                seen.add(key)
            if not record.short_description:
                empty_description += 1
            if not record.authors:
                empty_authors += 1
            if record.date:
                dates.append(record.date)
            else:
                undated += 1
            headline_words += len(record.headline.split())
    return {
        "files": [str(p) for p in files],
        "records": n,
        "lines": stats["lines"],
        "invalid_lines": stats["invalid"],
        "invalid_examples": stats["errors"][:5],
        "empty_texts": {
            "headline": stats["empty_headline"],
            "short_description": empty_description,
            "authors": empty_authors,
        },
        "duplicates": duplicates,
        "n_categories": len(categories),
        "categories": dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        "date_range": {"min": min(dates), "max": max(dates)} if dates else None,
        "undated": undated,
        "mean_headline_words": round(headline_words / n, 2) if n else 0.0,
    }
