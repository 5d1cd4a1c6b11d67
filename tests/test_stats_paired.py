"""Paired differences, exact McNemar, and run comparison on per-sample tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lmaudit.stats import (
    compare_runs,
    mcnemar_exact,
    mean_estimate,
    paired_difference,
    proportion_estimate,
)

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"


def _pairs(b: int, c: int, both_right: int = 0, both_wrong: int = 0) -> tuple[list, list]:
    a = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    bb = [0] * b + [1] * c + [1] * both_right + [0] * both_wrong
    return a, bb


def test_paired_difference_is_b_minus_a_with_paired_t() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=40)
    b = a + 0.3 + rng.normal(0.0, 0.2, size=40)
    est = paired_difference(a, b, confidence=0.9)
    assert est.value == pytest.approx(np.mean(b - a)) and est.value > 0
    ci = scipy_stats.ttest_rel(b, a).confidence_interval(0.9)
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert est.method == "paired-t"
    flipped = paired_difference(b, a)
    assert flipped.value == pytest.approx(-est.value)
    clustered = paired_difference(a, b, clusters=np.repeat(np.arange(8), 5))
    assert clustered.method == "paired-clustered-t" and clustered.n_clusters == 8
    assert clustered.stderr == pytest.approx(
        mean_estimate(b - a, clusters=np.repeat(np.arange(8), 5)).stderr
    )
    with pytest.raises(ValueError, match="paired"):
        paired_difference([1.0, 2.0], [1.0])


def test_mcnemar_worked_example_fagerland() -> None:
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91: airway
    # hyper-responsiveness before/after stem cell transplantation, 21 patients, discordant
    # pairs 1 and 7; the exact conditional McNemar p-value is reported as 0.070.
    # By hand: 2 * P(X <= 1 | X ~ Bin(8, 1/2)) = 2 * (1 + 8) / 256 = 18 / 256 = 0.0703125.
    a, b = _pairs(b=1, c=7, both_right=1, both_wrong=12)
    result = mcnemar_exact(a, b)
    assert (result.b, result.c, result.n) == (1, 7, 21)
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(18 / 256, rel=1e-12)
    assert round(result.p_value, 3) == 0.070


@pytest.mark.parametrize(("b", "c"), [(0, 1), (3, 9), (12, 4), (30, 30), (150, 86), (1, 40)])
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    a_correct, b_correct = _pairs(b, c, both_right=5, both_wrong=3)
    result = mcnemar_exact(a_correct, b_correct)
    expected = scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-10)
    assert (result.b, result.c) == (b, c)


def test_mcnemar_degenerate_and_invalid() -> None:
    same = mcnemar_exact([1, 0, 1], [1, 0, 1])
    assert (same.b, same.c, same.p_value) == (0, 0, 1.0)
    assert mcnemar_exact(*_pairs(5, 5)).p_value == 1.0
    with pytest.raises(ValueError, match="only 0 or 1"):
        mcnemar_exact([1, 0.5], [1, 0])


def _run(ids: list[str], values: list[float], clusters: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"sample_id": ids, "correct": values})
    if clusters is not None:
        frame["cluster"] = clusters
    return frame


def test_compare_runs_binary_join_and_counts() -> None:
    df_a = _run(["s1", "s2", "s3", "s4", "s5", "a_only"], [1, 0, 1, 1, 0, 1])
    df_b = _run(["s5", "s4", "s3", "s2", "s1", "b1", "b2"], [1, 1, 0, 1, 1, 0, 0])
    comparison = compare_runs(df_a, df_b, "correct")
    assert (comparison.n_shared, comparison.n_only_a, comparison.n_only_b) == (5, 1, 2)
    # shared, aligned by id: A = [1, 0, 1, 1, 0], B = [1, 1, 0, 1, 1]
    assert comparison.mean_a == proportion_estimate([1, 0, 1, 1, 0])
    assert comparison.mean_b == proportion_estimate([1, 1, 0, 1, 1])
    assert comparison.difference.value == pytest.approx(0.2)
    assert comparison.mcnemar is not None
    assert (comparison.mcnemar.b, comparison.mcnemar.c) == (1, 2)
    assert comparison.to_dict()["mcnemar"]["p_value"] == pytest.approx(1.0)
    # row order does not matter
    shuffled = compare_runs(df_a.iloc[::-1], df_b.sample(frac=1.0, random_state=0), "correct")
    assert shuffled == comparison


def test_compare_runs_continuous_nan_and_clusters() -> None:
    ids = [f"q{i}" for i in range(8)]
    clusters = ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"]
    a = [0.2, 0.4, 0.1, 0.9, 0.5, 0.5, 0.3, float("nan")]
    b = [0.3, 0.6, 0.2, 0.8, 0.7, 0.9, 0.3, 0.1]
    comparison = compare_runs(_run(ids, a, clusters), _run(ids, b, clusters), "correct")
    assert comparison.mcnemar is None
    assert comparison.n_shared == 7 and comparison.n_missing == 1
    assert comparison.mean_a.method == "clustered-t" and comparison.mean_a.n_clusters == 4
    diffs = np.array(b[:7]) - np.array(a[:7])
    expected = mean_estimate(diffs, clusters=clusters[:7])
    assert comparison.difference.value == pytest.approx(expected.value)
    assert comparison.difference.stderr == pytest.approx(expected.stderr)
    no_clusters = compare_runs(_run(ids, a, clusters), _run(ids, b), "correct", cluster_col=None)
    assert no_clusters.difference.method == "paired-t"


def test_compare_runs_rejects_bad_tables() -> None:
    good = _run(["x", "y"], [1, 0])
    with pytest.raises(ValueError, match="appears more than once"):
        compare_runs(_run(["x", "x"], [1, 0]), good, "correct")
    with pytest.raises(ValueError, match="no column 'score'"):
        compare_runs(good, good, "score")
    with pytest.raises(ValueError, match="disagree on the cluster"):
        compare_runs(
            _run(["x", "y"], [1, 0], ["c1", "c2"]),
            _run(["x", "y"], [1, 1], ["c1", "c9"]),
            "correct",
        )
    with pytest.raises(ValueError, match="share no sample"):
        compare_runs(_run(["x"], [1]), _run(["y"], [1]), "correct")


def test_compare_runs_on_gsm8k_model_solutions() -> None:
    """Cobbe et al. (2021): a 6B verifier slightly outperforms a fine-tuned 175B model."""
    path = EXTERNAL / "gsm8k" / "example_model_solutions.jsonl"
    if not path.exists():
        pytest.skip(f"external data absent: {path} (see ../shared/external/SOURCES.md)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def run(key: str) -> pd.DataFrame:
        ids = [str(i) for i in range(len(rows))]
        return _run(ids, [float(r[key]["is_correct"]) for r in rows])

    finetuned_175b, verifier_6b = run("175b_finetuning"), run("6b_verification")
    comparison = compare_runs(finetuned_175b, verifier_6b, "correct")
    n = len(rows)
    assert comparison.n_shared == n == 1319
    acc_a = finetuned_175b["correct"].mean()
    acc_b = verifier_6b["correct"].mean()
    assert comparison.mean_a.value == pytest.approx(acc_a)
    assert comparison.mean_b.value == pytest.approx(acc_b)
    mc = comparison.mcnemar
    assert mc is not None
    # discordant counts explain the accuracy gap exactly: (c - b) / n = acc_B - acc_A
    assert (mc.c - mc.b) / n == pytest.approx(acc_b - acc_a)
    assert acc_b > acc_a and mc.p_value < 0.05
    assert comparison.difference.ci_low > 0.0
    assert not math.isnan(comparison.difference.stderr or math.nan)
