"""Membership scores (loss, zlib, Min-K%, Min-K%++, reference ratio) on hand-computed values."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lmaudit.contamination.membership import (
    auroc,
    compare_scores,
    k_count,
    loss_score,
    min_k_plus_plus_score,
    min_k_score,
    reference_ratio_score,
    score_item,
    score_items,
    zlib_score,
)
from lmaudit.core.types import LmauditError

LOGPROBS = [-0.1, -2.0, -0.5, -3.0, -0.2, -1.0, -0.05, -4.0, -0.3, -0.7]


def test_loss_is_mean_token_logprob() -> None:
    assert loss_score(LOGPROBS) == pytest.approx(-11.85 / 10)


def test_k_count_floors_with_at_least_one_token() -> None:
    assert k_count(10, 0.2) == 2
    assert k_count(7, 0.2) == 1  # floor(1.4)
    assert k_count(5, 0.1) == 1  # floor(0.5) = 0 -> at least one token
    assert k_count(3, 1.0) == 3
    assert k_count(100, 0.29) == 29  # 0.29 * 100 = 28.999999999999996 in floating point
    with pytest.raises(LmauditError):
        k_count(10, 0.0)
    with pytest.raises(LmauditError):
        k_count(10, 1.5)


def test_min_k_on_a_hand_computed_array() -> None:
    # sorted: -4.0, -3.0, -2.0, -1.0, -0.7, ...
    assert min_k_score(LOGPROBS, k=0.2) == pytest.approx((-4.0 - 3.0) / 2)
    assert min_k_score(LOGPROBS, k=0.3) == pytest.approx((-4.0 - 3.0 - 2.0) / 3)
    assert min_k_score(LOGPROBS[:7], k=0.2) == pytest.approx(-3.0)  # one token of 7
    assert min_k_score(LOGPROBS, k=1.0) == pytest.approx(loss_score(LOGPROBS))


def test_zlib_against_a_hand_computation() -> None:
    # zlib.compress(b"abc") is 11 bytes: 2 header + 5 deflate + 4 Adler-32.
    assert len(zlib.compress(b"abc")) == 11
    assert zlib_score("abc", [-1.0, -2.0, -3.0]) == pytest.approx(-6.0 / 11)
    # UTF-8 bytes are compressed: "é" is 2 bytes, compressed to 10.
    assert zlib_score("é", [-2.0]) == pytest.approx(-2.0 / len(zlib.compress("é".encode())))


def _mean_and_variance(probabilities: list[float]) -> tuple[float, float]:
    p = np.array(probabilities)
    logp = np.log(p)
    mean = float(np.sum(p * logp))
    return mean, float(np.sum(p * (logp - mean) ** 2))


def test_min_k_plus_plus_on_hand_built_distributions() -> None:
    # Three positions; the observed token is index 0, 1, 2. For a distribution taking two
    # log-prob values, a token whose probability value carries mass q_other elsewhere has
    # z = ±sqrt(q/(1-q)) (derivation: mu = q a + (1-q) b, sigma = |a-b| sqrt(q(1-q))):
    # [0.5, .25, .25] token 0 -> z = +1, token 1 -> z = -1; [0.8, .1, .1] token 2 -> z = -2.
    dists = [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1]]
    observed = [0, 1, 2]
    logprobs = [math.log(d[t]) for d, t in zip(dists, observed, strict=True)]
    stats = [_mean_and_variance(d) for d in dists]
    means = [m for m, _ in stats]
    variances = [v for _, v in stats]
    assert means[0] == pytest.approx(-1.5 * math.log(2))
    assert variances[0] == pytest.approx(0.25 * math.log(2) ** 2)
    # k = 0.2 of 3 tokens -> 1 token: the lowest z = -2.
    assert min_k_plus_plus_score(logprobs, means, variances, k=0.2) == pytest.approx(-2.0)
    # k = 0.7 -> floor(2.1) = 2 tokens: (-1 + -2) / 2.
    assert min_k_plus_plus_score(logprobs, means, variances, k=0.7) == pytest.approx(-1.5)
    assert min_k_plus_plus_score(logprobs, means, variances, k=1.0) == pytest.approx(-2 / 3)


def test_min_k_plus_plus_one_hot_distribution_is_finite_and_shapes_are_checked() -> None:
    assert min_k_plus_plus_score([0.0], [0.0], [0.0]) == 0.0
    with pytest.raises(LmauditError, match="one value per token"):
        min_k_plus_plus_score([-1.0, -2.0], [-1.0], [1.0, 1.0])
    with pytest.raises(LmauditError, match="non-negative"):
        min_k_plus_plus_score([-1.0], [-1.0], [-0.5])


def test_reference_ratio_is_the_difference_of_summed_logprobs() -> None:
    # different token counts (different tokenizers) are fine: whole-text sums
    assert reference_ratio_score([-1.0, -2.0], [-1.5, -1.5, -1.0]) == pytest.approx(1.0)


def test_every_score_is_higher_for_the_better_predicted_item() -> None:
    seen = [-0.1, -0.2, -0.05, -0.3]
    unseen = [-1.1, -2.2, -0.5, -3.3]
    flat = [-1.0, -1.0, -1.0, -1.0]
    a = score_item("a", "some text", seen, means=flat, variances=[1.0] * 4,
                   reference_logprobs=flat)
    b = score_item("b", "some text", unseen, means=flat, variances=[1.0] * 4,
                   reference_logprobs=flat)
    for name in ("loss", "zlib", "min_k", "min_k_plus_plus", "reference_ratio"):
        assert a.get(name) is not None and b.get(name) is not None
        assert a.get(name) > b.get(name), name  # type: ignore[operator]
    with pytest.raises(KeyError):
        a.get("perplexity")


def test_score_items_optional_inputs_and_lengths() -> None:
    scores = score_items(["x", "y"], ["t1", "t2"], [[-1.0], [-2.0, -3.0]])
    assert [s.min_k_plus_plus for s in scores] == [None, None]
    assert [s.reference_ratio for s in scores] == [None, None]
    assert scores[1].min_k == -3.0
    with pytest.raises(LmauditError, match="texts has 1 entries for 2 items"):
        score_items(["x", "y"], ["t1"], [[-1.0], [-2.0]])
    with pytest.raises(LmauditError, match="non-empty"):
        loss_score([])


def test_auroc_counts_ties_as_half() -> None:
    # pairs (pos, neg): 3>0, 3>2, 1>0, 1<2, 2>0, 2=2 -> (1+1+1+0+1+0.5)/6
    assert auroc([3.0, 1.0, 2.0], [0.0, 2.0]) == pytest.approx(4.5 / 6)
    assert auroc([1.0], [1.0]) == 0.5


def test_compare_scores_matches_scipy_and_brackets_the_auroc() -> None:
    rng = np.random.default_rng(5)
    test = rng.normal(0.4, 1.0, size=80)
    ref = rng.normal(0.0, 1.0, size=70)
    result = compare_scores(test, ref, name="min_k", n_boot=1000, seed=3)
    expected = scipy_stats.mannwhitneyu(test, ref, alternative="greater")
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.auroc == pytest.approx(expected.statistic / (80 * 70))
    assert result.ci_low < result.auroc < result.ci_high
    assert 0.5 < result.auroc < 0.8
    assert result == compare_scores(test, ref, name="min_k", n_boot=1000, seed=3)
    separated = compare_scores([5.0, 6.0, 7.0, 8.0] * 5, [0.0, 1.0] * 10, name="loss",
                               n_boot=200)
    assert separated.auroc == 1.0 and separated.ci_low == 1.0 and separated.p_value < 1e-6
