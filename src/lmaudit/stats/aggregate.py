"""Turn a run's per-sample metric columns into one `Estimate` per declared `MetricSpec`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.stats.intervals import (
    Estimate,
    mean_estimate,
    proportion_estimate,
    ratio_estimate,
)
from lmaudit.stats.validation import StatsInputError


def _column(columns: Mapping[str, np.ndarray], name: str | None, spec: MetricSpec) -> np.ndarray:
    if name is None:
        raise StatsInputError(
            f"metric {spec.name!r}: a RATIO metric needs numerator and denominator"
        )
    if name not in columns:
        raise StatsInputError(
            f"metric {spec.name!r}: no per-sample column {name!r} "
            f"(columns: {', '.join(sorted(columns))})"
        )
    try:
        values = np.asarray(columns[name], dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsInputError(f"metric {spec.name!r}: column {name!r} is not numeric") from None
    if values.ndim != 1:
        raise StatsInputError(f"metric {spec.name!r}: column {name!r} is not 1-D")
    return values


def aggregate_metric(
    spec: MetricSpec,
    columns: Mapping[str, np.ndarray],
    clusters: np.ndarray | None,
    confidence: float = 0.95,
    seed: int = 0,
    n_boot: int = 2000,
) -> Estimate:
    """Estimate of one metric over a run's samples, dispatched on `spec.aggregation`.

    PROPORTION -> `proportion_estimate(columns[spec.name])`; MEAN -> `mean_estimate` (with
    `spec.bounds`, so a bounded metric's interval stays in its range);
    RATIO -> `ratio_estimate(columns[spec.numerator], columns[spec.denominator],
    spec.transform)` with `n_boot` replicates seeded by `seed`. `clusters` (one label per
    row, or None) gives clustered intervals.

    Rows whose metric value is NaN (for RATIO: NaN in the numerator or the denominator)
    are dropped before estimating, e.g. samples a metric does not apply to; `Estimate.n`
    counts only the rows used. A metric with no usable row raises `StatsInputError`.
    """
    if spec.aggregation is Aggregation.RATIO:
        used = [
            _column(columns, spec.numerator, spec),
            _column(columns, spec.denominator, spec),
        ]
    else:
        used = [_column(columns, spec.name, spec)]
    n_rows = used[0].shape[0]
    for values in used[1:]:
        if values.shape[0] != n_rows:
            raise StatsInputError(f"metric {spec.name!r}: columns have different lengths")
    keep = np.logical_and.reduce([~np.isnan(values) for values in used])
    if not keep.any():
        raise StatsInputError(f"metric {spec.name!r}: no sample has a value ({n_rows} rows)")
    kept_clusters = None
    if clusters is not None:
        labels = np.asarray(clusters, dtype=object)
        if labels.shape != (n_rows,):
            raise StatsInputError(
                f"metric {spec.name!r}: {labels.shape[0]} cluster labels for {n_rows} rows"
            )
        kept_clusters = labels[keep]
    kept = [values[keep] for values in used]
    try:
        if spec.aggregation is Aggregation.PROPORTION:
            return proportion_estimate(kept[0], confidence, kept_clusters)
        if spec.aggregation is Aggregation.MEAN:
            return mean_estimate(kept[0], confidence, kept_clusters, bounds=spec.bounds)
        return ratio_estimate(
            kept[0],
            kept[1],
            transform=spec.transform,
            confidence=confidence,
            n_boot=n_boot,
            seed=seed,
            clusters=kept_clusters,
        )
    except StatsInputError as error:
        raise StatsInputError(f"metric {spec.name!r}: {error}") from None
