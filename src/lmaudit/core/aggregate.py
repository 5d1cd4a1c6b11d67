"""Per-sample records to run-level metrics, each with its interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from lmaudit.core.task import MetricSpec
from lmaudit.core.types import SampleRecord
from lmaudit.stats import Estimate, aggregate_metric, expected_calibration_error
from lmaudit.stats.kappa import binary_kappa_estimate


def _clusters(records: Sequence[SampleRecord]) -> np.ndarray | None:
    labels = [r.cluster for r in records]
    if all(label is None for label in labels):
        return None
    return np.asarray(["" if label is None else label for label in labels], dtype=object)


def _column(records: Sequence[SampleRecord], name: str) -> np.ndarray:
    return np.asarray([r.metrics.get(name, np.nan) for r in records], dtype=float)


def ece_estimate(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    strategy: Literal["equal_mass", "equal_width"],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """ECE (10 bins) with a percentile bootstrap interval over samples: ECE has no
    closed-form standard error."""
    value = expected_calibration_error(confidence, correct, n_bins=10, strategy=strategy)
    n = len(confidence)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        draws[b] = expected_calibration_error(
            confidence[idx], correct[idx], n_bins=10, strategy=strategy
        )
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return Estimate(
        value=float(value),
        ci_low=float(low),
        ci_high=float(high),
        n=n,
        method="bootstrap-percentile",
        stderr=float(draws.std(ddof=1)),
    )


def aggregate_records(
    metrics: Sequence[MetricSpec], records: Sequence[SampleRecord], *, seed: int = 0
) -> dict[str, Estimate]:
    """Every declared metric as an Estimate; for multiple choice (a task reporting `acc`
    and `confidence`) also ECE with equal-mass and equal-width bins; for a task reporting
    `acc` and a `stated_confidence` (HLE) also the RMS calibration error of
    `lmaudit.stats.rms_calibration`, as the reference computes it and over all bins; for a
    safety task judged by both classifiers, their Cohen's kappa (`classifier_kappa`)."""
    if not records:
        return {}
    clusters = _clusters(records)
    names = {name for r in records for name in r.metrics}
    columns = {name: _column(records, name) for name in names}
    results: dict[str, Estimate] = {}
    for spec in metrics:
        needed = [spec.numerator, spec.denominator] if spec.numerator else [spec.name]
        if any(n not in columns for n in needed if n):
            continue
        results[spec.name] = aggregate_metric(spec, columns, clusters, seed=seed)
    if "acc" in columns and "confidence" in columns:
        ok = ~(np.isnan(columns["acc"]) | np.isnan(columns["confidence"]))
        if ok.sum() >= 2:
            conf, acc = columns["confidence"][ok], columns["acc"][ok]
            results["ece_equal_mass"] = ece_estimate(conf, acc, strategy="equal_mass", seed=seed)
            results["ece"] = ece_estimate(conf, acc, strategy="equal_width", seed=seed)
    if "acc" in columns and "stated_confidence" in columns:  # HLE: the authors' RMS error
        from lmaudit.stats.rms_calibration import rms_calibration_estimate

        ok = ~(np.isnan(columns["acc"]) | np.isnan(columns["stated_confidence"]))
        stated, hits = columns["stated_confidence"][ok], columns["acc"][ok]
        results["calibration_rms"] = rms_calibration_estimate(stated, hits, seed=seed)
        results["calibration_rms_all_bins"] = rms_calibration_estimate(
            stated, hits, drop_last_bin=False, seed=seed
        )
    if "refused_phrase" in columns and "refused_judge" in columns:  # safety tasks
        results["classifier_kappa"] = binary_kappa_estimate(
            columns["refused_phrase"], columns["refused_judge"], seed=seed)
    return results
