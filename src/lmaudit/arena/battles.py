"""Battles: pairwise votes read from JSONL, CSV, Parquet or JSON, validated row by row.

A battle row has `model_a`, `model_b` and `winner`, one of `model_a`, `model_b`, `tie`,
`tie (bothbad)` (FastChat's labels). Optional columns:

- `count`: how many identical battles the row stands for (a non-negative integer, default 1);
- `weight`: a positive multiplier of each battle's weight (e.g. an inverse-propensity weight);
- `prompt_id` (aliases `question_id`, `prompt`), `judge` (aliases `voter`, `voter_id`,
  `judge_id`), `category`, `language`, `timestamp` (alias `tstamp`);
- `response_a` / `response_b`: the two answers (style statistics are computed from them), or
  the statistics themselves: `tokens_a`, `headers_a`, `list_items_a`, `bold_a`, `emoji_a` and
  the same with `_b`.

Two JSON layouts are recognised: FastChat's battle dump (a JSON array of battle records, with
`conv_metadata` style counts and `conversation_a/b` turns) and the pair-count layout of the
Chatbot Arena snapshot in `leaderbot` (`{"models": [...], "X": [[i, j], ...], "Y": [[wins_i,
wins_j, ties, ties_bothbad], ...]}`). Bad rows are reported by line (JSONL, CSV), row (Parquet)
or record (JSON) number: `read_battles` raises on them unless `skip_bad_rows=True`, in which
case they are dropped and listed in `Battles.problems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.core.types import LmauditError

WINNERS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")
STYLE_STATS: tuple[str, ...] = ("tokens", "headers", "list_items", "bold", "emoji")
STYLE_COLUMNS: tuple[str, ...] = tuple(f"{s}_{side}" for side in ("a", "b") for s in STYLE_STATS)
TEXT_COLUMNS: tuple[str, ...] = ("prompt_id", "judge", "category", "language")
ALIASES: dict[str, tuple[str, ...]] = {
    "prompt_id": ("prompt_id", "question_id", "prompt"),
    "judge": ("judge", "voter", "voter_id", "judge_id"),
    "category": ("category",),
    "language": ("language",),
    "timestamp": ("timestamp", "tstamp"),
    "response_a": ("response_a",),
    "response_b": ("response_b",),
}
_FASTCHAT_STATS = {
    "tokens": "sum_assistant_{side}_tokens",
    "headers": "header_count_{side}",
    "list_items": "list_count_{side}",
    "bold": "bold_count_{side}",
}
MAX_LISTED_PROBLEMS = 10
MAX_ROW_COUNT = 1e12  # battles (or weight) one row may stand for; beyond it fits overflow
NUMERIC_COLUMNS: tuple[str, ...] = ("count", "weight", *STYLE_COLUMNS)


@dataclass(frozen=True)
class RowProblem:
    """One bad input row: where it is (`line 4`, `row 4`, `record 4`) and what is wrong."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class Battles:
    """Validated battles, one row per battle or per group of identical battles (`count`).

    `frame` has the canonical columns `model_a`, `model_b`, `winner`, `count`, `weight`,
    `location` and whichever optional columns the input had. `ordered` is False when the
    input holds aggregated counts (no time order, so online Elo is not meaningful).
    """

    frame: pd.DataFrame
    source: str
    ordered: bool = True
    problems: tuple[RowProblem, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        names = pd.concat([self.frame["model_a"], self.frame["model_b"]]).unique()
        return tuple(sorted(str(n) for n in names))

    @property
    def n_battles(self) -> float:
        return float(self.frame["count"].sum())

    def has_columns(self, columns: Iterable[str]) -> bool:
        return all(c in self.frame.columns for c in columns)

    def __len__(self) -> int:
        return len(self.frame)


def model_codes(frame: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Sorted model names and the index of each row's model_a and model_b among them."""
    both = pd.concat([frame["model_a"], frame["model_b"]], ignore_index=True)
    codes, names = pd.factorize(both, sort=True)
    n = len(frame)
    models = tuple(str(m) for m in names)
    return models, codes[:n].astype(np.int64), codes[n:].astype(np.int64)


def winner_codes(frame: pd.DataFrame) -> np.ndarray:
    """Index of each row's winner in WINNERS (0 model_a, 1 model_b, 2 tie, 3 tie (bothbad))."""
    codes = pd.Categorical(frame["winner"], categories=list(WINNERS)).codes
    return np.asarray(codes, dtype=np.int64)


def _resolve_aliases(frame: pd.DataFrame) -> pd.DataFrame:
    renames: dict[str, str] = {}
    for canonical, names in ALIASES.items():
        if canonical in frame.columns:
            continue
        for name in names:
            if name in frame.columns:
                renames[name] = canonical
                break
    return frame.rename(columns=renames)


def _numeric(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float (NaN where blank) and a mask of present-but-not-numeric entries."""
    blank = column.isna() | column.astype(str).str.strip().eq("")
    values = pd.to_numeric(column.where(~blank), errors="coerce").to_numpy(dtype=float)
    return values, (~blank.to_numpy()) & np.isnan(values)


def _row_problems(frame: pd.DataFrame) -> list[tuple[int, str]]:
    """(row position, message) for every invalid row; vectorised over the frame."""
    found: list[tuple[int, str]] = []

    def flag(mask: np.ndarray, message: Any) -> None:
        for i in np.flatnonzero(mask):
            found.append((int(i), message(int(i)) if callable(message) else message))

    for side in ("model_a", "model_b"):
        names = frame[side]
        missing = (names.isna() | names.astype(str).str.strip().eq("")).to_numpy()
        flag(missing, f"{side} is missing or empty")
    a = frame["model_a"].astype(str).str.strip().to_numpy()
    b = frame["model_b"].astype(str).str.strip().to_numpy()
    flag((a == b) & (a != "") & (a != "None"), lambda i: f"model_a and model_b are both {a[i]!r}")
    winner = frame["winner"]
    bad_winner = ~winner.astype(str).str.strip().isin(WINNERS).to_numpy()
    shown = winner.astype(str).to_numpy()
    flag(
        bad_winner,
        lambda i: f"winner {shown[i]!r} is not one of {', '.join(repr(w) for w in WINNERS)}",
    )
    for column in ("count", "weight", *[c for c in STYLE_COLUMNS if c in frame.columns]):
        if column in frame.columns:
            found.extend(_numeric_problems(column, frame[column]))
    found.sort(key=lambda item: item[0])
    return found


def _numeric_problems(column: str, raw: pd.Series) -> list[tuple[int, str]]:
    values, not_numeric = _numeric(raw)
    finite = np.isfinite(values)
    if column == "count":
        bad = finite & ((values < 0) | (values != np.round(values)))
        rule = "is not a non-negative integer"
    elif column == "weight":
        bad, rule = finite & (values <= 0), "is not positive"
    else:
        bad, rule = finite & (values < 0), "is negative"
    found = [
        (int(i), f"{column} {raw.iloc[i]!r} is not a number") for i in np.flatnonzero(not_numeric)
    ]
    found += [(int(i), f"{column} {values[i]:g} {rule}") for i in np.flatnonzero(bad)]
    if column in ("count", "weight"):
        huge = finite & ~bad & (values > MAX_ROW_COUNT)
        found += [
            (int(i), f"{column} {values[i]:g} is above the limit of {MAX_ROW_COUNT:g} per row")
            for i in np.flatnonzero(huge)
        ]
    found += [(int(i), f"{column} is infinite") for i in np.flatnonzero(np.isinf(values))]
    return found


def _location_order(problem: RowProblem) -> int:
    """Problems sort by the number in their location (`line 12` -> 12); stable otherwise."""
    digits = re.search(r"\d+", problem.location)
    return int(digits.group()) if digits else 0


def _summarize(source: str, problems: Sequence[RowProblem]) -> str:
    listed = "; ".join(str(p) for p in problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{source}: {len(problems)} bad row(s): {listed}{tail}"


def battles_from_frame(
    frame: pd.DataFrame,
    *,
    source: str,
    locations: Sequence[str],
    ordered: bool = True,
    skip_bad_rows: bool = False,
    earlier_problems: Sequence[RowProblem] = (),
) -> Battles:
    """Validate a raw frame (one row per input row, `locations` naming each) into Battles."""
    frame = _resolve_aliases(frame.reset_index(drop=True))
    missing = [c for c in ("model_a", "model_b", "winner") if c not in frame.columns]
    if missing and len(frame):
        raise LmauditError(f"{source}: missing column(s) {', '.join(missing)}")
    if not len(frame) and not earlier_problems:
        raise LmauditError(f"{source}: no battles")
    for column in ("model_a", "model_b", "winner"):
        if column not in frame.columns:
            frame[column] = pd.Series(dtype=object)
    bad_rows = _row_problems(frame)
    problems = sorted(
        [*earlier_problems, *(RowProblem(locations[i], m) for i, m in bad_rows)],
        key=_location_order,
    )
    if problems and not skip_bad_rows:
        raise LmauditError(_summarize(source, problems))
    keep = np.ones(len(frame), dtype=bool)
    keep[[i for i, _ in bad_rows]] = False
    clean = frame.loc[keep].copy()
    clean["location"] = np.asarray(locations, dtype=object)[keep]
    for column in ("model_a", "model_b", "winner"):
        clean[column] = clean[column].astype(str).str.strip()
    for column in ("count", "weight", *[c for c in STYLE_COLUMNS if c in clean.columns]):
        if column in clean.columns:
            values, _ = _numeric(clean[column])
            default = 1.0 if column in ("count", "weight") else np.nan
            clean[column] = np.where(np.isnan(values), default, values)
        else:
            clean[column] = 1.0 if column in ("count", "weight") else np.nan
    for column in TEXT_COLUMNS:
        if column in clean.columns:
            clean[column] = clean[column].map(lambda v: None if _is_blank(v) else str(v))
    if not len(clean):
        raise LmauditError(_summarize(source, problems) if problems else f"{source}: no battles")
    return Battles(clean.reset_index(drop=True), source, ordered, tuple(problems))


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == ""


def record_problem(row: Mapping[str, Any]) -> str | None:
    """What is wrong with a parsed JSON record's numeric fields that a data frame would
    hide: a NaN (pandas reads it as "absent", i.e. the default) or a boolean (read as 0/1)."""
    for column in NUMERIC_COLUMNS:
        value = row.get(column)
        if isinstance(value, bool):
            return f"{column} {value!r} is not a number"
        if isinstance(value, float) and np.isnan(value):
            return f"{column} is NaN"
    return None


def _assistant_text(turns: Any) -> str | None:
    if not isinstance(turns, list):
        return None
    parts = [
        str(t.get("content", ""))
        for t in turns
        if isinstance(t, Mapping) and t.get("role") in ("assistant", "gpt")
    ]
    return "\n".join(parts)


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A FastChat battle record (or any flat record) as a flat dict of canonical columns."""
    row = {k: v for k, v in record.items() if not isinstance(v, (dict, list))}
    metadata = record.get("conv_metadata")
    if isinstance(metadata, Mapping):
        for stat, template in _FASTCHAT_STATS.items():
            for side in ("a", "b"):
                value = metadata.get(template.format(side=side))
                if isinstance(value, Mapping):
                    value = sum(float(v) for v in value.values())
                if value is not None and f"{stat}_{side}" not in row:
                    row[f"{stat}_{side}"] = value
    for side in ("a", "b"):
        text = _assistant_text(record.get(f"conversation_{side}"))
        if text is not None and f"response_{side}" not in row:
            row[f"response_{side}"] = text
    return row


def battles_from_records(
    records: Sequence[Any],
    *,
    source: str = "<records>",
    location_word: str = "record",
    first_number: int = 1,
    skip_bad_rows: bool = False,
) -> Battles:
    """Battles from dict records (FastChat battle JSON, or JSONL already parsed)."""
    rows: list[dict[str, Any]] = []
    locations: list[str] = []
    problems: list[RowProblem] = []
    for i, record in enumerate(records):
        where = f"{location_word} {first_number + i}"
        if not isinstance(record, Mapping):
            problems.append(RowProblem(where, "expected a JSON object"))
            continue
        row = flatten_record(record)
        problem = record_problem(row)
        if problem is not None:
            problems.append(RowProblem(where, problem))
            continue
        rows.append(row)
        locations.append(where)
    return battles_from_frame(
        pd.DataFrame(rows),
        source=source,
        locations=locations,
        skip_bad_rows=skip_bad_rows,
        earlier_problems=problems,
    )


def read_battles(path: str | Path, *, skip_bad_rows: bool = False) -> Battles:
    """Battles from a file (`lmaudit.arena.battle_files.read_battle_file`)."""
    from lmaudit.arena.battle_files import read_battle_file

    return read_battle_file(path, skip_bad_rows=skip_bad_rows)
