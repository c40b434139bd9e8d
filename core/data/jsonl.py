"""JSON lines, the project's one reader and writer: data files, S3 bodies, the CLI's input and output.

Reading skips blank lines and a leading byte-order mark and names the source and line of anything that is not
JSON; writing keeps non-ASCII text as UTF-8 (one record per line, no pretty-printing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

from core.errors import MlNewsError


class DatasetError(MlNewsError, ValueError):
    """A data file is missing, unreadable or holds an invalid record (message names file and line)."""


def iter_jsonl(lines: Iterable[str], source: str, *, invalid: Literal["raise", "yield"] = "raise"
               ) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line. A line that is not JSON raises DatasetError naming
    source and line; with invalid="yield" that error is the line's value, so a caller can count and go on."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            error = DatasetError(f"{source}:{number}: not valid JSON ({exc.msg} at column {exc.colno})")
            if invalid == "raise":
                raise error from None
            value = error
        yield number, value


def read_jsonl(path: str | os.PathLike, *, invalid: Literal["raise", "yield"] = "raise"
               ) -> Iterator[tuple[int, Any]]:
    """iter_jsonl over a UTF-8 file; a missing, unreadable or non-UTF-8 file is a DatasetError too."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            yield from iter_jsonl(fh, str(path), invalid=invalid)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_jsonl(text: str | bytes, source: str) -> list[Any]:
    """The values of JSON-lines text held in memory (an S3 object's body), in order."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{source}: not UTF-8 text ({exc.reason})") from None
    return [value for _, value in iter_jsonl(text.splitlines(), source)]


def _line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def dumps_jsonl(records: Iterable[Any]) -> bytes:
    """JSON lines as UTF-8 bytes (an S3 object's body)."""
    return "".join(map(_line, records)).encode("utf-8")


def write_jsonl(target: str | os.PathLike | TextIO, records: Iterable[Any]):
    """Write JSON lines to a file path (created or replaced; returns the Path) or to an open text stream
    (returns it, so a caller can keep writing)."""
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(map(_line, records))
        return path
    target.writelines(map(_line, records))
    return target
