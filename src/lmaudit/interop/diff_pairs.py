"""`lmaudit diff` inside the report: for each task, each pair of models' runs (A before B
in the report's model order) on the task's headline metric, where their samples first
part and how much of the score gap each cause explains (`lmaudit.interop.diff`).

The report keeps the whole attribution (counts and share of the gap per cause) and the
first `SHOWN` differing samples; `n_differing` counts them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Protocol

import pandas as pd

from lmaudit.core.types import LmauditError
from lmaudit.interop.diff import RunDiff, diff_frames

SHOWN = 10


class DiffableRun(Protocol):
    """A run as the report holds it (`report.comparison.RunForComparison`)."""

    @property
    def model(self) -> str: ...

    @property
    def task(self) -> str: ...

    @property
    def frame(self) -> pd.DataFrame: ...

    @property
    def primary(self) -> str | None: ...


@dataclass(frozen=True)
class PairDiff:
    """The diff of model B's run against model A's on one task (B − A)."""

    task: str
    model_a: str
    model_b: str
    diff: RunDiff
    n_differing: int


def pair_diffs(runs: Sequence[DiffableRun], shown: int = SHOWN) -> tuple[PairDiff, ...]:
    """Every pair of different models' runs of one task sharing samples and their
    headline metric (pairs without a shared sample or metric are left out)."""
    found: list[PairDiff] = []
    for task in dict.fromkeys(r.task for r in runs):
        of_task = [r for r in runs if r.task == task]
        for a, b in combinations(of_task, 2):
            metric = a.primary
            if a.model == b.model or metric is None or metric != b.primary:
                continue
            if metric not in a.frame.columns or metric not in b.frame.columns:
                continue
            try:
                diff = diff_frames(a.frame, b.frame, metric)
            except (LmauditError, KeyError, ValueError, TypeError):
                continue  # nothing aligns (or not a numeric per-sample column)
            found.append(PairDiff(task, a.model, b.model,
                                  replace(diff, samples=diff.samples[:shown]),
                                  len(diff.samples)))
    return tuple(found)
