"""Score stored responses without a model (`lmaudit score`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import LmauditError, SampleRecord
from lmaudit.data.loading import require_field
from lmaudit.data.textio import json_lines
from lmaudit.scoring import Scorer


def read_responses(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file with `response`, `target` and optional `id` (default: the line
    number), read with the shared JSONL reader. Errors name the file, line and field: a
    missing or null `response`/`target`, an id used twice, a line that is not an object."""
    if not path.is_file():
        raise LmauditError(f"{path}: no such responses file")
    rows: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for line_no, row in json_lines(path):
        if not isinstance(row, dict):
            raise LmauditError(f"{path}: line {line_no}: expected a JSON object")
        for field in ("response", "target", *(["id"] if "id" in row else [])):
            require_field(row, field, source=str(path), row_index=line_no, unit="line")
        sample_id = str(row.get("id", line_no))
        if sample_id in first_line:
            raise LmauditError(
                f"{path}: line {line_no}: id {sample_id!r} repeats line {first_line[sample_id]}"
            )
        first_line[sample_id] = line_no
        rows.append({**row, "id": sample_id, "_line": line_no})
    if not rows:
        raise LmauditError(f"{path}: no responses in file")
    return rows


def score_rows(
    scorer: Scorer, rows: Sequence[dict[str, Any]], *, source: Path
) -> list[SampleRecord]:
    records = []
    for row in rows:
        try:
            outcome = scorer(str(row["response"]), str(row["target"]))
        except LmauditError as error:
            raise LmauditError(f"{source}: line {row['_line']}: {error}") from None
        records.append(
            SampleRecord(
                sample_id=str(row["id"]),
                prompt=str(row.get("prompt", "")),
                target=str(row["target"]),
                response=str(row["response"]),
                extracted=outcome.extracted,
                metrics=dict(outcome.metrics),
                cluster=None if row.get("cluster") is None else str(row["cluster"]),
            )
        )
    return records


def scorer_metrics(scorer: Scorer) -> list[MetricSpec]:
    return [MetricSpec(name, Aggregation.PROPORTION) for name in scorer.metric_names()]
