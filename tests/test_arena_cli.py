"""`lmaudit arena rank` and `lmaudit arena judge` end to end on small files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmaudit.arena.simulate import simulate_battles
from lmaudit.cli import main


def _battles_file(tmp_path: Path) -> Path:
    sim = simulate_battles(
        [0.6, 0.2, 0.0, -0.3, -0.5], 3000, beta=[0.5, 0.2, 0, 0.2, 0], tie_rate=0.2, seed=21
    )
    frame = sim.to_battles().frame.drop(columns=["location"])
    path = tmp_path / "battles.jsonl"
    frame.to_json(path, orient="records", lines=True)
    return path


def test_rank_prints_table_and_writes_json_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _battles_file(tmp_path)
    code = main(
        [
            "arena",
            "rank",
            str(path),
            "--bootstrap",
            "100",
            "--style-control",
            "--robustness",
            "--anchor",
            "model-02=1200",
            "--workers",
            "1",
            "--json",
            str(tmp_path / "out.json"),
            "--plot",
            str(tmp_path / "plots"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "rank  model" in out and "95% CI" in out and "Rank(UB)" in out
    assert "with style control" in out and "robustness: removing" in out
    report = json.loads((tmp_path / "out.json").read_text())
    rows = {r["model"]: r for r in report["leaderboard"]["rows"]}
    assert rows["model-02"]["rating"] == 1200.0
    assert rows["model-00"]["rank"] == 1
    assert rows["model-00"]["ci_low"] < rows["model-00"]["rating"] < rows["model-00"]["ci_high"]
    names = [c["name"] for c in report["style_control"]["coefficients"]]
    assert names == ["tokens", "headers", "list_items", "bold", "emoji"]
    matrix = np.array(report["win_probabilities"]["matrix"])
    assert matrix + matrix.T == pytest.approx(np.ones((5, 5)))
    for name in (
        "ratings.png",
        "win_probabilities.png",
        "ratings_style_control.png",
        "rank_change_style_control.png",
    ):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000


def test_rank_reports_bad_rows_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,draw\ny,x,model_a\n")
    assert main(["arena", "rank", str(path)]) == 2
    assert "line 3: winner 'draw'" in capsys.readouterr().err
    assert (
        main(
            ["arena", "rank", str(path), "--skip-bad-rows", "--method", "elo", "--bootstrap", "50"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "skipped line 3" in captured.err and "online Elo" in captured.out
    assert main(["arena", "rank", str(path), "--anchor", "nope"]) == 2


def test_judge_command_with_scripted_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lmaudit.backends.registry as registry

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # works in any import mode
    from test_arena_judges import ScriptedJudge, _outputs

    files = []
    for outputs in _outputs():
        path = tmp_path / f"{outputs.model}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"id": pid, "prompt": p, "output": a}) + "\n"
                for pid, (p, a) in outputs.answers.items()
            )
        )
        files.append(str(path))
    monkeypatch.setattr(registry, "load_backend", lambda spec, options=None: ScriptedJudge())
    code = main(
        [
            "arena",
            "judge",
            "--judge",
            "fake:judge",
            "--outputs",
            *files,
            "--baseline",
            "y",
            "--bootstrap",
            "100",
            "--battles-out",
            str(tmp_path / "judged.jsonl"),
            "--json",
            str(tmp_path / "judge.json"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "24 judgments" not in out  # baseline mode: 2 pairs x 4 prompts x 2 orders
    assert "16 judgments, 4 unparseable" in out
    assert "position consistency" in out and "LC" in out
    assert main(["arena", "rank", str(tmp_path / "judged.jsonl"), "--bootstrap", "50"]) == 0
    report = json.loads((tmp_path / "judge.json").read_text())
    assert report["summary"]["n_unparseable"] == 4
