"""Paired probe analysis against hand-computed values."""

from __future__ import annotations

import math

import pytest

from lmaudit.probes.analysis import ProbeRow, analyse_probe


def _rows(original: dict[str, tuple[str, float]], variants: dict[str, list[float]],
          family: str = "symbolic") -> list[ProbeRow]:
    rows = [ProbeRow(i, "original", 0, c, v) for i, (c, v) in original.items()]
    for item, scores in variants.items():
        cluster = original[item][0]
        rows += [ProbeRow(item, family, k, cluster, s) for k, s in enumerate(scores)]
    return rows


def test_small_example_by_hand() -> None:
    # items a, b in template t1; c, d in t2. original: 1 1 1 0
    # symbolic sets: a [0,0], b [1,0], c [1,1], d [0,1] → item means 0, .5, 1, .5
    rows = _rows(
        {"a": ("t1", 1), "b": ("t1", 1), "c": ("t2", 1), "d": ("t2", 0)},
        {"a": [0, 0], "b": [1, 0], "c": [1, 1], "d": [0, 1]},
    )
    result = analyse_probe(rows)
    fam = result.families["symbolic"]
    assert result.original.value == pytest.approx(0.75)
    assert fam.variant.value == pytest.approx(0.5)  # 4 of 8 variant samples
    # differences -1, -.5, 0, .5: mean -.25; residual sums per template -1 and +1;
    # CR1 se = sqrt((1 + 1) * 2 / 1) / 4 = 0.5; t(0.975, 1 dof) = 12.7062
    assert fam.drop.value == pytest.approx(-0.25)
    assert fam.drop.stderr == pytest.approx(0.5)
    assert fam.drop.ci_low == pytest.approx(-0.25 - 12.7062 * 0.5, abs=1e-3)
    assert fam.drop.ci_high == pytest.approx(-0.25 + 12.7062 * 0.5, abs=1e-3)
    assert not fam.significant
    # McNemar uses set 0: original 1 1 1 0 vs 0 1 1 0 → b = 1, c = 0, p = min(1, 2 * .5) = 1
    assert (fam.mcnemar.b, fam.mcnemar.c, fam.mcnemar.p_value) == (1, 0, 1.0)
    # per-set accuracy: set 0 = 2/4, set 1 = 2/4
    assert fam.sets.per_set == (0.5, 0.5)
    assert (fam.sets.mean, fam.sets.sd, fam.sets.minimum, fam.sets.maximum) == (.5, 0, .5, .5)
    assert fam.consistency == pytest.approx(0.25)  # only c is right everywhere
    assert result.consistency == pytest.approx(0.25)
    assert result.verdict.startswith("symbolic: no significant drop (-25.0 points)")


def test_memorized_items_give_a_significant_drop() -> None:
    # 40 items in 8 templates; all right on the original; on fresh instances only the
    # items with index % 4 == 0 are right in every set (10 of 40).
    original = {f"i{k}": (f"t{k % 8}", 1.0) for k in range(40)}
    variants = {f"i{k}": [1.0 if k % 4 == 0 else 0.0] * 3 for k in range(40)}
    result = analyse_probe(_rows(original, variants))
    fam = result.families["symbolic"]
    assert fam.drop.value == pytest.approx(-0.75)
    assert fam.significant and fam.drop.ci_high < 0
    # 30 discordant pairs, all one way: p = 2 * 0.5**30
    assert fam.mcnemar.p_value == pytest.approx(2 * 0.5**30)
    assert fam.sets.per_set == (0.25, 0.25, 0.25)
    assert result.verdict.startswith("symbolic: significant drop of 75.0 points (95% CI [")
    assert "McNemar p = 1.9e-09" in result.verdict


def test_circular_permutation_and_position_bias() -> None:
    # one 4-option item, original (target at position 2) right; rotations 1, 2 right, 3 wrong
    rows = [
        ProbeRow("q", "original", 0, "q", 1.0, predicted_position=2, target_position=2),
        ProbeRow("q", "permute", 1, "q", 1.0, predicted_position=1, target_position=1),
        ProbeRow("q", "permute", 2, "q", 1.0, predicted_position=0, target_position=0),
        ProbeRow("q", "permute", 3, "q", 0.0, predicted_position=0, target_position=3),
        ProbeRow("r", "original", 0, "r", 1.0, predicted_position=0, target_position=0),
        ProbeRow("r", "permute", 1, "r", 1.0, predicted_position=3, target_position=3),
        ProbeRow("r", "permute", 2, "r", 1.0, predicted_position=2, target_position=2),
        ProbeRow("r", "permute", 3, "r", 1.0, predicted_position=1, target_position=1),
    ]
    fam = analyse_probe(rows).families["permute"]
    assert fam.variant.value == pytest.approx(0.5)  # circular: r only
    assert fam.drop.value == pytest.approx(-0.5)
    assert fam.mean_rotation_accuracy == pytest.approx((0.75 + 1.0) / 2)
    assert fam.position_bias is not None
    # picks: position 0 three times, 1 twice, 2 twice, 3 once, out of 8
    assert fam.position_bias["pick_rate_by_position"] == [0.375, 0.25, 0.25, 0.125]
    assert fam.position_bias["accuracy_by_target_position"] == [1.0, 1.0, 1.0, 0.5]
    assert (fam.mcnemar.b, fam.mcnemar.c) == (1, 0)


def test_single_set_family_has_no_sd_and_to_dict_is_json_safe() -> None:
    import json

    rows = _rows({"a": ("t", 1), "b": ("u", 0)}, {"a": [1], "b": [1]}, family="noop")
    result = analyse_probe(rows)
    fam = result.families["noop"]
    assert math.isnan(fam.sets.sd)
    assert fam.drop.value == pytest.approx(0.5)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["families"]["noop"]["instance_sets"]["sd"] is None
    assert payload["primary_family"] == "noop"


def test_requires_originals() -> None:
    with pytest.raises(ValueError, match="original"):
        analyse_probe([ProbeRow("a", "noop", 0, "t", 1.0)])
