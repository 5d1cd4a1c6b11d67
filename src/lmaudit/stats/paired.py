"""Paired comparisons of two runs scored on the same samples.

Sign convention: every difference is **B minus A** (`b - a`): a positive difference means run
B scores higher than run A.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.stats.intervals import Estimate, mean_estimate, proportion_estimate
from lmaudit.stats.validation import (
    StatsInputError,
    as_binary_vector,
    as_float_vector,
    check_same_length,
)


def paired_difference(
    a: Any,
    b: Any,
    confidence: float = 0.95,
    clusters: Any = None,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Mean of the per-sample differences `b - a` (B minus A) with a paired t interval.

    Rows of `a` and `b` must refer to the same samples, in the same order. Without clusters
    the interval is a t interval on n - 1 dof over the differences (method `paired-t`); with
    clusters it uses the CR1 clustered stderr on G - 1 dof (method `paired-clustered-t`).
    `bounds`: the range of the metric itself (e.g. (0, 1)); a difference lies in
    [lower - upper, upper - lower], and an interval reaching outside is clipped to it
    (method suffix `-clipped`, e.g. `paired-t-clipped`).
    """
    x_a = as_float_vector(a, "a")
    x_b = as_float_vector(b, "b")
    check_same_length("a", x_a, "b", x_b)
    estimate = mean_estimate(x_b - x_a, confidence, clusters)
    if bounds is not None:
        span = bounds[1] - bounds[0]
        low, high = estimate.ci_low, estimate.ci_high
        if low < -span or high > span:  # False for NaN bounds
            estimate = dataclasses.replace(
                estimate,
                ci_low=max(low, -span),
                ci_high=min(high, span),
                method=f"{estimate.method}-clipped",
            )
    return dataclasses.replace(estimate, method=f"paired-{estimate.method}")


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired binary outcomes.

    `b`: pairs where A is right and B wrong; `c`: A wrong and B right. `statistic` is
    min(b, c), the binomial count the exact test uses (statsmodels' convention). `p_value`
    is two-sided: min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); it is 1 when
    there are no discordant pairs. `n` is the number of pairs.
    """

    b: int
    c: int
    n: int
    statistic: float
    p_value: float

    @property
    def n_discordant(self) -> int:
        return self.b + self.c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def mcnemar_exact(a_correct: Any, b_correct: Any) -> McNemarResult:
    """Exact (conditional binomial) McNemar test that A and B have the same accuracy."""
    x_a = as_binary_vector(a_correct, "a_correct")
    x_b = as_binary_vector(b_correct, "b_correct")
    check_same_length("a_correct", x_a, "b_correct", x_b)
    b = int(np.sum((x_a == 1.0) & (x_b == 0.0)))
    c = int(np.sum((x_a == 0.0) & (x_b == 1.0)))
    smaller = min(b, c)
    if b + c == 0:
        p_value = 1.0
    else:
        from scipy import stats as scipy_stats  # deferred: ~1 s to import

        p_value = min(1.0, 2.0 * float(scipy_stats.binom.cdf(smaller, b + c, 0.5)))
    return McNemarResult(b=b, c=c, n=x_a.shape[0], statistic=float(smaller), p_value=p_value)


@dataclass(frozen=True)
class PairedComparison:
    """Run A against run B on the samples both scored.

    `mean_a`, `mean_b`: each run's mean on the shared samples (Wilson/clustered intervals
    when the metric is binary, t intervals otherwise). `difference`: mean of B minus A.
    `mcnemar`: exact McNemar test, only for binary metrics. `n_shared` counts the pairs
    used; `n_only_a`/`n_only_b` count ids found in one run only; `n_missing` counts shared
    ids dropped because either run's value is NaN.
    """

    metric: str
    mean_a: Estimate
    mean_b: Estimate
    difference: Estimate
    mcnemar: McNemarResult | None
    n_shared: int
    n_only_a: int
    n_only_b: int
    n_missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mean_a": self.mean_a.to_dict(),
            "mean_b": self.mean_b.to_dict(),
            "difference": self.difference.to_dict(),
            "mcnemar": None if self.mcnemar is None else self.mcnemar.to_dict(),
            "n_shared": self.n_shared,
            "n_only_a": self.n_only_a,
            "n_only_b": self.n_only_b,
            "n_missing": self.n_missing,
        }


def _check_frame(frame: pd.DataFrame, label: str, id_col: str, metric: str) -> None:
    for column in (id_col, metric):
        if column not in frame.columns:
            raise StatsInputError(
                f"run {label}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})"
            )
    duplicated = frame[id_col].astype(str).duplicated()
    if duplicated.any():
        first = frame.loc[duplicated, id_col].iloc[0]
        raise StatsInputError(
            f"run {label}: {id_col} {first!r} appears more than once; aggregate repeats or "
            "variants to one row per sample before comparing"
        )


def _shared_clusters(joined: pd.DataFrame, cluster_col: str | None) -> np.ndarray | None:
    """Cluster labels of the joined rows, or None when there are none to use."""
    if cluster_col is None:
        return None
    candidates = (f"{cluster_col}_a", f"{cluster_col}_b", cluster_col)
    columns = [c for c in candidates if c in joined.columns]
    if not columns:
        return None
    labels = joined[columns[0]]
    if len(columns) == 2:
        both = labels.notna() & joined[columns[1]].notna()
        differs = both & (labels.astype(str) != joined[columns[1]].astype(str))
        if differs.any():
            raise StatsInputError(
                f"{cluster_col}: runs A and B disagree on the cluster of sample "
                f"{joined.index[differs.to_numpy()][0]!r}"
            )
        labels = labels.fillna(joined[columns[1]])
    if labels.isna().all():
        return None
    return labels.to_numpy(dtype=object)


def compare_runs(
    df_a: pd.DataFrame,
    df_b: pd.DataFrame,
    metric: str,
    id_col: str = "sample_id",
    cluster_col: str | None = "cluster",
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> PairedComparison:
    """Paired comparison of `metric` between two runs' per-sample tables (B minus A).

    Rows are matched on `id_col`, compared as strings (one row per id in each table); only
    shared ids are used.
    Pairs with NaN in either run are dropped (counted in `n_missing`). Clusters come from
    `cluster_col` where present (ignored when that column is absent or entirely empty).
    The metric is treated as binary, with Wilson means and McNemar's test, when every
    used value in both runs is 0 or 1. `bounds`: the metric's range (`MetricSpec.bounds`);
    both means keep their intervals inside it and the difference's interval inside
    [lower - upper, upper - lower] (binary metrics: (0, 1)).
    """
    _check_frame(df_a, "A", id_col, metric)
    _check_frame(df_b, "B", id_col, metric)
    keep = [id_col, metric] + ([cluster_col] if cluster_col else [])
    left = df_a[[c for c in keep if c in df_a.columns]]
    right = df_b[[c for c in keep if c in df_b.columns]]
    left = left.set_index(left[id_col].astype(str)).drop(columns=id_col)
    right = right.set_index(right[id_col].astype(str)).drop(columns=id_col)
    joined = left.merge(
        right, how="inner", left_index=True, right_index=True, suffixes=("_a", "_b")
    )
    n_joined = len(joined)
    n_only_a = len(left) - n_joined
    n_only_b = len(right) - n_joined
    values_a = pd.to_numeric(joined[f"{metric}_a"], errors="coerce").to_numpy(dtype=float)
    values_b = pd.to_numeric(joined[f"{metric}_b"], errors="coerce").to_numpy(dtype=float)
    usable = np.isfinite(values_a) & np.isfinite(values_b)
    if not usable.any():
        raise StatsInputError(
            f"{metric}: runs A and B share no sample with a value in both "
            f"({n_joined} shared ids, {n_only_a} only in A, {n_only_b} only in B)"
        )
    clusters = _shared_clusters(joined, cluster_col)
    if clusters is not None:
        clusters = clusters[usable]
    values_a, values_b = values_a[usable], values_b[usable]
    binary = bool(np.isin(values_a, (0.0, 1.0)).all() and np.isin(values_b, (0.0, 1.0)).all())
    if binary:
        mean_a = proportion_estimate(values_a, confidence, clusters)
        mean_b = proportion_estimate(values_b, confidence, clusters)
        bounds = (0.0, 1.0)
    else:
        mean_a = mean_estimate(values_a, confidence, clusters, bounds=bounds)
        mean_b = mean_estimate(values_b, confidence, clusters, bounds=bounds)
    return PairedComparison(
        metric=metric,
        mean_a=mean_a,
        mean_b=mean_b,
        difference=paired_difference(values_a, values_b, confidence, clusters, bounds=bounds),
        mcnemar=mcnemar_exact(values_a, values_b) if binary else None,
        n_shared=int(usable.sum()),
        n_only_a=n_only_a,
        n_only_b=n_only_b,
        n_missing=n_joined - int(usable.sum()),
    )
