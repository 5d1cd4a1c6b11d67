"""Per-item membership scores from token log-probabilities, and test-vs-ref comparisons.

Convention: EVERY score is oriented so that HIGHER = MORE LIKELY SEEN IN TRAINING. All
log-probabilities are natural logs (nats). `token_logprobs[t] = log p(x_t | x_<t)` for the
item's tokens, scored as the model would see the item (for lab models: after a leading
`<|endoftext|>`, see `likelihood_run`).

- `loss_score`: mean token log-prob = −loss (nats/token).
- `zlib_score` (Carlini et al. 2021, "Extracting Training Data from Large Language Models",
  ratio of model log-likelihood to zlib entropy): `sum_t log p(x_t) / len(zlib.compress(
  text.encode("utf-8")))` with zlib's default level (6): nats per compressed byte. Text that is
  easy for zlib (repetitive) is discounted; the sum is ≤ 0, so higher (closer to 0) = member.
- `min_k_score` (Shi et al. 2023, "Detecting Pretraining Data from Large Language Models"):
  the mean of the `n_k` lowest token log-probs, `n_k = max(1, floor(k * n + 1e-9))` (the floor
  of the authors' code, at least one token; the 1e-9 absorbs float error such as
  0.3 * 10 = 2.9999...).
- `min_k_plus_plus_score` (Zhang et al. 2024, "Min-K%++"): per token
  `z_t = (log p(x_t) − μ_t) / σ_t` with `μ_t = E_{z~p(·|x_<t)}[log p(z)]` and
  `σ_t² = Var_{z~p(·|x_<t)}[log p(z)]`, then the mean of the `n_k` lowest `z_t` (same `n_k`).
  Variances are floored at 1e-12 nats² so that a one-hot next-token distribution gives a
  finite score.
- `reference_ratio_score` (reference-model calibration, Carlini et al. 2021 / Mattern et al.
  2023): `sum_t log p_target(x_t) − sum_t log p_ref(x_t)` = log p_target(text) −
  log p_ref(text) in nats. Whole-text sums, not per-token means, so that the two models may
  use different tokenizers.

`compare_scores` asks whether test items score higher than reference items: AUROC
`P(score_test > score_ref) + ½ P(tie)` (= Mann–Whitney U / (n_test · n_ref)), a one-sided
Mann–Whitney p-value (alternative: test scores are stochastically larger) and a seeded
percentile bootstrap interval (resampling items within each split).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from lmaudit.contamination.validation.roc import auroc, bootstrap_auroc_replicates
from lmaudit.stats.validation import FloatArray, StatsInputError

SCORE_NAMES = ("loss", "zlib", "min_k", "min_k_plus_plus", "reference_ratio")
VARIANCE_FLOOR = 1e-12


def _vector(values: Sequence[float] | FloatArray, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise StatsInputError(f"{name} must be a non-empty 1-D sequence of numbers")
    if not np.all(np.isfinite(array)):
        raise StatsInputError(f"{name} holds NaN or infinite values")
    return array


def k_count(n_tokens: int, k: float) -> int:
    """Tokens kept by Min-K% / Min-K%++: `max(1, floor(k * n_tokens + 1e-9))`."""
    if not 0.0 < k <= 1.0:
        raise StatsInputError(f"k must be in (0, 1], got {k}")
    if n_tokens < 1:
        raise StatsInputError("an item needs at least one token")
    return max(1, math.floor(k * n_tokens + 1e-9))


def loss_score(token_logprobs: Sequence[float]) -> float:
    """Mean token log-prob (= −loss), nats/token."""
    return float(np.mean(_vector(token_logprobs, "token_logprobs")))


def zlib_score(text: str, token_logprobs: Sequence[float]) -> float:
    """Summed token log-prob divided by the zlib-compressed size of the UTF-8 text (bytes)."""
    compressed = len(zlib.compress(text.encode("utf-8")))
    return float(np.sum(_vector(token_logprobs, "token_logprobs")) / compressed)


def min_k_score(token_logprobs: Sequence[float], k: float = 0.2) -> float:
    """Mean of the `k_count(n, k)` lowest token log-probs (nats)."""
    values = _vector(token_logprobs, "token_logprobs")
    lowest = np.sort(values)[: k_count(values.size, k)]
    return float(np.mean(lowest))


def min_k_plus_plus_score(
    token_logprobs: Sequence[float],
    means: Sequence[float],
    variances: Sequence[float],
    k: float = 0.2,
) -> float:
    """Mean of the `k_count(n, k)` lowest standardized log-probs `(log p − μ) / σ`."""
    values = _vector(token_logprobs, "token_logprobs")
    mu = _vector(means, "means")
    var = _vector(variances, "variances")
    if mu.shape != values.shape or var.shape != values.shape:
        raise StatsInputError(
            f"means ({mu.size}) and variances ({var.size}) need one value per token "
            f"({values.size})"
        )
    if np.any(var < 0):
        raise StatsInputError("variances must be non-negative")
    z = (values - mu) / np.sqrt(np.maximum(var, VARIANCE_FLOOR))
    lowest = np.sort(z)[: k_count(values.size, k)]
    return float(np.mean(lowest))


def reference_ratio_score(
    target_logprobs: Sequence[float], reference_logprobs: Sequence[float]
) -> float:
    """`log p_target(text) − log p_reference(text)` (nats; sums over each model's tokens)."""
    target = _vector(target_logprobs, "target_logprobs")
    reference = _vector(reference_logprobs, "reference_logprobs")
    return float(np.sum(target) - np.sum(reference))


@dataclass(frozen=True)
class MembershipScores:
    """All membership scores of one item (higher = more likely seen). `None`: not computed
    (Min-K%++ needs next-token statistics, the ratio a reference model)."""

    item_id: str
    loss: float
    zlib: float
    min_k: float
    min_k_plus_plus: float | None = None
    reference_ratio: float | None = None

    def get(self, name: str) -> float | None:
        if name not in SCORE_NAMES:
            raise KeyError(f"unknown membership score {name!r}; known: {', '.join(SCORE_NAMES)}")
        value: float | None = getattr(self, name)
        return value


def score_item(
    item_id: str,
    text: str,
    token_logprobs: Sequence[float],
    *,
    means: Sequence[float] | None = None,
    variances: Sequence[float] | None = None,
    reference_logprobs: Sequence[float] | None = None,
    k: float = 0.2,
) -> MembershipScores:
    """Every score that the given inputs allow, for one item."""
    plus_plus = None
    if means is not None and variances is not None and len(means) > 0:
        plus_plus = min_k_plus_plus_score(token_logprobs, means, variances, k)
    ratio = None
    if reference_logprobs is not None:
        ratio = reference_ratio_score(token_logprobs, reference_logprobs)
    return MembershipScores(
        item_id,
        loss_score(token_logprobs),
        zlib_score(text, token_logprobs),
        min_k_score(token_logprobs, k),
        plus_plus,
        ratio,
    )


def score_items(
    item_ids: Sequence[str],
    texts: Sequence[str],
    token_logprobs: Sequence[Sequence[float]],
    *,
    means: Sequence[Sequence[float]] | None = None,
    variances: Sequence[Sequence[float]] | None = None,
    reference_logprobs: Sequence[Sequence[float]] | None = None,
    k: float = 0.2,
) -> list[MembershipScores]:
    """`score_item` over parallel sequences (optional ones may be None)."""
    n = len(item_ids)
    for name, seq in (("texts", texts), ("token_logprobs", token_logprobs),
                      ("means", means), ("variances", variances),
                      ("reference_logprobs", reference_logprobs)):
        if seq is not None and len(seq) != n:
            raise StatsInputError(f"{name} has {len(seq)} entries for {n} items")
    return [
        score_item(
            item_ids[i], texts[i], token_logprobs[i],
            means=None if means is None else means[i],
            variances=None if variances is None else variances[i],
            reference_logprobs=None if reference_logprobs is None else reference_logprobs[i],
            k=k,
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class ScoreComparison:
    """Test-split scores against reference-split scores for one membership score.

    `auroc` > 0.5 means test items look more "seen" than reference items; `p_value` is the
    one-sided Mann–Whitney p (test larger); `[ci_low, ci_high]` a percentile bootstrap
    interval of the AUROC at `confidence`.
    """

    name: str
    auroc: float
    ci_low: float
    ci_high: float
    p_value: float
    mean_test: float
    mean_ref: float
    n_test: int
    n_ref: int
    confidence: float
    n_boot: int


def compare_scores(
    test_scores: Sequence[float] | FloatArray,
    ref_scores: Sequence[float] | FloatArray,
    *,
    name: str,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ScoreComparison:
    """AUROC of test vs ref scores, its bootstrap interval and the Mann–Whitney p-value."""
    x = _vector(test_scores, f"{name} test scores")
    y = _vector(ref_scores, f"{name} reference scores")
    if n_boot < 1:
        raise StatsInputError(f"n_boot must be at least 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise StatsInputError(f"confidence must be in (0, 1), got {confidence}")
    replicates = bootstrap_auroc_replicates(x, y, replicates=n_boot, seed=seed)
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0])
    p_value = float(scipy_stats.mannwhitneyu(x, y, alternative="greater").pvalue)
    return ScoreComparison(
        name, auroc(x, y), float(low), float(high), p_value,
        float(np.mean(x)), float(np.mean(y)), int(x.size), int(y.size), confidence, n_boot,
    )
