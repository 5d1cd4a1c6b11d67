"""Dataset rows from local files or the Hugging Face hub, with errors that name the culprit.

`load_rows(path, split=..., name=...)` reads:
- a local `.jsonl` (one JSON object per line; blank lines skipped), `.json` (a list of
  objects, or an object holding such a list under the split's name), `.csv` (header row;
  every value a string) or `.parquet` file; `.jsonl.gz`, `.json.gz` and `.csv.gz` too.
  Text is UTF-8 (a byte-order mark is dropped); unreadable input (not UTF-8, malformed or
  too deeply nested JSON, a CSV field over `textio.CSV_FIELD_LIMIT`) is a `LmauditError`
  naming the file and line (`lmaudit.data.textio`);
- a local directory holding `{split}.jsonl`, `.json`, `.csv` or `.parquet` (first found);
- otherwise a Hugging Face dataset id, through `datasets.load_dataset(path, name, split=split)`
  (works offline only when the dataset is already in the local cache).

Rows come back as plain Python dicts in file order.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import os
import socket
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lmaudit.core.types import LmauditError
from lmaudit.data.textio import (
    JsonProblem,
    csv_dict_reader,
    csv_problem,
    json_lines,
    not_utf8_message,
    open_text,
    parse_json,
    read_text,
)

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_PATH_HINTS = ("/", "\\", "./", "../", "~")


def _suffix(path: Path) -> str:
    """The data suffix of a file name, ignoring a trailing `.gz`."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return ""


def looks_like_local_path(path: str) -> bool:
    """True when `path` is meant as a file system path rather than a hub id."""
    return (
        path.startswith(_PATH_HINTS)
        or _suffix(Path(path)) != ""
        or path.endswith((".gz", ".txt", ".yaml", ".yml"))
        or Path(path).exists()
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, value in json_lines(path):
        if not isinstance(value, dict):
            raise LmauditError(
                f"{path}: line {number}: expected a JSON object, got {type(value).__name__}"
            )
        rows.append(value)
    return rows


def _read_json(path: Path, split: str | None) -> list[dict[str, Any]]:
    try:
        value = parse_json(read_text(path))
    except JsonProblem as problem:
        raise LmauditError(f"{path}: {problem}") from None
    if isinstance(value, dict):
        if split is not None and isinstance(value.get(split), list):
            value = value[split]
        else:
            lists = sorted(k for k, v in value.items() if isinstance(v, list))
            raise LmauditError(
                f"{path}: expected a list of objects"
                + (f" or an object with a list under {split!r}" if split else "")
                + (f"; lists found under: {', '.join(lists)}" if lists else "")
            )
    if not isinstance(value, list):
        raise LmauditError(f"{path}: expected a list of objects, got {type(value).__name__}")
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise LmauditError(
                f"{path}: row {index}: expected a JSON object, got {type(row).__name__}"
            )
    return value


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with open_text(path) as handle:
        reader = csv_dict_reader(handle)
        try:
            if not reader.fieldnames:
                raise LmauditError(f"{path}: empty CSV file (no header row)")
            rows: list[dict[str, Any]] = []
            for row in reader:
                if None in row:
                    raise LmauditError(
                        f"{path}: line {reader.line_num}: more values than the "
                        f"{len(reader.fieldnames)} header columns"
                    )
                rows.append(dict(row))
        except csv.Error as error:
            raise csv_problem(path, reader.reader.line_num, error) from None
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types
        raise LmauditError(f"{path}: cannot read parquet file ({error})") from None
    return [dict(row) for row in table.to_pylist()]


def _read_file(path: Path, split: str | None) -> list[dict[str, Any]]:
    suffix = _suffix(path)
    try:
        if suffix == ".jsonl":
            return _read_jsonl(path)
        if suffix == ".json":
            return _read_json(path, split)
        if suffix == ".csv":
            return _read_csv(path)
        if suffix == ".parquet":
            return _read_parquet(path)
    except UnicodeDecodeError as error:
        raise LmauditError(not_utf8_message(path, error)) from None
    except (OSError, EOFError, zlib.error) as error:
        raise LmauditError(f"{path}: cannot read ({error})") from None
    raise LmauditError(
        f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)} (optionally .gz)"
    )


