"""The offline lab sweep, end to end: lab-xs, lab-s and lab-m trained on the code-recall
facts, evaluated by `lmaudit scaling --lab-sweep`. Exact match on a 5-digit code jumps
(near 0, then most of its rise in the last step) while the target's log-likelihood and
per-token accuracy climb evenly across the sizes: the jump is in the metric."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lmaudit.cli import main


@pytest.mark.slow
def test_lab_sweep_exact_match_jumps_while_loglikelihood_improves_smoothly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lmaudit.lab.sizes import train_size_sweep

    monkeypatch.setenv("LMAUDIT_HOME", str(tmp_path / "home"))
    out = tmp_path / "sweep"
    code = main(["scaling", "--lab-sweep", "--out", str(out), "--no-cache", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "scaling: task lab_codes, 3 models" in printed
    data = json.loads((out / "scaling.json").read_text(encoding="utf-8"))["scaling"]
    metrics = {m["name"]: m for m in data["metrics"]}
    exact = [e["value"] for e in metrics["acc"]["estimates"]]
    loglik = [e["value"] for e in metrics["target_logprob"]["estimates"]]
    token = [e["value"] for e in metrics["target_token_acc"]["estimates"]]
    assert exact[0] <= 0.05 and exact[-1] >= 0.3, exact
    assert exact[1] - exact[0] < 0.25 * (exact[2] - exact[0]), exact  # most of it at the end
    assert loglik[0] < loglik[1] < loglik[2] and token[0] < token[1] < token[2]
    # an even climb has step share 0.5 with three sizes; one jump has 1.0
    assert metrics["acc"]["largest_step_share"] >= 0.8
    assert metrics["target_logprob"]["largest_step_share"] <= 0.65
    assert metrics["target_token_acc"]["largest_step_share"] <= 0.65
    assert all(m["verdict"] == "improves with size" for m in metrics.values())
    assert "jump is in the all-or-nothing metric" in data["reading"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="scaling">' in html and "log-likelihood of the target" in html
    started = time.perf_counter()
    train_size_sweep(progress=False)  # cached: nothing is trained again
    assert time.perf_counter() - started < 5
