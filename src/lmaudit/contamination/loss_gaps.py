"""Skywork loss gaps (Wei et al. 2023, "Skywork: A More Open Bilingual Foundation Model").

A split's loss is token-weighted: `L = sum_i nll_i / sum_i n_tokens_i` (nats/token), with
`nll_i` an item's summed negative log-likelihood and `n_tokens_i` its token count. Then

- `Δ1 = L_test − L_ref`: the benchmark's test split against unseen items from the same
  distribution. Δ1 ≈ 0 for a clean model; Δ1 < 0 (test EASIER than ref) is the contamination
  signal.
- `Δ2 = L_test − L_train`: test against the benchmark's train split. Δ2 > 0 is normal (and
  large when the model trained on the train split); Δ2 < 0 means the test items are easier
  than even the training items, which corroborates a leak.

Both assume the splits come from one distribution: a harder or easier ref set moves Δ1.

Each gap gets (1) a seeded percentile bootstrap interval that resamples items with
replacement within each split independently and recomputes both token-weighted losses, and
(2) a one-sided permutation test of "the split labels are exchangeable" against "split a is
easier": the item labels are permuted between the two splits (sizes kept) and the statistic
`L_a − L_b` recomputed; `p = (1 + #{perm stat ≤ observed}) / (1 + B)` for B random
permutations, or, when there are at most `exact_limit` ways to split the items, the exact
`p = #{splits with stat ≤ observed} / #splits` over all of them (the observed split included).
A permuted statistic within 1e-9 (relative) of the observed one counts as a tie, i.e. as at
least as extreme.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lmaudit.stats.bootstrap import bootstrap_sums
from lmaudit.stats.validation import FloatArray, StatsInputError

DEFAULT_EXACT_LIMIT = 20_000
_TIE_TOLERANCE = 1e-9
_MAX_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class SplitLosses:
    """Per-item summed NLL (nats) and token counts of one split."""

    sum_nll: tuple[float, ...]
    n_tokens: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.sum_nll) != len(self.n_tokens) or not self.sum_nll:
            raise StatsInputError("a split needs one (sum_nll, n_tokens) pair per item, >= 1 item")
        if any(n <= 0 for n in self.n_tokens):
            raise StatsInputError("every item needs at least one token")
        if not all(math.isfinite(v) for v in self.sum_nll):
            raise StatsInputError("sum_nll holds NaN or infinite values")

    @classmethod
    def of(cls, sum_nll: Iterable[float], n_tokens: Iterable[int]) -> SplitLosses:
        return cls(tuple(float(v) for v in sum_nll), tuple(int(n) for n in n_tokens))

    @property
    def loss(self) -> float:
        """Token-weighted mean loss, nats/token."""
        return sum(self.sum_nll) / sum(self.n_tokens)

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        return (np.asarray(self.sum_nll, dtype=np.float64),
                np.asarray(self.n_tokens, dtype=np.float64))


def token_weighted_loss(sum_nll: Sequence[float], n_tokens: Sequence[int]) -> float:
    """`sum(sum_nll) / sum(n_tokens)` in nats/token."""
    return SplitLosses.of(sum_nll, n_tokens).loss


@dataclass(frozen=True)
class LossGap:
    """`value = loss_a − loss_b` (nats/token) with its interval and one-sided p-value.

    `p_value` tests "a is easier than b" (small when value is very negative); `p_method` is
    `exact` or `monte_carlo`, `n_permutations` the splits it used.
    """

    name: str
    value: float
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int
    p_value: float
    p_method: str
    n_permutations: int
    loss_a: float
    loss_b: float
    n_items_a: int
    n_items_b: int
    n_tokens_a: int
    n_tokens_b: int


def bootstrap_gap_interval(
    a: SplitLosses,
    b: SplitLosses,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of `L_a − L_b`, items resampled within each split (seeded)."""
    if not 0.0 < confidence < 1.0:
        raise StatsInputError(f"confidence must be in (0, 1), got {confidence}")
    seed_a, seed_b = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    nll_a, tok_a = bootstrap_sums(list(a.arrays()), n_boot, seed_a)
    nll_b, tok_b = bootstrap_sums(list(b.arrays()), n_boot, seed_b)
    gaps = nll_a / tok_a - nll_b / tok_b
    alpha = 1.0 - confidence
    low, high = np.quantile(gaps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _split_stats(
    nll: FloatArray, tok: FloatArray, members: np.ndarray
) -> FloatArray:
    """`L_a − L_b` for each row of `members` (indices of group a)."""
    total_nll, total_tok = nll.sum(), tok.sum()
    s_a = nll[members].sum(axis=1)
    t_a = tok[members].sum(axis=1)
    result: FloatArray = s_a / t_a - (total_nll - s_a) / (total_tok - t_a)
    return result


def permutation_test_gap(
    a: SplitLosses,
    b: SplitLosses,
    *,
    n_permutations: int = 10_000,
    seed: int = 0,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> tuple[float, str, int]:
    """One-sided p of "a easier than b": `(p, "exact" | "monte_carlo", splits used)`."""
    nll = np.concatenate([a.arrays()[0], b.arrays()[0]])
    tok = np.concatenate([a.arrays()[1], b.arrays()[1]])
    n, n_a = nll.size, len(a.sum_nll)
    observed = a.loss - b.loss
    threshold = observed + _TIE_TOLERANCE * max(1.0, abs(observed))
    n_splits = math.comb(n, n_a)
    if n_splits <= exact_limit:
        members = np.array(list(itertools.combinations(range(n), n_a)), dtype=np.int64)
        stats = _split_stats(nll, tok, members)
        return float(np.count_nonzero(stats <= threshold) / n_splits), "exact", n_splits
    if n_permutations < 1:
        raise StatsInputError(f"n_permutations must be at least 1, got {n_permutations}")
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_ELEMENTS // n)
    hits = 0
    for start in range(0, n_permutations, chunk):
        size = min(chunk, n_permutations - start)
        order = rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1)
        hits += int(np.count_nonzero(_split_stats(nll, tok, order[:, :n_a]) <= threshold))
    return (1 + hits) / (1 + n_permutations), "monte_carlo", n_permutations


def loss_gap(
    a: SplitLosses,
    b: SplitLosses,
    *,
    name: str,
    n_boot: int = 2000,
    n_permutations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> LossGap:
    """`L_a − L_b` with its bootstrap interval and permutation p-value."""
    low, high = bootstrap_gap_interval(a, b, n_boot=n_boot, seed=seed, confidence=confidence)
    p, method, used = permutation_test_gap(
        a, b, n_permutations=n_permutations, seed=seed + 1, exact_limit=exact_limit
    )
    return LossGap(
        name, a.loss - b.loss, low, high, confidence, n_boot, p, method, used,
        a.loss, b.loss, len(a.sum_nll), len(b.sum_nll), sum(a.n_tokens), sum(b.n_tokens),
    )


def skywork_gaps(
    test: SplitLosses,
    ref: SplitLosses | None,
    train: SplitLosses | None = None,
    *,
    n_boot: int = 2000,
    n_permutations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, LossGap]:
    """`{"delta1": L_test − L_ref, "delta2": L_test − L_train}` for the splits given."""
    gaps: dict[str, LossGap] = {}
    for name, other in (("delta1", ref), ("delta2", train)):
        if other is not None:
            gaps[name] = loss_gap(
                test, other, name=name, n_boot=n_boot, n_permutations=n_permutations,
                seed=seed, confidence=confidence,
            )
    return gaps
