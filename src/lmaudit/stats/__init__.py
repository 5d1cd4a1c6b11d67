"""Statistics over per-sample scores: intervals, paired tests, calibration.

Pure functions over numpy arrays; nothing here recomputes model outputs.
"""

from __future__ import annotations

from lmaudit.stats.aggregate import aggregate_metric
from lmaudit.stats.bootstrap import bootstrap_sums
from lmaudit.stats.calibration import (
    ReliabilityBin,
    brier_multiclass,
    brier_score,
    expected_calibration_error,
    reliability_bins,
)
from lmaudit.stats.intervals import (
    RATIO_TRANSFORMS,
    Estimate,
    clustered_stderr,
    mean_estimate,
    proportion_estimate,
    ratio_estimate,
    wilson_interval,
)
from lmaudit.stats.paired import (
    McNemarResult,
    PairedComparison,
    compare_runs,
    mcnemar_exact,
    paired_difference,
)
from lmaudit.stats.validation import StatsInputError

__all__ = [
    "RATIO_TRANSFORMS",
    "Estimate",
    "McNemarResult",
    "PairedComparison",
    "ReliabilityBin",
    "StatsInputError",
    "aggregate_metric",
    "bootstrap_sums",
    "brier_multiclass",
    "brier_score",
    "clustered_stderr",
    "compare_runs",
    "expected_calibration_error",
    "mcnemar_exact",
    "mean_estimate",
    "paired_difference",
    "proportion_estimate",
    "ratio_estimate",
    "reliability_bins",
    "wilson_interval",
]
