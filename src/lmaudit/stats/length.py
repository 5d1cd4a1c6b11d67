"""Reasoning length and correctness, with the problem's difficulty held fixed.

Input: one row per answer (sample) — its problem, its length (tokens, or whatever unit the
caller states) and its correctness (0/1). Several answers per problem are what make the
within-problem reading possible.

- **Naive**: the point-biserial correlation r between length and correctness over all
  answers (Pearson r with a 0/1 variable), and the pooled difference in mean length
  (correct minus incorrect). Both mix problems: hard problems draw long answers *and* wrong
  ones, so a negative r may only say that length marks difficulty (Simpson's paradox).
  Interval: percentile bootstrap over problems (whole problems resampled, `bootstrap_sums`).
- **Within problem**: for each problem with both correct and incorrect answers,
  d = mean length of its correct answers − mean length of its incorrect ones; the estimate
  is the mean of d over those problems (each problem weighs one), with a t interval over
  problems (problems are independent).
- **Difficulty strata**: difficulty is the problem's own accuracy over all its answers.
  Every answer of a problem lands in the same stratum, so a stratum compares answers of
  problems equally hard. A leave-one-out accuracy was rejected: it puts a problem's correct
  answers in a harder stratum than its wrong ones (c − 1 versus c correct others), which
  manufactures a length–difficulty link. Problems solved always or never are left out of the
  strata (their accuracy cannot vary with length). Strata: accuracy in (0, 1/3], (1/3, 2/3],
  (2/3, 1). Within a stratum, answers are binned by length quantiles; accuracy per bin has
  an interval clustered by problem.
- **Relative length**: an answer's length over the mean length of its problem's correct
  answers (undefined when the problem has none). The mean relative length of incorrect
  answers (clustered by problem) above 1 says wrong answers run longer than right ones to
  the same question.

Verdict rule (`VERDICT_RULE`), on two-sided 95% intervals of the within-problem difference
W and the naive pooled difference D (both in length units, correct minus incorrect):
W's interval below 0 → `LONGER_WORSE`; above 0 → `LONGER_BETTER`; W's interval contains 0,
D's interval lies below 0 and W's whole interval lies above D's point estimate (the
within-problem data rule out an effect as large as the naive one) → `DIFFICULTY_ONLY`;
anything else (including no problem with both outcomes) → `INCONCLUSIVE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmaudit.stats.bootstrap import bootstrap_sums
from lmaudit.stats.intervals import Estimate, mean_estimate, proportion_estimate
from lmaudit.stats.validation import (
    FloatArray,
    IntArray,
    StatsInputError,
    as_binary_vector,
    as_float_vector,
    check_same_length,
    cluster_codes,
)

LONGER_WORSE = "longer answers are worse within a problem"
LONGER_BETTER = "longer answers are better within a problem"
DIFFICULTY_ONLY = "length only marks harder problems"
INCONCLUSIVE = "inconclusive"
VERDICT_RULE = (
    "within-problem difference W (correct minus incorrect length) and naive pooled "
    "difference D, 95% intervals: W below 0 → longer answers are worse within a problem; "
    "W above 0 → longer answers are better within a problem; W contains 0 while D lies "
    "below 0 and W lies wholly above D's estimate → length only marks harder problems; "
    "otherwise inconclusive"
)
STRATA: tuple[tuple[str, float, float], ...] = (
    ("hard (accuracy ≤ 1/3)", 0.0, 1.0 / 3.0),
    ("medium (1/3 < accuracy ≤ 2/3)", 1.0 / 3.0, 2.0 / 3.0),
    ("easy (accuracy > 2/3)", 2.0 / 3.0, 1.0),
)
NAN = math.nan


@dataclass(frozen=True)
class LengthBin:
    """Answers of one difficulty stratum whose length lies in [low, high] (the bin's
    quantile edges; the first bin includes its lower edge, the others do not)."""

    stratum: str
    low: float
    high: float
    n: int
    n_problems: int
    mean_length: float
    accuracy: Estimate


@dataclass(frozen=True)
class LengthAnalysis:
    """Length against correctness (module docstring); lengths in `unit`.

    `naive_correlation`: point-biserial r; `naive_difference` and `within_difference`:
    mean length of correct minus incorrect answers (pooled; within problems);
    `relative_incorrect`: mean relative length of incorrect answers (1 = as long as the
    problem's correct answers). None where no answer qualifies."""

    unit: str
    n_answers: int
    n_problems: int
    n_mixed: int
    naive_correlation: Estimate
    naive_difference: Estimate
    within_difference: Estimate | None
    relative_incorrect: Estimate | None
    bins: tuple[LengthBin, ...]
    verdict: str
    rule: str = VERDICT_RULE


def point_biserial(length: Any, correct: Any) -> float:
    """Pearson r between a length and a 0/1 outcome: (M1 − M0) / s · sqrt(p q), with s
    the population standard deviation of length; NaN when either is constant."""
    x = as_float_vector(length, "length")
    y = as_binary_vector(correct, "correct")
    check_same_length("length", x, "correct", y)
    return _correlation(float(x.size), x.sum(), y.sum(), (x * x).sum(), (x * y).sum())


def _correlation(n: Any, sx: Any, sy: Any, sxx: Any, sxy: Any) -> Any:
    """r from sums (y is 0/1, so sum y² = sum y); arrays or floats."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sy
        var = (n * sxx - sx * sx) * (n * sy - sy * sy)
        return cov / np.sqrt(np.where(var > 0, var, np.nan))


def _difference(n: Any, sx: Any, sy: Any, sxy: Any) -> Any:
    """Mean x where y = 1 minus mean x where y = 0, from sums; NaN when a group is empty."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ones = np.where(sy > 0, sxy / np.where(sy > 0, sy, 1), np.nan)
        zeros = np.where(n - sy > 0, (sx - sxy) / np.where(n - sy > 0, n - sy, 1), np.nan)
        return ones - zeros


def _percentile_estimate(value: float, replicates: FloatArray, n: int, n_clusters: int,
                         confidence: float) -> Estimate:
    usable = replicates[np.isfinite(replicates)]
    method = "cluster-bootstrap-percentile"
    if usable.size < 2 or n_clusters < 2:
        return Estimate(value, NAN, NAN, n, method, NAN, confidence, n_clusters)
    alpha = 1.0 - confidence
    low, high = np.quantile(usable, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(value, float(low), float(high), n, method, float(np.std(usable, ddof=1)),
                    confidence, n_clusters)


def naive_estimates(codes: IntArray, n_problems: int, x: FloatArray, y: FloatArray,
                    n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
                    ) -> tuple[Estimate, Estimate]:
    """(point-biserial r, pooled mean-length difference) with intervals from one percentile
    bootstrap over problems (`codes`: problem index 0..n_problems-1 of each answer)."""
    columns = [np.bincount(codes, weights=w, minlength=n_problems).astype(np.float64)
               for w in (np.ones_like(x), x, y, x * x, x * y)]
    n, sx, sy, sxx, sxy = (float(c.sum()) for c in columns)
    r = float(_correlation(n, sx, sy, sxx, sxy))
    d = float(_difference(n, sx, sy, sxy))
    if n_problems < 2:
        return (Estimate(r, NAN, NAN, x.size, "cluster-bootstrap-percentile", NAN,
                         confidence, n_problems),
                Estimate(d, NAN, NAN, x.size, "cluster-bootstrap-percentile", NAN,
                         confidence, n_problems))
    bn, bsx, bsy, bsxx, bsxy = bootstrap_sums(columns, n_boot, seed)
    return (_percentile_estimate(r, _correlation(bn, bsx, bsy, bsxx, bsxy), x.size,
                                 n_problems, confidence),
            _percentile_estimate(d, _difference(bn, bsx, bsy, bsxy), x.size, n_problems,
                                 confidence))


def within_problem_difference(codes: IntArray, n_problems: int, x: FloatArray, y: FloatArray,
                              confidence: float = 0.95) -> Estimate | None:
    """Mean over problems with both outcomes of (mean correct length − mean incorrect
    length), with a t interval over those problems; None when no problem has both."""
    count = np.bincount(codes, minlength=n_problems).astype(np.float64)
    right = np.bincount(codes, weights=y, minlength=n_problems)
    right_len = np.bincount(codes, weights=x * y, minlength=n_problems)
    all_len = np.bincount(codes, weights=x, minlength=n_problems)
    mixed = (right > 0) & (right < count)
    if not mixed.any():
        return None
    d = right_len[mixed] / right[mixed] - (all_len - right_len)[mixed] / (count - right)[mixed]
    return mean_estimate(d, confidence)


def relative_lengths(codes: IntArray, n_problems: int, x: FloatArray, y: FloatArray
                     ) -> FloatArray:
    """Each answer's length over the mean length of its problem's correct answers (NaN
    where the problem has no correct answer or that mean is 0)."""
    right = np.bincount(codes, weights=y, minlength=n_problems)
    right_len = np.bincount(codes, weights=x * y, minlength=n_problems)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_right = np.where((right > 0) & (right_len > 0), right_len / np.where(
            right > 0, right, 1), np.nan)
    return np.asarray(x / mean_right[codes], dtype=np.float64)


def binned_within_strata(codes: IntArray, n_problems: int, x: FloatArray, y: FloatArray,
                         n_bins: int = 3, confidence: float = 0.95) -> tuple[LengthBin, ...]:
    """Accuracy per length bin (quantile edges) within each difficulty stratum of
    `STRATA`; problems solved always or never are left out (module docstring)."""
    if n_bins < 1:
        raise StatsInputError(f"n_bins must be at least 1, got {n_bins}")
    count = np.bincount(codes, minlength=n_problems).astype(np.float64)
    accuracy = np.bincount(codes, weights=y, minlength=n_problems) / np.maximum(count, 1)
    answer_acc = accuracy[codes]
    out: list[LengthBin] = []
    for name, low, high in STRATA:
        inside = (answer_acc > low) & (answer_acc <= high) & (answer_acc < 1.0)
        if not inside.any():
            continue
        xs, ys, cs = x[inside], y[inside], codes[inside]
        edges = np.quantile(xs, np.linspace(0.0, 1.0, n_bins + 1))
        which = np.clip(np.searchsorted(edges, xs, side="left") - 1, 0, n_bins - 1)
        for b in range(n_bins):
            member = which == b
            if not member.any():
                continue
            out.append(LengthBin(
                name, float(edges[b]), float(edges[b + 1]), int(member.sum()),
                int(np.unique(cs[member]).size), float(xs[member].mean()),
                proportion_estimate(ys[member], confidence, clusters=cs[member])))
    return tuple(out)


def verdict(within: Estimate | None, naive_difference: Estimate) -> str:
    """Which reading the intervals support, by `VERDICT_RULE`."""
    if within is None or not (math.isfinite(within.ci_low) and math.isfinite(within.ci_high)):
        return INCONCLUSIVE
    if within.ci_high < 0:
        return LONGER_WORSE
    if within.ci_low > 0:
        return LONGER_BETTER
    d = naive_difference
    if math.isfinite(d.ci_high) and d.ci_high < 0 and within.ci_low > d.value:
        return DIFFICULTY_ONLY
    return INCONCLUSIVE


def length_analysis(problem: Any, length: Any, correct: Any, *, unit: str = "tokens",
                    n_bins: int = 3, n_boot: int = 2000, seed: int = 0,
                    confidence: float = 0.95) -> LengthAnalysis:
    """Every reading of the module docstring for answers (`problem`, `length`, `correct`
    0/1), one row per answer; `unit` names the length's unit for the report."""
    x = as_float_vector(length, "length")
    y = as_binary_vector(correct, "correct")
    check_same_length("length", x, "correct", y)
    if (x < 0).any():
        raise StatsInputError("length: lengths must be >= 0")
    codes, n_problems = cluster_codes(problem, x.size, "problem")
    r, naive_d = naive_estimates(codes, n_problems, x, y, n_boot, seed, confidence)
    within = within_problem_difference(codes, n_problems, x, y, confidence)
    relative = relative_lengths(codes, n_problems, x, y)
    wrong = (y == 0) & np.isfinite(relative)
    relative_incorrect = (mean_estimate(relative[wrong], confidence, clusters=codes[wrong])
                          if wrong.any() else None)
    count = np.bincount(codes, minlength=n_problems)
    right = np.bincount(codes, weights=y, minlength=n_problems)
    return LengthAnalysis(
        unit=unit, n_answers=int(x.size), n_problems=n_problems,
        n_mixed=int(((right > 0) & (right < count)).sum()),
        naive_correlation=r, naive_difference=naive_d, within_difference=within,
        relative_incorrect=relative_incorrect,
        bins=binned_within_strata(codes, n_problems, x, y, n_bins, confidence),
        verdict=verdict(within, naive_d),
    )
