"""Operating characteristics of a membership detector: AUROC, its interval, TPR at low FPR.

Convention everywhere: a detector gives every item a score, higher = more likely a member
(seen in training). Members are the positives, non-members the negatives.

- `auroc`: the Mann-Whitney probability P(member score > non-member score), ties counted
  as 1/2 (identical to the trapezoidal area under the empirical ROC curve, and to
  `sklearn.metrics.roc_auc_score`). 0.5 = chance, 1.0 = perfect separation.
- `bootstrap_auroc_interval`: stratified percentile bootstrap: every replicate resamples
  members and non-members separately, with replacement, keeping both counts fixed.
- `tpr_at_fpr`: a deterministic threshold chosen on the non-member scores alone. An item
  is flagged when its score is strictly above the threshold t; t is the smallest
  non-member score whose false-positive rate #{non-members > t} / n0 is <= the target.
  No interpolation between ROC points and no randomized thresholds, so the reported
  rate is attainable and the FPR never exceeds the target. With n0 non-members the
  smallest non-zero FPR is 1 / n0: below n0 = 100 the 1 % operating point allows no
  false positive at all (t = the largest non-member score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _scores(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} scores are empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} scores contain NaN or infinite values")
    return array


def auroc(member_scores: ArrayLike, nonmember_scores: ArrayLike) -> float:
    """P(member > non-member) + P(tie) / 2 over all member x non-member pairs."""
    members = np.sort(_scores(member_scores, "member"))
    nonmembers = np.sort(_scores(nonmember_scores, "non-member"))
    below = np.searchsorted(nonmembers, members, side="left")
    not_above = np.searchsorted(nonmembers, members, side="right")
    wins = below.sum() + 0.5 * (not_above - below).sum()
    return float(wins / (members.size * nonmembers.size))


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided `level` interval (e.g. 0.95)."""

    point: float
    low: float
    high: float
    level: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def bootstrap_auroc_replicates(
    member_scores: ArrayLike,
    nonmember_scores: ArrayLike,
    *,
    replicates: int = 2000,
    seed: int = 0,
    chunk: int = 256,
) -> np.ndarray:
    """AUROCs of `replicates` stratified resamples (members and non-members drawn with
    replacement, each group keeping its size), by ranks in chunks of `chunk` replicates:
    memory O(chunk x (n1 + n0)), so large benchmarks fit. Deterministic for a `seed`."""
    from scipy.stats import rankdata  # deferred: importing scipy.stats takes ~1 s

    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    members = _scores(member_scores, "member")
    nonmembers = _scores(nonmember_scores, "non-member")
    n1, n0 = members.size, nonmembers.size
    rng = np.random.default_rng(seed)
    out = np.empty(replicates, dtype=np.float64)
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        drawn = np.concatenate(
            [
                members[rng.integers(0, n1, size=(size, n1))],
                nonmembers[rng.integers(0, n0, size=(size, n0))],
            ],
            axis=1,
        )
        ranks = rankdata(drawn, axis=1)  # ties get average ranks: they count 1/2
        u = ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2.0
        out[start : start + size] = u / (n1 * n0)
    return out


def bootstrap_auroc_interval(
    member_scores: ArrayLike,
    nonmember_scores: ArrayLike,
    *,
    level: float = 0.95,
    replicates: int = 2000,
    seed: int = 0,
) -> Interval:
    """AUROC with a stratified percentile bootstrap interval (see the module docstring)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    point = auroc(member_scores, nonmember_scores)
    values = bootstrap_auroc_replicates(
        member_scores, nonmember_scores, replicates=replicates, seed=seed
    )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(point, float(low), float(high), level)


def threshold_at_fpr(nonmember_scores: ArrayLike, target_fpr: float) -> float:
    """The smallest non-member score t with #{non-members > t} / n0 <= `target_fpr`."""
    if not 0.0 <= target_fpr <= 1.0:
        raise ValueError(f"target FPR must be in [0, 1], got {target_fpr}")
    nonmembers = np.sort(_scores(nonmember_scores, "non-member"))
    n0 = nonmembers.size
    candidates = np.unique(nonmembers)
    above = n0 - np.searchsorted(nonmembers, candidates, side="right")
    allowed = candidates[above <= target_fpr * n0 + 1e-9]
    return float(allowed[0])


def fpr_at_threshold(nonmember_scores: ArrayLike, threshold: float) -> float:
    """Share of non-members strictly above `threshold`."""
    nonmembers = _scores(nonmember_scores, "non-member")
    return float(np.mean(nonmembers > threshold))


def tpr_at_fpr(member_scores: ArrayLike, nonmember_scores: ArrayLike, target_fpr: float) -> float:
    """Share of members strictly above `threshold_at_fpr(nonmembers, target_fpr)`."""
    members = _scores(member_scores, "member")
    threshold = threshold_at_fpr(nonmember_scores, target_fpr)
    return float(np.mean(members > threshold))


@dataclass(frozen=True)
class OperatingCharacteristics:
    """What one detector achieves on one set of members vs non-members."""

    auroc: float
    ci_low: float
    ci_high: float
    tpr_at_1pct_fpr: float
    tpr_at_5pct_fpr: float
    n_members: int
    n_nonmembers: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "auroc": self.auroc,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "tpr_at_5pct_fpr": self.tpr_at_5pct_fpr,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
        }


def operating_characteristics(
    member_scores: ArrayLike,
    nonmember_scores: ArrayLike,
    *,
    level: float = 0.95,
    replicates: int = 2000,
    seed: int = 0,
) -> OperatingCharacteristics:
    """AUROC with its bootstrap interval and the TPR at 1 % and 5 % FPR."""
    interval = bootstrap_auroc_interval(
        member_scores, nonmember_scores, level=level, replicates=replicates, seed=seed
    )
    return OperatingCharacteristics(
        auroc=interval.point,
        ci_low=interval.low,
        ci_high=interval.high,
        tpr_at_1pct_fpr=tpr_at_fpr(member_scores, nonmember_scores, 0.01),
        tpr_at_5pct_fpr=tpr_at_fpr(member_scores, nonmember_scores, 0.05),
        n_members=len(np.asarray(member_scores).reshape(-1)),
        n_nonmembers=len(np.asarray(nonmember_scores).reshape(-1)),
    )
