"""Reading untrusted text files: one clear `LmauditError` instead of a traceback.

Shared by every reader of user files (datasets, task YAML, stored responses, battles):
- text is UTF-8; a byte-order mark at the start is dropped (`utf-8-sig`), so it never
  sticks to the first CSV column name or breaks the first JSON line; `.gz` files are
  decompressed on the fly;
- JSON values are parsed by `parse_json`, which turns malformed JSON, nesting too deep
  for the parser (`RecursionError`) and integers beyond Python's 4,300-digit conversion
  limit into `JsonProblem` (a `ValueError` with a one-line reason);
- CSV fields may be up to `CSV_FIELD_LIMIT` characters (Python's default is 128 KiB);
  longer fields are an error naming the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lmaudit.core.types import LmauditError

CSV_FIELD_LIMIT = 64 * 1024 * 1024  # characters per CSV field


class JsonProblem(ValueError):
    """Why a JSON text could not be read (one line, no traceback)."""


def parse_json(text: str | bytes) -> Any:
    """`json.loads(text)`; `JsonProblem` for malformed, too deeply nested or oversized input.

    A JSON syntax error's message carries its column (and line, past the first line).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        if error.lineno == 1:
            where = f"column {error.colno}"
        raise JsonProblem(f"malformed JSON ({error.msg} at {where})") from None
    except RecursionError:
        raise JsonProblem("JSON nested too deeply to read") from None
    except ValueError as error:  # e.g. "Exceeds the limit (4300 digits) for integer ..."
        raise JsonProblem(f"unreadable JSON value ({str(error).split(';')[0]})") from None


def open_text(path: Path, *, newline: str | None = "") -> IO[str]:
    """`path` opened as UTF-8 text (BOM dropped); a name ending in `.gz` is decompressed.
    `newline=""` (the default, what `csv` needs) keeps line ends as they are; `None`
    translates `\r\n` and `\r` to `\n`."""
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline=newline)
    return path.open("r", encoding="utf-8-sig", newline=newline)


def read_text(path: Path) -> str:
    """The whole file as text with `\n` line ends; `LmauditError` naming the file when it
    is not UTF-8 or cannot be read."""
    try:
        with open_text(path, newline=None) as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise LmauditError(not_utf8_message(path, error)) from None
    except (OSError, EOFError, zlib.error) as error:
        raise LmauditError(f"{path}: cannot read ({error})") from None


def not_utf8_message(path: Path | str, error: UnicodeDecodeError) -> str:
    """`FILE: not UTF-8 text (byte 0xff at offset 12); save it as UTF-8`."""
    bad = error.object[error.start : error.start + 1]
    return (
        f"{path}: not UTF-8 text (byte 0x{bad.hex()} at offset {error.start}); "
        "save the file as UTF-8"
    )


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of every non-blank line of a JSONL file.

    Raises `LmauditError` "FILE: line N: <reason>" for a line that is not valid JSON, and
    "FILE: not UTF-8 text ..." for bytes that are not UTF-8.
    """
    number = 0
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, parse_json(line)
                except JsonProblem as problem:
                    raise LmauditError(f"{path}: line {number}: {problem}") from None
    except UnicodeDecodeError as error:
        raise LmauditError(f"{not_utf8_message(path, error)} (after line {number})") from None
    except (OSError, EOFError, zlib.error) as error:
        raise LmauditError(f"{path}: cannot read ({error})") from None


def json_rows(path: Path) -> list[tuple[str, Any]]:
    """(where, value) of every row of a JSON list (`row N`, 1-based) or, when the file does
    not start with `[`, of every non-blank line of a JSON-lines file (`line N`).

    Raises `LmauditError` naming the file (and the line) when it is not UTF-8, cannot be
    read or holds malformed JSON.
    """
    text = read_text(path)  # line ends are `\n` (str.splitlines would also cut at U+2028)
    if text.lstrip().startswith("["):
        return [(f"row {n}", value) for n, value in enumerate(_parsed(path, "", text), 1)]
    return [(f"line {n}", _parsed(path, f"line {n}: ", line))
            for n, line in enumerate(text.split("\n"), 1) if line.strip()]


def _parsed(path: Path, where: str, text: str) -> Any:
    try:
        return parse_json(text)
    except JsonProblem as problem:
        raise LmauditError(f"{path}: {where}{problem}") from None


def csv_dict_reader(handle: IO[str]) -> csv.DictReader[str]:
    """A `csv.DictReader` over `handle` that accepts fields up to `CSV_FIELD_LIMIT`
    characters (the limit is process-wide in the csv module; it is only ever raised)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.DictReader(handle)


def csv_problem(path: Path | str, line: int, error: csv.Error) -> LmauditError:
    """The error for a CSV record the csv module rejects (e.g. a field over the limit).

    Pass the line number of the underlying `csv.reader` (`DictReader.reader.line_num`):
    `DictReader.line_num` is only updated after a record was read successfully.
    """
    reason = str(error)
    if "field larger than field limit" in reason:
        reason = f"a field is longer than {CSV_FIELD_LIMIT:,} characters"
    return LmauditError(f"{path}: line {line}: malformed CSV ({reason})")
