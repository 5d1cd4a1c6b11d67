"""pass@k: Chen et al. (2021)'s unbiased estimator, per problem and averaged.

With `n` samples of one problem of which `c` pass, the probability that at least one of
`k` samples drawn without replacement passes is

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)

(the product form is exact and never forms the huge binomials). It is 1 when
`n - c < k` (every draw of k contains a pass). The benchmark's pass@k is the plain mean
of the per-problem values (every problem weighs the same, whatever its n); its interval
treats problems as the independent units (samples of one problem are clustered).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lmaudit.stats.intervals import Estimate, mean_estimate
from lmaudit.stats.validation import StatsInputError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with `n` samples, `c` of them correct (0 <= c <= n,
    1 <= k <= n). Raises `StatsInputError` outside that range."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise StatsInputError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n  # the product's exact value, without its rounding
    factors = 1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(1.0 - np.prod(factors))


def k_values(n_min: int) -> list[int]:
    """The k reported when the smallest problem has `n_min` samples: 1 and every power of
    two up to `n_min` (1, 2, 4, 8, ...)."""
    if n_min < 1:
        raise StatsInputError(f"pass@k needs at least one sample per problem, got {n_min}")
    ks, k = [], 1
    while k <= n_min:
        ks.append(k)
        k *= 2
    return ks


def per_problem_counts(
    problems: Sequence[Any], passed: Sequence[bool | float]
) -> dict[str, tuple[int, int]]:
    """`{problem: (n, c)}` from one row per sample (its problem id, whether it passed), in
    order of first appearance."""
    if len(problems) != len(passed):
        raise StatsInputError(f"{len(problems)} problem ids for {len(passed)} results")
    counts: dict[str, tuple[int, int]] = {}
    for problem, ok in zip(problems, passed, strict=True):
        n, c = counts.get(str(problem), (0, 0))
        counts[str(problem)] = (n + 1, c + (1 if ok else 0))
    return counts


def pass_at_k_estimates(
    counts: dict[str, tuple[int, int]],
    ks: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """`{"pass@k": Estimate}` for each k (default `k_values` of the smallest n): the mean
    over problems of the per-problem unbiased pass@k, with a t interval over problems
    (clustered by problem, kept inside [0, 1]; `lmaudit.stats.intervals`). A k larger
    than some problem's n raises `StatsInputError`."""
    if not counts:
        raise StatsInputError("pass@k needs at least one problem")
    n_min = min(n for n, _ in counts.values())
    chosen = list(ks) if ks is not None else k_values(n_min)
    labels = np.asarray(list(counts), dtype=object)
    results: dict[str, Estimate] = {}
    for k in chosen:
        if k > n_min:
            raise StatsInputError(f"pass@{k}: a problem has only {n_min} samples")
        values = np.asarray([pass_at_k(n, c, k) for n, c in counts.values()])
        results[f"pass@{k}"] = mean_estimate(
            values, confidence=confidence, clusters=labels, bounds=(0.0, 1.0)
        )
    return results
