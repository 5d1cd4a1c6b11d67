"""Bradley-Terry with a first-shown (position) term: closed-form and simulated known values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from lmaudit.arena.battles import Battles, battles_from_frame
from lmaudit.arena.position_bt import fit_position_bt
from lmaudit.arena.ranking import RankOptions, rank_battles
from lmaudit.cli import main
from lmaudit.core.types import LmauditError


def _battles(rows: list[tuple[str, str, str, float]]) -> Battles:
    frame = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "count"])
    return battles_from_frame(frame, source="<test>", locations=[str(i) for i in range(len(rows))])


def test_two_models_closed_form() -> None:
    """x first wins 80 of 100, y first wins 40 of 100: logit(.8) = d + h, logit(.4) = -d + h."""
    battles = _battles(
        [
            ("x", "y", "model_a", 80),
            ("x", "y", "model_b", 20),
            ("y", "x", "model_a", 40),
            ("y", "x", "model_b", 60),
        ]
    )
    term = fit_position_bt(battles)
    h = (logit(0.8) + logit(0.4)) / 2
    assert term.converged
    assert term.value == pytest.approx(h, abs=1e-8)
    # saturated model, no ties: var(h) = (1/(n p1 q1) + 1/(n p2 q2)) / 4
    se = math.sqrt((1 / (100 * 0.8 * 0.2) + 1 / (100 * 0.4 * 0.6)) / 4)
    assert term.stderr == pytest.approx(se, rel=1e-6)
    assert term.ci_low == pytest.approx(h - 1.959964 * se, abs=1e-5)
    assert term.first_win_probability == pytest.approx(float(expit(h)))
    d = (logit(0.8) - logit(0.4)) / 2
    assert term.ratings[0] - term.ratings[1] == pytest.approx(d * 400 / math.log(10), abs=1e-5)


def test_simulated_known_advantage_is_recovered() -> None:
    rng = np.random.default_rng(7)
    theta = np.array([0.0, 0.5, -0.4, 1.0])
    h = 0.6
    a = rng.integers(0, 4, 20000)
    b = (a + rng.integers(1, 4, 20000)) % 4
    wins = rng.random(20000) < expit(theta[a] - theta[b] + h)
    names = np.array(["m0", "m1", "m2", "m3"])
    frame = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.where(wins, "model_a", "model_b"),
        }
    )
    battles = battles_from_frame(frame, source="<sim>", locations=[str(i) for i in range(20000)])
    term = fit_position_bt(battles)
    assert term.ci_low < h < term.ci_high
    assert term.ci_high - term.ci_low < 0.2
    report = rank_battles(battles, RankOptions(intervals="none", position_term=True))
    assert report.position is not None and report.position.value == pytest.approx(term.value)


def test_no_position_effect_when_orders_balance() -> None:
    battles = _battles(
        [
            ("x", "y", "model_a", 30),
            ("x", "y", "model_b", 10),
            ("y", "x", "model_a", 10),
            ("y", "x", "model_b", 30),
            ("x", "y", "tie", 4),
            ("y", "x", "tie", 4),
        ]
    )
    term = fit_position_bt(battles)
    assert term.value == pytest.approx(0.0, abs=1e-9)
    assert term.ci_low < 0 < term.ci_high


def test_first_always_wins_has_no_finite_term() -> None:
    battles = _battles([("x", "y", "model_a", 5), ("y", "x", "model_a", 5)])
    with pytest.raises(LmauditError, match="no finite estimate"):
        fit_position_bt(battles)


def test_position_term_needs_bt() -> None:
    battles = _battles([("x", "y", "model_a", 3), ("y", "x", "model_a", 2)])
    with pytest.raises(LmauditError, match="position term"):
        rank_battles(battles, RankOptions(method="elo", position_term=True))


def test_rank_command_prints_position_term(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "battles.jsonl"
    rows = [("x", "y", "model_a")] * 8 + [("x", "y", "model_b")] * 2
    rows += [("y", "x", "model_a")] * 6 + [("y", "x", "model_b")] * 4
    path.write_text(
        "".join(json.dumps({"model_a": a, "model_b": b, "winner": w}) + "\n" for a, b, w in rows)
    )
    out_json = tmp_path / "rank.json"
    argv = ["arena", "rank", str(path), "--position-term", "--intervals", "none"]
    assert main([*argv, "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "position term (first-shown advantage" in out
    h = (logit(0.8) + logit(0.6)) / 2
    assert f"h = {h:+.3f}" in out
    payload = json.loads(out_json.read_text())
    assert payload["position_term"]["value"] == pytest.approx(h, abs=1e-8)
