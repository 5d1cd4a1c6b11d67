"""Battle files: JSONL, CSV, Parquet and JSON (FastChat dumps or pair counts) to `Battles`.

Formats and row rules are described in `lmaudit.arena.battles`. Text files are UTF-8 (a
byte-order mark is allowed) and read with the shared readers of `lmaudit.data.textio`: a
line that is not JSON, a record with a NaN or boolean count, weight or style statistic, is
a bad row named by its line; a file that cannot be decoded or parsed at all is one
`LmauditError` naming it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.arena.battles import (
    WINNERS,
    Battles,
    RowProblem,
    battles_from_frame,
    battles_from_records,
    flatten_record,
    record_problem,
)
from lmaudit.core.types import LmauditError
from lmaudit.data.textio import (
    JsonProblem,
    csv_dict_reader,
    csv_problem,
    not_utf8_message,
    open_text,
    parse_json,
    read_text,
)


def _read_jsonl(path: Path, skip_bad_rows: bool) -> Battles:
    records: list[Any] = []
    locations: list[str] = []
    problems: list[RowProblem] = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = parse_json(line)
            except JsonProblem as problem:
                problems.append(RowProblem(f"line {number}", str(problem)))
                continue
            if not isinstance(record, Mapping):
                problems.append(RowProblem(f"line {number}", "expected a JSON object"))
                continue
            row = flatten_record(record)
            bad = record_problem(row)
            if bad is not None:
                problems.append(RowProblem(f"line {number}", bad))
                continue
            records.append(row)
            locations.append(f"line {number}")
    return battles_from_frame(
        pd.DataFrame(records),
        source=str(path),
        locations=locations,
        skip_bad_rows=skip_bad_rows,
        earlier_problems=problems,
    )


def _read_csv(path: Path, skip_bad_rows: bool) -> Battles:
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    with open_text(path) as handle:
        reader = csv_dict_reader(handle)
        try:
            fieldnames = reader.fieldnames  # reads the header line
            start = reader.line_num + 1
            for row in reader:
                rows.append(dict(row))
                locations.append(f"line {start}")  # a record's first physical line
                start = reader.line_num + 1
        except csv.Error as error:
            raise csv_problem(path, reader.reader.line_num, error) from None
    frame = pd.DataFrame(rows, columns=list(fieldnames) if fieldnames else None)
    return battles_from_frame(
        frame, source=str(path), locations=locations, skip_bad_rows=skip_bad_rows
    )


def pair_count_battles(payload: Mapping[str, Any], *, source: str) -> Battles:
    """Battles from the `{"models", "X", "Y"}` pair-count layout (leaderbot's snapshot).

    `Y[k] = [wins of models[i], wins of models[j], ties, ties (both bad)]` for `X[k] = [i, j]`.
    """
    try:
        models = [str(m) for m in payload["models"]]
        pairs = np.asarray(payload["X"], dtype=np.int64).reshape(-1, 2)
        counts = np.asarray(payload["Y"], dtype=float).reshape(-1, 4)
    except (KeyError, TypeError, ValueError) as error:
        raise LmauditError(f"{source}: malformed pair-count JSON ({error})") from error
    if len(pairs) != len(counts):
        raise LmauditError(f"{source}: X has {len(pairs)} pairs but Y has {len(counts)}")
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= len(models)):
        raise LmauditError(f"{source}: X refers to a model index outside `models`")
    if np.isnan(counts).any():
        k = int(np.flatnonzero(np.isnan(counts).any(axis=1))[0])
        raise LmauditError(f"{source}: pair {k + 1}: Y holds NaN; counts must be numbers")
    names = np.asarray(models, dtype=object)
    frame = pd.DataFrame(
        {
            "model_a": np.repeat(names[pairs[:, 0]], 4),
            "model_b": np.repeat(names[pairs[:, 1]], 4),
            "winner": np.tile(np.asarray(WINNERS, dtype=object), len(pairs)),
            "count": counts.reshape(-1),
        }
    )
    locations = [f"pair {k + 1} ({WINNERS[c]})" for k in range(len(pairs)) for c in range(4)]
    keep = frame["count"].to_numpy() != 0
    frame = frame.loc[keep]
    kept_locations = [loc for loc, k in zip(locations, keep, strict=True) if k]
    return battles_from_frame(frame, source=source, locations=kept_locations, ordered=False)


def read_battle_file(path: str | Path, *, skip_bad_rows: bool = False) -> Battles:
    """Read battles from `.jsonl`, `.csv`, `.parquet` or `.json` (FastChat or pair counts).

    Text files are UTF-8 (a byte-order mark is allowed); a file that cannot be decoded or
    parsed is one `LmauditError` naming it (bad rows: see the module docstring).
    """
    path = Path(path)
    if not path.is_file():
        raise LmauditError(f"battles file not found: {path}")
    try:
        return _read_battles_file(path, skip_bad_rows)
    except UnicodeDecodeError as error:
        raise LmauditError(not_utf8_message(path, error)) from None
    except OSError as error:
        raise LmauditError(f"{path}: cannot read ({error})") from None


def _read_battles_file(path: Path, skip_bad_rows: bool) -> Battles:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, skip_bad_rows)
    if suffix == ".csv":
        return _read_csv(path, skip_bad_rows)
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise LmauditError(f"{path}: cannot read parquet file ({error})") from None
        locations = [f"row {i + 1}" for i in range(len(frame))]
        return battles_from_frame(
            frame, source=str(path), locations=locations, skip_bad_rows=skip_bad_rows
        )
    if suffix == ".json":
        try:
            payload = parse_json(read_text(path))
        except JsonProblem as problem:
            raise LmauditError(f"{path}: {problem}") from None
        if isinstance(payload, Mapping) and {"models", "X", "Y"} <= set(payload):
            return pair_count_battles(payload, source=str(path))
        if isinstance(payload, list):
            return battles_from_records(payload, source=str(path), skip_bad_rows=skip_bad_rows)
        raise LmauditError(
            f"{path}: expected a JSON array of battles or an object with models, X and Y"
        )
    raise LmauditError(
        f"{path}: unknown battles format {suffix!r}; use .jsonl, .csv, .parquet or .json"
    )
