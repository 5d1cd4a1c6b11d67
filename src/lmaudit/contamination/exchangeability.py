"""Exchangeability test (Oren et al. 2023, "Proving Test Set Contamination in Black Box
Language Models").

If a benchmark's items are exchangeable (no order is more natural than another) and the
model never saw the benchmark, then the canonical (published) order is no more likely under
the model than a random order. A model that trained on the benchmark file prefers its order.

Procedure. The items, in canonical order, are cut into `r` contiguous shards (sizes differ
by at most one). Each shard is joined into one text `prefix + sep.join(items) + suffix` in
its canonical order and in `m` uniformly random orders (drawn with a seeded generator,
independently; a draw may repeat or equal the canonical order, which keeps the test valid),
and the backend scores every text's total log-probability `lp` (nats): a rolling
log-likelihood request when the backend has one, else `LoglikelihoodRequest("", text)`.
The joining must reproduce the layout the model saw (lab models: documents separated by
`<|endoftext|>`); `separator` is configurable.

Two p-values, both one-sided (alternative: the canonical order is preferred):

- t-test (Oren et al.): per shard `d_i = lp_i,canonical − mean_j lp_i,j` over its m shuffles;
  `t = mean(d) / (sd(d) / sqrt(r))` with the sample standard deviation (ddof = 1) and
  `p = P(T_{r−1} ≥ t)`. Needs r ≥ 2 and assumes the d_i roughly normal.
- permutation test (exact under exchangeability, no normality): within shard i the m + 1
  values `lp_i,0..m` (0 = canonical) are exchangeable under the null, so the canonical's
  position among them is uniform and independent across shards. With centred values
  `c_i,j = lp_i,j − mean_{j'=0..m} lp_i,j'`, the statistic is `T = sum_i c_i,0`; its null
  distribution is that of `sum_i c_i,J_i` with J_i independent and uniform on {0..m}.
  `p = P(sum_i c_i,J_i ≥ T)`: enumerated exactly when `(m+1)^r ≤ exact_limit`, else estimated
  from `n_resamples` draws as `(1 + hits) / (1 + n_resamples)`. For r = 1 this is the rank
  p-value `(1 + #{j ≥ 1: lp_j ≥ lp_0}) / (m + 1)`. Values within 1e-9 (relative) of T count
  as ties (at least as extreme).

The test cannot work, and no p-value is reported (`check_applicability` gives the reasons),
when: a shard is longer than the model's context window (the order beyond one window is not
scored jointly); there are fewer than 2 shards or a shard has fewer than 2 items; the items
are instances of shared templates (nearest-neighbour word-bigram Jaccard ≥ 0.5 for at least
half the items, numbers normalised: such sets are not exchangeable in the way the null needs,
and in-context copying makes the likelihood depend on which items are adjacent); or the user
says the training data was shuffled (no canonical order reached the model).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from lmaudit.core.backend import Backend
from lmaudit.core.types import (
    LmauditError,
    LoglikelihoodRequest,
    RequestKind,
    RollingLoglikelihoodRequest,
)
from lmaudit.stats.validation import FloatArray, StatsInputError

DEFAULT_SEPARATOR = "\n\n"
TEMPLATE_SIMILARITY = 0.5
TEMPLATED_FRACTION = 0.5
_SIMILARITY_SAMPLE = 500
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ShardLogprobs:
    """Total log-probs (nats) of one shard in its canonical order and in its shuffles."""

    canonical: float
    shuffled: tuple[float, ...]


@dataclass(frozen=True)
class Applicability:
    applicable: bool
    reasons: tuple[str, ...]


def shard_bounds(n_items: int, n_shards: int) -> list[tuple[int, int]]:
    """`[start, end)` of `n_shards` contiguous shards; the first `n_items % n_shards` shards
    hold one item more."""
    if n_shards < 1 or n_items < n_shards:
        raise StatsInputError(f"cannot cut {n_items} items into {n_shards} shards")
    base, extra = divmod(n_items, n_shards)
    bounds, start = [], 0
    for i in range(n_shards):
        end = start + base + (1 if i < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = ["0" if w.isdigit() else w for w in re.findall(r"[a-z]+|\d+", text.lower())]
    if len(words) < 2:
        return {(w, "") for w in words}
    return set(itertools.pairwise(words))


def templated_fraction(texts: Sequence[str], threshold: float = TEMPLATE_SIMILARITY) -> float:
    """Fraction of items whose most similar other item has word-bigram Jaccard ≥ `threshold`
    (lower-cased words, every number replaced by `0`). Measured on at most 500 items, evenly
    spaced over the list."""
    if len(texts) < 2:
        return 0.0
    step = max(1, math.ceil(len(texts) / _SIMILARITY_SAMPLE))
    grams = [_bigrams(t) for t in texts[::step]]
    flagged = 0
    for i, mine in enumerate(grams):
        for j, other in enumerate(grams):
            union = len(mine | other)
            if i != j and union and len(mine & other) / union >= threshold:
                flagged += 1
                break
    return flagged / len(grams)


def check_applicability(
    texts: Sequence[str],
    n_shards: int,
    *,
    shard_token_counts: Sequence[int] | None = None,
    context_window: int | None = None,
    training_shuffled: bool = False,
) -> Applicability:
    """Reasons why the exchangeability test cannot give a meaningful p-value (none: it can)."""
    reasons: list[str] = []
    if training_shuffled:
        reasons.append(
            "the training data is known to be shuffled, so no canonical order reached the model"
        )
    if n_shards < 2:
        reasons.append(f"{n_shards} shard(s): the test needs at least 2")
    elif len(texts) < 2 * n_shards:
        reasons.append(
            f"{len(texts)} items cannot fill {n_shards} shards of at least 2 items each"
        )
    if shard_token_counts is not None and context_window is not None:
        reason = context_window_reason(shard_token_counts, context_window)
        if reason:
            reasons.append(reason)
    fraction = templated_fraction(texts)
    if fraction >= TEMPLATED_FRACTION:
        reasons.append(
            f"{fraction:.0%} of the items have a near-duplicate in the benchmark (word-bigram "
            f"Jaccard >= {TEMPLATE_SIMILARITY}): items instantiated from shared templates are "
            "not exchangeable in the way the test needs"
        )
    return Applicability(not reasons, tuple(reasons))


def context_window_reason(shard_token_counts: Sequence[int], context_window: int) -> str | None:
    """Why shards of these token counts do not fit the context window (None: they fit)."""
    longest = max(shard_token_counts, default=0)
    if longest <= context_window:
        return None
    return (
        f"a shard is {longest} tokens long but the model's context window is "
        f"{context_window} tokens: use more shards or fewer items"
    )


def shard_statistics(shards: Sequence[ShardLogprobs]) -> FloatArray:
    """`d_i = canonical − mean(shuffled)` per shard (nats)."""
    if any(not s.shuffled for s in shards):
        raise StatsInputError("every shard needs at least one shuffled order")
    return np.array([s.canonical - float(np.mean(s.shuffled)) for s in shards], dtype=np.float64)


def sharded_t_test(statistics: Sequence[float] | FloatArray) -> tuple[float, float]:
    """One-sided one-sample t-test of mean(d) > 0 with ddof = 1: `(t, p)`."""
    d = np.asarray(statistics, dtype=np.float64)
    if d.size < 2:
        raise StatsInputError("the t-test needs at least 2 shards")
    sd = float(np.std(d, ddof=1))
    mean = float(np.mean(d))
    if sd == 0.0:
        if mean == 0.0:
            return 0.0, 0.5
        return math.copysign(math.inf, mean), 0.0 if mean > 0 else 1.0
    result = scipy_stats.ttest_1samp(d, 0.0, alternative="greater")
    return float(result.statistic), float(result.pvalue)


def permutation_p_value(
    shards: Sequence[ShardLogprobs],
    *,
    exact_limit: int = 1_000_000,
    n_resamples: int = 100_000,
    seed: int = 0,
) -> tuple[float, str]:
    """The combined rank test described in the module docstring: `(p, "exact" | "monte_carlo")`."""
    if not shards or any(not s.shuffled for s in shards):
        raise StatsInputError("need at least one shard, each with at least one shuffled order")
    centred = []
    for s in shards:
        values = np.array([s.canonical, *s.shuffled], dtype=np.float64)
        centred.append(values - values.mean())
    observed = float(sum(c[0] for c in centred))
    threshold = observed - _TIE_TOLERANCE * max(1.0, abs(observed))
    total = math.prod(c.size for c in centred)
    if total <= exact_limit:
        sums = np.zeros(1)
        for c in centred:
            sums = np.add.outer(sums, c).ravel()
        return float(np.count_nonzero(sums >= threshold) / total), "exact"
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, (1 << 22) // len(centred))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        draws = np.zeros(size)
        for c in centred:
            draws += c[rng.integers(0, c.size, size=size)]
        hits += int(np.count_nonzero(draws >= threshold))
    return (1 + hits) / (1 + n_resamples), "monte_carlo"


@dataclass(frozen=True)
class ExchangeabilityResult:
    """Outcome of the sharded exchangeability test. When `applicable` is False the p-values
    are None and `reasons` says why; the shard log-probs are kept when they were computed."""

    applicable: bool
    reasons: tuple[str, ...]
    n_items: int
    n_shards: int
    n_permutations: int
    separator: str
    shards: tuple[ShardLogprobs, ...] = ()
    shard_tokens: tuple[int, ...] = ()
    mean_statistic: float | None = None
    t_statistic: float | None = None
    t_p_value: float | None = None
    permutation_p_value: float | None = None
    permutation_method: str | None = None


def join_items(
    texts: Sequence[str], order: Sequence[int], separator: str, prefix: str = "", suffix: str = ""
) -> str:
    """`prefix + separator.join(texts[i] for i in order) + suffix`."""
    return prefix + separator.join(texts[i] for i in order) + suffix


def _score_texts(backend: Backend, texts: Sequence[str]) -> list[tuple[float, int]]:
    """(total log-prob, tokens) of each text through the backend."""
    if RequestKind.LOGLIKELIHOOD_ROLLING in backend.capabilities:
        rolling = backend.loglikelihood_rolling([RollingLoglikelihoodRequest(t) for t in texts])
        return [(r.logprob, r.n_tokens) for r in rolling]
    if RequestKind.LOGLIKELIHOOD in backend.capabilities:
        plain = backend.loglikelihood([LoglikelihoodRequest("", t) for t in texts])
        return [(r.logprob, r.n_tokens) for r in plain]
    raise LmauditError(
        f"model {backend.fingerprint.key()} cannot score texts (no loglikelihood requests), "
        "so the exchangeability test cannot run"
    )


def exchangeability_test(
    backend: Backend,
    texts: Sequence[str],
    *,
    n_shards: int = 10,
    n_permutations: int = 30,
    separator: str = DEFAULT_SEPARATOR,
    prefix: str = "",
    suffix: str = "",
    seed: int = 0,
    training_shuffled: bool = False,
    context_window: int | None = None,
    force: bool = False,
) -> ExchangeabilityResult:
    """Run the test on `texts` in canonical order. `context_window` defaults to the
    backend's `max_length` when it has one. With `force`, the test runs despite reasons
    (they stay in the result). Scores r canonical shards first, then r × m shuffles."""
    if n_permutations < 1:
        raise LmauditError(f"--permutations must be at least 1, got {n_permutations}")
    window = context_window if context_window is not None else getattr(backend, "max_length", None)
    early = check_applicability(texts, n_shards, training_shuffled=training_shuffled)
    reasons = list(early.reasons)

    def result(**found: Any) -> ExchangeabilityResult:
        return ExchangeabilityResult(
            not reasons, tuple(reasons), len(texts), n_shards, n_permutations, separator,
            **found,
        )

    if (reasons and not force) or len(texts) < n_shards or n_shards < 1:
        return result()
    bounds = shard_bounds(len(texts), n_shards)
    canonical = _score_texts(
        backend, [join_items(texts, range(a, b), separator, prefix, suffix) for a, b in bounds]
    )
    tokens = tuple(n for _, n in canonical)
    too_long = context_window_reason(tokens, int(window)) if window is not None else None
    if too_long:
        reasons.append(too_long)
    if reasons and not force:
        return result(shard_tokens=tokens)
    rng = np.random.default_rng(seed)
    shuffled_texts = []
    for a, b in bounds:
        for _ in range(n_permutations):
            order = a + rng.permutation(b - a)
            shuffled_texts.append(join_items(texts, order.tolist(), separator, prefix, suffix))
    shuffled = [lp for lp, _ in _score_texts(backend, shuffled_texts)]
    shards = tuple(
        ShardLogprobs(canonical[i][0], tuple(shuffled[i * n_permutations:(i + 1) * n_permutations]))
        for i in range(n_shards)
    )
    d = shard_statistics(shards)
    t_stat, t_p = sharded_t_test(d) if n_shards >= 2 else (None, None)
    perm_p, method = permutation_p_value(shards, seed=seed + 1)
    return result(
        shards=shards, shard_tokens=tokens, mean_statistic=float(np.mean(d)),
        t_statistic=t_stat, t_p_value=t_p, permutation_p_value=perm_p,
        permutation_method=method,
    )
