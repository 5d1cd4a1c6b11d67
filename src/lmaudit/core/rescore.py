"""Score stored responses without a model (`lmaudit score`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import LmauditError, SampleRecord
from lmaudit.scoring import Scorer


def read_responses(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file with `response`, `target` and optional `id`; errors name the
    file, line and field."""
    if not path.is_file():
        raise LmauditError(f"{path}: no such responses file")
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise LmauditError(
                    f"{path}: line {line_no}: not valid JSON ({error.msg})"
                ) from None
            if not isinstance(row, dict):
                raise LmauditError(f"{path}: line {line_no}: expected a JSON object")
            for field in ("response", "target"):
                if field not in row:
                    raise LmauditError(
                        f"{path}: line {line_no}: missing field {field!r} "
                        f"(fields present: {', '.join(sorted(row)) or 'none'})"
                    )
            row.setdefault("id", str(line_no))
            row["_line"] = line_no
            rows.append(row)
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