def find_split_file(directory: Path, split: str | None) -> Path:
    """`directory/{split}.jsonl|json|csv|parquet` (optionally gzipped), first found."""
    if split is None:
        raise LmauditError(f"{directory}: is a directory; say which split to read from it")
    for suffix in SUFFIXES:
        for candidate in (directory / f"{split}{suffix}", directory / f"{split}{suffix}.gz"):
            if candidate.is_file():
                return candidate
    present = sorted(p.name for p in directory.iterdir() if _suffix(p))
    raise LmauditError(
        f"{directory}: no {split}.jsonl, {split}.json, {split}.csv or {split}.parquet "
        f"(data files present: {', '.join(present) or 'none'})"
    )


def resolve_local(path: str, split: str | None) -> Path | None:
    """The local file that `load_rows(path, split=split)` would read; None for a hub id.

    Raises LmauditError for a path that looks local but does not exist.
    """
    local = Path(path).expanduser()
    if local.is_dir():
        return find_split_file(local, split)
    if local.is_file():
        return local
    if looks_like_local_path(path):
        raise LmauditError(f"{path}: no such file or directory")
    return None


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether a TCP connection to the hub endpoint ($HF_ENDPOINT) opens within `timeout` s."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _offline_unless_reachable() -> Iterator[None]:
    """Switch `datasets` / `huggingface_hub` to offline mode while the hub is unreachable,
    so a cached dataset loads at once and a missing one fails at once (instead of ~25 s
    of retries)."""
    import datasets.config
    import huggingface_hub.constants as hub_constants

    modules: tuple[Any, ...] = (datasets.config, hub_constants)
    if all(getattr(m, "HF_HUB_OFFLINE", False) for m in modules) or hub_reachable():
        yield
        return
    saved = [getattr(m, "HF_HUB_OFFLINE", None) for m in modules]
    for module in modules:
        module.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for module, value in zip(modules, saved, strict=True):
            module.HF_HUB_OFFLINE = value


def _load_hub(path: str, *, split: str | None, name: str | None) -> list[dict[str, Any]]:
    where = f"{path!r}" + (f" (config {name!r}" if name else " (") + f", split {split!r})"
    try:
        import datasets
    except ImportError:
        raise LmauditError(
            f"cannot load Hugging Face dataset {where}: the `datasets` package is not "
            "installed (pip install 'lmaudit[hf]'), or pass a local file with data=PATH"
        ) from None
    try:
        with _offline_unless_reachable():
            dataset = datasets.load_dataset(path, name, split=split)
    except Exception as error:  # network, missing config, missing split, ...
        reason = " ".join(str(error).split())
        if len(reason) > 200:
            reason = reason[:197] + "..."
        raise LmauditError(
            f"cannot load Hugging Face dataset {where}: {type(error).__name__}: {reason}. "
            "If no network/hub access is available, only cached datasets load: pass a "
            "local .jsonl/.csv/.parquet file with data=PATH instead"
        ) from None
    if isinstance(dataset, Mapping):  # split=None returns a DatasetDict
        raise LmauditError(
            f"Hugging Face dataset {where} has splits {', '.join(dataset)}: name one"
        )
    return [dict(row) for row in dataset]


def load_rows(path: str, *, split: str | None = None, name: str | None = None) -> list[dict]:
    """Rows of a local data file / directory, or of a Hugging Face dataset split.

    `split` picks the file in a directory (and the list inside a JSON object); `name` is
    the hub dataset's configuration and is ignored for local files.
    """
    local = resolve_local(path, split)
    if local is None:
        return _load_hub(path, split=split, name=name)
    return _read_file(local, split)


def is_null(value: Any) -> bool:
    """True for a value that stands for "no data": None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def require_field(
    row: Mapping[str, Any], field: str, *, source: str, row_index: int, unit: str = "row"
) -> Any:
    """`row[field]`; LmauditError "SOURCE: row N: missing field 'x' (fields present: ...)",
    or "SOURCE: row N: field 'x' is null" for None or a float NaN (JSON null, an empty
    parquet cell): a null never reaches a prompt or a target as the text "None". `unit`
    names what N counts (`row`, or `line` for a JSONL line number)."""
    where = f"{source}: {unit} {row_index}"
    if field not in row:
        present = ", ".join(str(k) for k in row) or "none"
        raise LmauditError(f"{where}: missing field {field!r} (fields present: {present})")
    value = row[field]
    if is_null(value):
        raise LmauditError(f"{where}: field {field!r} is null")
    return value


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def combined_sha256(files: list[Path]) -> str:
    """One sha256 over several files: of the lines `<name> <sha256>` in the given order."""
    lines = "".join(f"{Path(f).name} {file_sha256(f)}\n" for f in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
