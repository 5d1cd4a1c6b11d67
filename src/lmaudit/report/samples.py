"""Per-sample rows of every run for the sample viewer (`SampleTable`).

Each run contributes its samples.parquet rows: prompt, raw response, extracted answer,
target and the headline metric as `score`. Probe runs carry the variant family and the
original item under `extra["probe"]`; prompt-variant runs take their stage's variant name.
`disagree` marks rows whose item (task, variant, sample id) was scored differently by at
least two models.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lmaudit.report.model import SampleTable

ORIGINAL = "original"


@dataclass(frozen=True)
class RunSamples:
    """One run's frame with the labels the viewer filters on."""

    model: str
    task: str
    variant: str | None
    frame: pd.DataFrame
    metric: str | None


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return [""] * len(frame)
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in frame[column].tolist()]


def _probe_links(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if "extra" not in frame.columns:
        return [{}] * len(frame)
    links = []
    for value in frame["extra"].tolist():
        link: dict[str, Any] = {}
        if isinstance(value, str) and '"probe"' in value:
            try:
                link = dict(json.loads(value).get("probe") or {})
            except (ValueError, AttributeError):
                link = {}
        links.append(link)
    return links


def _scores(frame: pd.DataFrame, metric: str | None) -> list[float | None]:
    if metric is None or metric not in frame.columns:
        return [None] * len(frame)
    values = pd.to_numeric(frame[metric], errors="coerce").tolist()
    return [None if v is None or math.isnan(v) else float(v) for v in values]


def sample_table(runs: Sequence[RunSamples]) -> SampleTable:
    """All runs' rows, in run order; see the module docstring for the columns."""
    labels: list[tuple[str, str, str]] = []
    columns: dict[str, list[Any]] = {k: [] for k in (
        "run", "sample_id", "variant", "original_id", "prompt", "response", "extracted",
        "target", "score")}
    for index, run in enumerate(runs):
        frame = run.frame
        labels.append((run.model, run.task, run.variant or ""))
        n = len(frame)
        links = _probe_links(frame)
        columns["run"] += [index] * n
        columns["sample_id"] += _texts(frame, "sample_id")
        columns["variant"] += [str(link.get("variant") or run.variant or ORIGINAL)
                               for link in links]
        columns["original_id"] += [
            "" if str(link.get("variant", ORIGINAL)) == ORIGINAL
            else str(link.get("original_id", "")) for link in links]
        for name in ("prompt", "response", "extracted", "target"):
            columns[name] += _texts(frame, name)
        columns["score"] += _scores(frame, run.metric)
    disagree = _disagreement(labels, columns)
    return SampleTable(
        runs=tuple(labels),
        run=tuple(columns["run"]),
        sample_id=tuple(columns["sample_id"]),
        variant=tuple(columns["variant"]),
        original_id=tuple(columns["original_id"]),
        prompt=tuple(columns["prompt"]),
        response=tuple(columns["response"]),
        extracted=tuple(columns["extracted"]),
        target=tuple(columns["target"]),
        score=tuple(columns["score"]),
        disagree=tuple(disagree),
    )


def _disagreement(labels: Sequence[tuple[str, str, str]], columns: dict[str, list[Any]]
                  ) -> list[bool]:
    """True where two models scored the same (task, variant, sample id) differently."""
    seen: dict[tuple[str, str, str], dict[str, float]] = {}
    keys = []
    for run, sample, variant, score in zip(columns["run"], columns["sample_id"],
                                           columns["variant"], columns["score"], strict=True):
        model, task, _ = labels[run]
        key = (task, variant, sample)
        keys.append(key)
        if score is not None:
            seen.setdefault(key, {}).setdefault(model, score)
    differs = {key for key, by_model in seen.items()
               if len(by_model) > 1 and len(set(by_model.values())) > 1}
    return [key in differs for key in keys]
