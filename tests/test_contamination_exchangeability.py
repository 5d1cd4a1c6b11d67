"""Exchangeability test (Oren et al. 2023): statistics on hand examples, applicability, and
the whole procedure on fake backends that do or do not prefer the canonical order."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lmaudit.contamination.exchangeability import (
    ShardLogprobs,
    check_applicability,
    exchangeability_test,
    join_items,
    permutation_p_value,
    shard_bounds,
    shard_statistics,
    sharded_t_test,
    templated_fraction,
)
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)

SEP = "\n\n"
WORDS = [
    "apple", "river", "stone", "cloud", "violin", "garden", "marble", "thunder", "copper",
    "lantern", "pepper", "saddle", "meadow", "harbor", "quartz", "falcon", "velvet", "canyon",
    "ember", "glacier", "orchard", "puzzle", "tundra", "walnut", "cobalt", "dune", "fjord",
    "gravel", "hazel", "iris", "juniper", "kelp", "lagoon", "maple", "nectar", "opal",
    "prairie", "quill", "reef", "sage",
]
# Forty distinct, untemplated "items": three unrelated words each.
ITEMS = [" ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(3)) + f" {i}"
         for i in range(40)]


class FakeOrderBackend:
    """Rolling log-prob of a text of items joined by SEP: minus 10 nats per item, plus
    `bonus` for every adjacent pair that is also adjacent in the canonical order, plus a
    deterministic pseudo-random jitter in [-noise, noise] per text."""

    def __init__(self, canonical: Sequence[str], bonus: float, noise: float, salt: str = "",
                 max_length: int | None = None) -> None:
        self.next_of = dict(itertools.pairwise(canonical))
        self.bonus, self.noise, self.salt = bonus, noise, salt
        self.max_length = max_length
        self.texts: list[str] = []

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.LOGLIKELIHOOD_ROLLING})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "order", "1", "none")

    def _logprob(self, text: str) -> float:
        parts = text.split(SEP)
        pairs = sum(self.next_of.get(a) == b for a, b in itertools.pairwise(parts))
        digest = hashlib.sha256((self.salt + text).encode()).digest()
        jitter = (int.from_bytes(digest[:8], "big") / 2**64 * 2 - 1) * self.noise
        return -10.0 * len(parts) + self.bonus * pairs + jitter

    def loglikelihood_rolling(
        self, requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        self.texts.extend(r.text for r in requests)
        return [RollingLoglikelihoodResult(self._logprob(r.text), 5 * len(r.text.split(SEP)))
                for r in requests]

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[LoglikelihoodResult]:
        raise NotImplementedError

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        raise NotImplementedError


def test_shards_are_contiguous_and_balanced() -> None:
    assert shard_bounds(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert shard_bounds(4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    with pytest.raises(LmauditError):
        shard_bounds(3, 4)
    assert join_items(["a", "b", "c"], [2, 0], "|", "<", ">") == "<c|a>"


def test_t_test_uses_the_sample_standard_deviation() -> None:
    d = [1.0, 2.0, 3.0, 6.0]
    # mean 3; squared deviations 4, 1, 0, 9 -> sd (ddof=1) = sqrt(14/3); t = 3 / (sd / 2)
    t_hand = 3.0 / (math.sqrt(14 / 3) / 2)
    t, p = sharded_t_test(d)
    assert t == pytest.approx(t_hand)
    assert p == pytest.approx(scipy_stats.t.sf(t_hand, df=3))
    assert p == pytest.approx(scipy_stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    t_population_sd = 3.0 / (math.sqrt(14 / 4) / 2)  # what ddof=0 would give
    assert abs(t - t_population_sd) > 0.4
    assert sharded_t_test([0.0, 0.0, 0.0]) == (0.0, 0.5)
    assert sharded_t_test([1.0, 1.0]) == (math.inf, 0.0)


def test_shard_statistic_is_canonical_minus_mean_shuffled() -> None:
    shards = [ShardLogprobs(5.0, (3.0, 1.0)), ShardLogprobs(2.0, (4.0, 0.0))]
    assert shard_statistics(shards).tolist() == [3.0, 0.0]


def test_permutation_p_on_a_hand_enumerated_example() -> None:
    # Shard 1: canonical 5, shuffles 3, 1 -> centred (mean 3): +2, 0, -2.
    # Shard 2: canonical 2, shuffles 4, 0 -> centred (mean 2):  0, +2, -2.
    # Observed T = 2 + 0 = 2. The 9 equally likely (J1, J2) sums:
    #   2+0=2, 2+2=4, 2-2=0, 0+0=0, 0+2=2, 0-2=-2, -2+0=-2, -2+2=0, -2-2=-4
    # Sums >= 2: {2, 4, 2} -> p = 3/9.
    shards = [ShardLogprobs(5.0, (3.0, 1.0)), ShardLogprobs(2.0, (4.0, 0.0))]
    p, method = permutation_p_value(shards)
    assert method == "exact" and p == pytest.approx(3 / 9)
    mc, method = permutation_p_value(shards, exact_limit=0, n_resamples=30_000, seed=2)
    assert method == "monte_carlo" and mc == pytest.approx(1 / 3, abs=0.012)
    # One shard: the rank p-value (1 + #{shuffles >= canonical}) / (m + 1) = (1 + 2) / 4.
    assert permutation_p_value([ShardLogprobs(5.0, (5.0, 6.0, 1.0))])[0] == pytest.approx(3 / 4)
    # The canonical order strictly best in all 3 shards of 4 orders: p = 1 / 4^3.
    best = [ShardLogprobs(1.0, (0.0, -1.0, -2.0))] * 3
    assert permutation_p_value(best)[0] == pytest.approx(1 / 64)


def test_templated_items_are_recognised() -> None:
    templated = [f"Question: {name} reads {n} pages every day. How many pages does {name} "
                 f"read in {n + 3} days?\nAnswer: {n * (n + 3)}"
                 for name, n in zip(["Maya", "Liam", "Ava", "Noah", "Zoe", "Omar"] * 3,
                                    range(2, 20), strict=True)]
    assert templated_fraction(templated) == 1.0
    assert templated_fraction(ITEMS) == 0.0
    reasons = check_applicability(templated, 3).reasons
    assert len(reasons) == 1 and "shared templates" in reasons[0]


def test_applicability_reasons() -> None:
    assert check_applicability(ITEMS, 10).applicable
    assert "shuffled" in check_applicability(ITEMS, 10, training_shuffled=True).reasons[0]
    assert "at least 2" in check_applicability(ITEMS, 1).reasons[0]
    assert "cannot fill" in check_applicability(ITEMS, 30).reasons[0]
    window = check_applicability(ITEMS, 10, shard_token_counts=[100, 300], context_window=256)
    assert not window.applicable and "300 tokens" in window.reasons[0]


def test_a_model_that_memorised_the_order_is_detected() -> None:
    backend = FakeOrderBackend(ITEMS, bonus=1.0, noise=1.0)
    result = exchangeability_test(backend, ITEMS, n_shards=8, n_permutations=20, separator=SEP)
    assert result.applicable and not result.reasons
    assert len(backend.texts) == 8 + 8 * 20
    assert backend.texts[0] == SEP.join(ITEMS[:5])  # the canonical shard, joined as seen
    assert result.mean_statistic is not None and result.mean_statistic > 2.0
    assert result.t_p_value is not None and result.t_p_value < 1e-4
    assert result.permutation_p_value is not None and result.permutation_p_value < 1e-3
    assert result.permutation_method == "monte_carlo"  # 21^8 orders: sampled


def test_an_order_blind_model_gives_no_signal() -> None:
    flat = exchangeability_test(FakeOrderBackend(ITEMS, 0.0, 0.0), ITEMS, n_shards=5,
                                n_permutations=4, separator=SEP)
    assert flat.permutation_p_value == 1.0  # every order ties with the canonical one
    assert flat.t_statistic == 0.0 and flat.t_p_value == 0.5
    # With order-dependent noise but no preference, p-values are roughly uniform.
    p_values = [
        exchangeability_test(FakeOrderBackend(ITEMS, 0.0, 1.0, salt=str(s)), ITEMS,
                             n_shards=5, n_permutations=9, separator=SEP,
                             seed=s).permutation_p_value
        for s in range(40)
    ]
    values = np.array(p_values, dtype=float)
    assert (values < 0.05).mean() <= 0.15
    assert 0.3 < values.mean() < 0.7


def test_inapplicable_runs_report_reasons_instead_of_p_values() -> None:
    backend = FakeOrderBackend(ITEMS, bonus=1.0, noise=0.0, max_length=20)
    result = exchangeability_test(backend, ITEMS, n_shards=4, n_permutations=5, separator=SEP)
    # each shard is 10 items x 5 fake tokens = 50 tokens > the 20-token window
    assert not result.applicable and "context window is 20 tokens" in result.reasons[0]
    assert result.permutation_p_value is None and result.t_p_value is None
    assert len(backend.texts) == 4  # only the canonical shards were scored
    forced = exchangeability_test(backend, ITEMS, n_shards=4, n_permutations=5,
                                  separator=SEP, force=True)
    assert not forced.applicable and forced.permutation_p_value is not None
    shuffled = FakeOrderBackend(ITEMS, 1.0, 0.0)
    skipped = exchangeability_test(shuffled, ITEMS, training_shuffled=True, separator=SEP)
    assert not skipped.applicable and shuffled.texts == []
