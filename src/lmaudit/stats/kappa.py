"""Cohen's kappa of two raters, and its percentile bootstrap interval over prompts.

kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement and p_e the agreement expected
from the two raters' label frequencies alone; NaN when p_e = 1 (both raters give one label
to every item). The interval resamples the distinct prompts with replacement (all items of
a drawn prompt together, seeded); resamples where kappa is undefined are skipped, and the
bounds are NaN with fewer than two usable resamples. Used by the arena's judge agreement
and by the safety tasks' matcher-vs-judge agreement (`classifier_kappa`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmaudit.core.types import LmauditError
from lmaudit.stats.intervals import Estimate


def cohen_kappa(rater_a: Sequence[str], rater_b: Sequence[str]) -> float:
    """Cohen's kappa of two raters' labels for the same items."""
    if len(rater_a) != len(rater_b) or not rater_a:
        raise LmauditError("kappa needs two equally long, non-empty label lists")
    a, b = np.asarray(rater_a, dtype=object), np.asarray(rater_b, dtype=object)
    observed = float(np.mean(a == b))
    categories = sorted(set(a) | set(b))
    expected = sum(float(np.mean(a == c)) * float(np.mean(b == c)) for c in categories)
    return (observed - expected) / (1 - expected) if expected < 1 else float("nan")


def kappa_from_confusion(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of confusion tables (..., labels, labels) of counts or weights; NaN
    where undefined (no items, or p_e = 1)."""
    table = np.asarray(table, dtype=float)
    n = table.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(table, axis1=-2, axis2=-1) / n
        expected = np.sum(table.sum(axis=-1) * table.sum(axis=-2), axis=-1) / (n * n)
        kappa = (observed - expected) / (1 - expected)
    return np.asarray(np.where((n > 0) & (expected < 1), kappa, np.nan))


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap replicates (NaN with fewer than two)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def prompt_resample_weights(prompts: Sequence[str], rounds: int, seed: int) -> np.ndarray:
    """(rounds, items) weights: how often each item's prompt is drawn in each resample of
    the distinct prompts with replacement (seeded)."""
    distinct, index = np.unique(np.asarray(prompts, dtype=str), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(distinct), np.full(len(distinct), 1 / len(distinct)), rounds)
    return np.asarray(draws[:, index], dtype=float)


def bootstrap_kappa(
    rater_a: Sequence[str],
    rater_b: Sequence[str],
    prompts: Sequence[str],
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa, resampling prompts."""
    categories = {c: i for i, c in enumerate(sorted(set(rater_a) | set(rater_b)))}
    one_hot = np.zeros((len(rater_a), len(categories), len(categories)))
    one_hot[
        np.arange(len(rater_a)), [categories[x] for x in rater_a], [categories[x] for x in rater_b]
    ] = 1.0
    weights = prompt_resample_weights(prompts, rounds, seed)
    return percentile_interval(
        kappa_from_confusion(np.einsum("ri,ijk->rjk", weights, one_hot)), confidence
    )


def binary_kappa_estimate(
    labels_a: Sequence[float] | np.ndarray,
    labels_b: Sequence[float] | np.ndarray,
    *,
    seed: int = 0,
    rounds: int = 1000,
    confidence: float = 0.95,
) -> Estimate:
    """Cohen's kappa of two raters' 0/1 labels of the same items (pairs with a NaN are left
    out), each item its own prompt in the bootstrap (method `bootstrap-percentile`, no
    stderr); NaN where kappa is undefined or no pair is left."""
    a, b = np.asarray(labels_a, dtype=float), np.asarray(labels_b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    named_a = ["1" if x else "0" for x in a[keep]]  # any non-zero label counts as 1
    named_b = ["1" if x else "0" for x in b[keep]]
    n = len(named_a)
    if n == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, 0, "bootstrap-percentile", None, confidence)
    kappa = cohen_kappa(named_a, named_b)
    low, high = bootstrap_kappa(named_a, named_b, [str(i) for i in range(n)],
                                rounds=rounds, seed=seed, confidence=confidence)
    return Estimate(kappa, low, high, n, "bootstrap-percentile", None, confidence)
