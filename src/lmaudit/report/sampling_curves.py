"""The report's "Repeated sampling" section: pass@k, maj@k and best-of-N curves of every run
that drew several answers per problem (`lmaudit run --samples`, a reasoning task's
`samples`), built from its stored results (frozen dataclasses; rendered by
`report.sampling_render`, and by `render_json` like every other section).

Per run, every series is a list of (k, estimate) points read from `results.json`:

- `pass@k`: k = 1 is the run's headline metric (with N answers, the mean over them: the
  unbiased pass@1), k >= 2 the unbiased pass@k (Chen et al.);
- `maj@k`: the majority vote over the first k answers (earliest-first tie rule);
- `best-of-k (LABEL)`: the answer a verifier picks among the first k (`best_of_k:LABEL`;
  `stored score` for scores stored beside the answers); `oracle` is the upper bound.

Each interval is the run's own (clustered by problem, or by the task's cluster when it has
one). `gains` compare the largest k with pass@1 on the same problems: the per-problem
difference (maj@N - pass@1, best-of-N - pass@1), mean and t interval over problems
(clustered as the run's metrics), in accuracy points (shares).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.stats import Estimate
from lmaudit.stats.intervals import mean_estimate

_SERIES = re.compile(r"^(pass|maj)@(\d+)$|^best_of_(\d+)(?::(.+))?$")
STORED = "stored score"


@dataclass(frozen=True)
class CurvePoint:
    """One k of a series: the accuracy with its interval."""

    k: int
    estimate: Estimate


@dataclass(frozen=True)
class Series:
    """`name`: `pass@k`, `maj@k` or `best-of-k (LABEL)`; points by increasing k."""

    name: str
    points: tuple[CurvePoint, ...]


@dataclass(frozen=True)
class Gain:
    """Series at its largest k minus pass@1, per problem, averaged (shares)."""

    name: str
    k: int
    difference: Estimate


@dataclass(frozen=True)
class SampleCurves:
    """One model × task run with `samples` answers per problem; `metric`: its pass@1."""

    model: str
    task: str
    samples: int
    metric: str
    series: tuple[Series, ...]
    gains: tuple[Gain, ...]
    vote_brier: Estimate | None = None

    def reading(self) -> str:
        """One sentence: what more samples bought, by how much, and how sure that is."""
        parts = []
        for gain in self.gains:
            d = gain.difference
            sure = ("above zero" if d.ci_low > 0 else "below zero" if d.ci_high < 0
                    else "not distinguishable from zero")
            parts.append(f"{gain.name} at k={gain.k} minus pass@1: {100 * d.value:+.1f} points "
                         f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}], {sure}")
        return "; ".join(parts) + "." if parts else "no series beyond pass@1."


def _series_key(name: str) -> tuple[str, int] | None:
    found = _SERIES.match(name)
    if found is None:
        return None
    if found.group(1):
        return f"{found.group(1)}@k", int(found.group(2))
    label = found.group(4) or STORED
    return f"best-of-k ({label})", int(found.group(3))


def _gain(frame: pd.DataFrame, column: str, base: str) -> Estimate | None:
    if frame is None or column not in frame or base not in frame:
        return None
    diff = (frame[column].astype(float) - frame[base].astype(float)).to_numpy()
    if len(diff) < 2 or not np.all(np.isfinite(diff)):
        return None
    clusters = frame["cluster"] if "cluster" in frame and frame["cluster"].notna().all() else None
    return mean_estimate(diff, clusters=None if clusters is None else clusters.to_numpy(),
                         bounds=(-1.0, 1.0))


def sample_curves(model: str, task: str, results: Mapping[str, Any],
                  frame: pd.DataFrame | None) -> SampleCurves | None:
    """The curves of one run (None when it drew one answer per problem)."""
    from lmaudit.report.evidence import estimate_from_dict, primary_metric

    metrics = results.get("metrics", {})
    headline = primary_metric(results)
    if headline is None or "pass@2" not in metrics:
        return None
    series: dict[str, dict[int, Estimate]] = {"pass@k": {1: estimate_from_dict(metrics[headline])}}
    columns: dict[str, dict[int, str]] = {"pass@k": {1: headline}}
    for name, payload in metrics.items():
        key = _series_key(str(name))
        if key is not None:
            series.setdefault(key[0], {})[key[1]] = estimate_from_dict(payload)
            columns.setdefault(key[0], {})[key[1]] = str(name)
    built = tuple(Series(name, tuple(CurvePoint(k, points[k]) for k in sorted(points)))
                  for name, points in series.items())
    samples = max(max(points) for points in series.values())
    gains = []
    for name, by_k in columns.items():
        top = max(by_k)
        if top < 2:
            continue
        difference = _gain(frame, by_k[top], headline) if frame is not None else None
        if difference is not None:
            gains.append(Gain(name, top, difference))
    brier = metrics.get("vote_brier")
    return SampleCurves(model, task, samples, headline, built, tuple(gains),
                        None if brier is None else estimate_from_dict(brier))


def sampling_section(runs: Sequence[tuple[str, str, Mapping[str, Any], pd.DataFrame | None]]
                     ) -> tuple[SampleCurves, ...]:
    """Curves of every `(model, task, results, samples frame)` run with several answers."""
    found = (sample_curves(*run) for run in runs)
    return tuple(c for c in found if c is not None)
