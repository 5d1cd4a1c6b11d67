"""`render_json`: the report's objects as JSON-ready data (NaN → null, tuples → lists).

The per-sample table is summarised (count and runs), not embedded: the samples live in
the run directories and the HTML viewer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from lmaudit.report.model import AuditReport

FORMAT = "lmaudit.report/1"


def to_jsonable(value: Any) -> Any:
    """Dataclasses, mappings, sequences and floats to plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def render_json(report: AuditReport) -> dict[str, Any]:
    """The report as a dict (every section; samples as a count and their runs)."""
    out = {f.name: to_jsonable(getattr(report, f.name))
           for f in dataclasses.fields(report) if f.name != "samples"}
    out["samples"] = {"n": len(report.samples),
                      "runs": [list(r) for r in report.samples.runs]}
    return {"format": FORMAT, **out}
