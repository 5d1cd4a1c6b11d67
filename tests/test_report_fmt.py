"""Share formatting: a proportion prints as a percentage whatever its interval method."""

from __future__ import annotations

import numpy as np

from lmaudit.report import fmt
from lmaudit.report.evidence import estimate_from_dict
from lmaudit.stats.intervals import mean_estimate, proportion_estimate

# Refusals of 40 prompts in 8 categories (as XSTest/HarmBench clustered by category):
# 0..5 refusals of 5 per category, 20 of 40 overall.
REFUSED = np.array([1] * 5 + [1] * 4 + [0] + [1] * 3 + [0] * 2 + [1] * 2 + [0] * 3
                   + [1] * 3 + [0] * 2 + [1] * 2 + [0] * 3 + [1] + [0] * 4 + [0] * 5, float)
CATEGORY = np.repeat([f"c{g}" for g in range(8)], 5)


def test_clustered_proportion_is_a_share() -> None:
    estimate = proportion_estimate(REFUSED, clusters=CATEGORY)
    assert estimate.method == "clustered-t" and estimate.n_clusters == 8
    assert estimate.value == 0.5 and estimate.proportion
    assert fmt.is_share("refusal_rate", estimate)
    assert fmt.number(estimate.value, fmt.is_share("refusal_rate", estimate)) == "50.0%"
    stored = estimate_from_dict(estimate.to_dict())  # results.json round trip
    assert stored.proportion and fmt.is_share("refusal_rate", stored)


def test_unclustered_proportion_and_bounded_mean() -> None:
    wilson = proportion_estimate(REFUSED)
    assert wilson.method == "wilson" and fmt.is_share("refusal_rate", wilson)
    # The same scores as a bounded mean (not a proportion) keep four decimals.
    mean = mean_estimate(REFUSED, clusters=CATEGORY, bounds=(0.0, 1.0))
    assert mean.method == "clustered-t" and not mean.proportion
    assert not fmt.is_share("stated_confidence", mean)
    assert "proportion" not in mean.to_dict()
    assert fmt.number(mean.value, fmt.is_share("stated_confidence", mean)) == "0.5000"
