"""aggregate_metric dispatches on MetricSpec.aggregation and drops NaN rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import LmauditError
from lmaudit.stats import (
    aggregate_metric,
    mean_estimate,
    proportion_estimate,
    ratio_estimate,
)

NAN = float("nan")


def test_proportion_drops_nan_rows_and_keeps_clusters_aligned() -> None:
    spec = MetricSpec("acc", Aggregation.PROPORTION)
    values = np.array([1.0, NAN, 0.0, 1.0, 1.0, NAN, 0.0, 1.0])
    clusters = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    est = aggregate_metric(spec, {"acc": values}, clusters)
    keep = ~np.isnan(values)
    assert est.n == 6
    assert est == proportion_estimate(values[keep], clusters=clusters[keep])
    assert aggregate_metric(spec, {"acc": values}, None) == proportion_estimate(values[keep])


def test_mean_dispatch() -> None:
    spec = MetricSpec("f1", Aggregation.MEAN)
    values = np.array([0.2, 0.5, 0.9, NAN])
    est = aggregate_metric(spec, {"f1": values}, None, confidence=0.9)
    assert est == mean_estimate(values[:3], confidence=0.9)
    assert est.n == 3


def test_ratio_dispatch_with_transform_seed_and_nan_in_either_column() -> None:
    spec = MetricSpec(
        "bits_per_byte", Aggregation.RATIO, numerator="nll", denominator="bytes", transform="bits"
    )
    nll = np.array([10.0, 20.0, NAN, 15.0, 30.0, 12.0])
    n_bytes = np.array([8.0, 20.0, 9.0, NAN, 25.0, 10.0])
    columns = {"nll": nll, "bytes": n_bytes}
    est = aggregate_metric(spec, columns, None, seed=3, n_boot=300)
    keep = [0, 1, 4, 5]
    assert est.n == 4
    assert est.value == pytest.approx(72.0 / 63.0 / math.log(2))
    assert est == ratio_estimate(nll[keep], n_bytes[keep], "bits", n_boot=300, seed=3)


def test_aggregate_errors_name_the_metric_and_column() -> None:
    spec = MetricSpec("acc", Aggregation.PROPORTION)
    with pytest.raises(LmauditError, match="metric 'acc': no per-sample column 'acc'"):
        aggregate_metric(spec, {"correct": np.ones(3)}, None)
    with pytest.raises(LmauditError, match="no sample has a value"):
        aggregate_metric(spec, {"acc": np.array([NAN, NAN])}, None)
    with pytest.raises(LmauditError, match="needs numerator and denominator"):
        aggregate_metric(MetricSpec("ppl", Aggregation.RATIO), {"ppl": np.ones(2)}, None)
    with pytest.raises(LmauditError, match=r"metric 'acc': values: a proportion"):
        aggregate_metric(spec, {"acc": np.array([0.0, 3.0])}, None)
    with pytest.raises(LmauditError, match="cluster labels"):
        aggregate_metric(spec, {"acc": np.ones(3)}, np.array(["a", "b"]))
