"""The change matrix of before/after audits: known values on constructed runs (McNemar,
paired t, Holm across the matrix, oriented gains, role means, trade-off points), and the
report sections built from them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lmaudit.report.change import model_change
from lmaudit.report.change_html import change_section, tradeoff_plot
from lmaudit.report.change_model import ModelChange
from lmaudit.report.change_text import change_text
from lmaudit.report.comparison import RunForComparison
from lmaudit.stats import Estimate, ratio_estimate
from lmaudit.stats.change import (
    mean_of_independent,
    normal_p_value,
    oriented,
    paired_ratio_difference,
)
from lmaudit.stats.multiple import holm_adjust


def _run(model: str, task: str, values: list[float], metric: str = "acc") -> RunForComparison:
    frame = pd.DataFrame({"sample_id": [f"{task}-{i}" for i in range(len(values))],
                          metric: values})
    return RunForComparison(model, task, frame, (metric,), metric)


N = 40
BASE_SKILL = [0.0] * 30 + [1.0] * 10          # 25%
TUNED_SKILL = [1.0] * 20 + [0.0] * 10 + [1.0] * 10  # 20 wrong -> right: 75%
BASE_GENERAL = [1.0] * 30 + [0.0] * 10         # 75%
TUNED_GENERAL = [0.0] * 6 + [1.0] * 24 + [0.0] * 10   # 6 right -> wrong: 60%
LOSS_BASE = [2.0, 3.0, 4.0, 5.0, 6.0]
LOSS_TUNED = [1.0, 1.0, 3.0, 2.0, 5.5]         # lower is better


def _matrix() -> ModelChange:
    runs = [
        _run("base", "skill", BASE_SKILL), _run("tuned", "skill", TUNED_SKILL),
        _run("base", "general", BASE_GENERAL), _run("tuned", "general", TUNED_GENERAL),
        _run("base", "loss", LOSS_BASE, "nll"), _run("tuned", "loss", LOSS_TUNED, "nll"),
    ]
    return model_change(runs, "base", {"skill": "target", "loss": "format"},
                        {"loss": False})


def test_cells_hold_mcnemar_and_paired_t_with_holm_over_the_matrix() -> None:
    change = _matrix()
    assert change.models == ("tuned",) and change.tasks == ("skill", "general", "loss")
    skill, general, loss = (change.cell("tuned", t) for t in change.tasks)
    assert skill.role == "target" and general.role == "general" and loss.role == "format"
    # skill: 20 discordant pairs, all wrong -> right: p = 2 * 0.5**20
    assert skill.test == "McNemar exact"
    assert skill.difference.value == pytest.approx(0.5)
    assert skill.p_value == pytest.approx(2 * 0.5 ** 20)
    # general: 6 discordant, all right -> wrong: p = 2 * 0.5**6
    assert general.difference.value == pytest.approx(-6 / 40)
    assert general.p_value == pytest.approx(2 * 0.5 ** 6)
    # loss: paired t on the differences, as scipy's ttest_rel
    reference = scipy_stats.ttest_rel(LOSS_TUNED, LOSS_BASE)
    assert loss.test == "paired t"
    assert loss.difference.value == pytest.approx(np.mean(np.subtract(LOSS_TUNED, LOSS_BASE)))
    assert loss.p_value == pytest.approx(reference.pvalue)
    assert loss.gain.value == pytest.approx(-loss.difference.value)  # lower is better
    # Holm over the three cells, by hand: sorted p times (3, 2, 1), running max
    ps = sorted([skill.p_value, general.p_value, loss.p_value])
    by_hand = np.maximum.accumulate([min(1, (3 - i) * p) for i, p in enumerate(ps)])
    got = sorted([skill.p_holm, general.p_holm, loss.p_holm])
    assert got == pytest.approx(list(by_hand))
    assert [c.p_holm for c in change.cells] == pytest.approx(
        holm_adjust([c.p_value for c in change.cells]))
    assert change.n_tests == 3


def test_role_means_and_the_tradeoff_point_combine_independent_tasks() -> None:
    change = _matrix()
    _, general, loss = (change.cell("tuned", t) for t in change.tasks)
    point = change.tradeoffs[0]
    assert point.model == "tuned" and point.target_tasks == ("skill",)
    assert point.other_tasks == ("general", "loss")
    assert point.target_gain.value == pytest.approx(0.5)
    expected = (general.gain.value + loss.gain.value) / 2
    assert point.elsewhere_gain.value == pytest.approx(expected)
    se = math.sqrt(general.gain.stderr ** 2 + loss.gain.stderr ** 2) / 2
    assert point.elsewhere_gain.stderr == pytest.approx(se)
    assert point.elsewhere_gain.ci_high - point.elsewhere_gain.value == pytest.approx(
        1.959963984540054 * se)
    roles = {(r.model, r.role): r for r in change.role_changes}
    assert roles[("tuned", "general")].gain.value == pytest.approx(-0.15)
    assert set(roles) == {("tuned", "target"), ("tuned", "general"), ("tuned", "format")}
    # "elsewhere" averages accuracy points with nll units: the matrix says so
    assert any("average shares (skill, general) with other units (loss)" in n
               for n in change.notes)
    assert not any("other units" in n for n in _share_only_matrix().notes)


def _share_only_matrix() -> ModelChange:
    runs = [_run("base", "skill", BASE_SKILL), _run("tuned", "skill", TUNED_SKILL),
            _run("base", "general", BASE_GENERAL), _run("tuned", "general", TUNED_GENERAL)]
    return model_change(runs, "base", {"skill": "target"}, {})


def test_mean_of_independent_and_orientation_known_values() -> None:
    a = Estimate(0.1, 0.0, 0.2, 100, "t", 0.03)
    b = Estimate(-0.3, -0.4, -0.2, 50, "t", 0.04)
    mean = mean_of_independent([a, b])
    assert mean.value == pytest.approx(-0.1) and mean.stderr == pytest.approx(0.025)
    assert mean.n == 150 and mean.method == "mean-of-independent"
    assert (mean.ci_low, mean.ci_high) == pytest.approx((-0.1 - 1.959964 * 0.025,
                                                         -0.1 + 1.959964 * 0.025))
    flipped = oriented(b, higher_is_better=False)
    assert (flipped.value, flipped.ci_low, flipped.ci_high) == (0.3, 0.2, 0.4)
    assert oriented(a, True) is a


def test_missing_runs_and_no_target_are_noted_not_fatal() -> None:
    runs = [_run("base", "skill", BASE_SKILL), _run("t1", "skill", TUNED_SKILL),
            _run("t2", "general", TUNED_GENERAL)]
    change = model_change(runs, "base", {}, {}, models=["base", "t1", "t2"])
    assert change.models == ("t1", "t2")
    assert [(c.model, c.task) for c in change.cells] == [("t1", "skill")]
    notes = " | ".join(change.notes)
    assert "skill · t2: no finished run" in notes
    assert "general: no finished run of the baseline base" in notes
    assert "no task has the role target" in notes and change.tradeoffs == ()


def test_renderers_show_the_matrix_and_the_plot() -> None:
    change = _matrix()
    text = change_text(change)
    assert "model change vs baseline base: 3 paired tests" in text
    assert "+50.0 [" in text and "-15.0 [" in text
    assert "learning vs forgetting · tuned: target +0.5000 [" in text  # mixed units
    html = change_section(change)
    assert html.startswith('<section id="change"><h2>Model change</h2>')
    assert "<svg" in html and "gain on the target task (metric units)" in html
    assert change_section(None) == ""
    hostile = change.tradeoffs[0].__class__("<script>x</script>", change.tradeoffs[0].target_gain,
                                            change.tradeoffs[0].elsewhere_gain, (), ())
    assert "<script>x" not in tradeoff_plot([hostile])


def _ppl_run(model: str, nll: np.ndarray, n_bytes: np.ndarray) -> RunForComparison:
    frame = pd.DataFrame({"sample_id": [f"doc-{i}" for i in range(len(nll))], "nll": nll,
                          "n_bytes": n_bytes})
    return RunForComparison(model, "wiki", frame, ("bits_per_byte",), "bits_per_byte")


def test_ratio_metric_difference_is_a_paired_bootstrap_of_ratios_of_sums() -> None:
    rng = np.random.default_rng(1)
    n_bytes = rng.integers(200, 2000, 60).astype(float)
    hardness = rng.uniform(0.5, 3.0, 60)  # documents differ a lot in difficulty...
    nll_a = hardness * n_bytes
    nll_b = 0.95 * nll_a * rng.uniform(0.98, 1.02, 60)  # ...B is 5% better on each
    d = paired_ratio_difference(nll_a, n_bytes, nll_b, n_bytes, "bits")
    expected = (nll_b.sum() / n_bytes.sum() - nll_a.sum() / n_bytes.sum()) / math.log(2)
    assert d.value == pytest.approx(expected)
    assert d.ci_low <= d.value <= d.ci_high < 0 and d.method == "paired-bootstrap-percentile"
    # pairing: far narrower than the two runs' own intervals side by side
    a, b = ratio_estimate(nll_a, n_bytes, "bits"), ratio_estimate(nll_b, n_bytes, "bits")
    assert d.ci_high - d.ci_low < 0.25 * ((a.ci_high - a.ci_low) + (b.ci_high - b.ci_low))
    clustered = paired_ratio_difference(nll_a, n_bytes, nll_b, n_bytes, "bits",
                                        clusters=np.arange(60) // 3)
    assert clustered.value == pytest.approx(expected) and clustered.n_clusters == 20
    assert normal_p_value(d.value, d.stderr) < 1e-6 and normal_p_value(0.0, 0.0) == 1.0


def test_perplexity_tasks_enter_the_matrix_with_lower_is_better() -> None:
    rng = np.random.default_rng(2)
    n_bytes = rng.integers(100, 500, 30).astype(float)
    nll = rng.uniform(1.0, 2.0, 30) * n_bytes
    runs = [_ppl_run("base", nll, n_bytes), _ppl_run("tuned", nll * 1.1, n_bytes)]
    change = model_change(runs, "base", {}, {"wiki": False})
    cell = change.cell("tuned", "wiki")
    assert cell.test == "paired bootstrap" and cell.n_shared == 30
    assert cell.difference.value == pytest.approx(0.1 * nll.sum() / n_bytes.sum() / math.log(2))
    assert cell.gain.value == pytest.approx(-cell.difference.value)  # worse: forgetting
    assert cell.baseline_mean.value == pytest.approx(nll.sum() / n_bytes.sum() / math.log(2))
    assert cell.significant


def test_plot_ticks_are_round_numbers() -> None:
    from lmaudit.report.change_html import nice_ticks

    assert nice_ticks(-16.0, 78.9) == [0.0, 20.0, 40.0, 60.0]
    assert nice_ticks(-104.0, 9.49) == [-100.0, -80.0, -60.0, -40.0, -20.0, 0.0]
    assert nice_ticks(-0.3, 0.2) == [-0.2, -0.1, 0.0, 0.1, 0.2]
    assert nice_ticks(1.0, 1.0) == []


def test_clustered_binary_cell_uses_the_clustered_t_not_mcnemar() -> None:
    # 40 items in 4 clusters of 10; the tuned model gets all of cluster 0 right, nothing
    # else changes. McNemar (pairs taken as independent) would give p = 2 * 0.5**10; the
    # items share clusters, so the cell is the clustered paired t: differences 1 on 10
    # items, mean 0.25, CR1 stderr sqrt(4/3 * (10 * 0.75**2 ... per cluster) / 40**2)
    # = sqrt(4/3 * (7.5**2 + 3 * 2.5**2) / 1600) = 0.25, so t = 1 on G - 1 = 3 dof.
    clusters = [f"c{i // 10}" for i in range(40)]
    base = _run("base", "skill", [0.0] * 40).frame.assign(cluster=clusters)
    tuned = _run("tuned", "skill", [1.0] * 10 + [0.0] * 30).frame.assign(cluster=clusters)
    change = model_change([RunForComparison("base", "skill", base, ("acc",), "acc"),
                           RunForComparison("tuned", "skill", tuned, ("acc",), "acc")],
                          "base", {}, {})
    cell = change.cell("tuned", "skill")
    assert cell is not None and cell.test == "paired t"
    assert cell.difference.n_clusters == 4
    assert cell.difference.stderr == pytest.approx(0.25)
    assert cell.p_value == pytest.approx(2 * scipy_stats.t.sf(1.0, 3))
    assert cell.p_value > 0.3 and not cell.significant
