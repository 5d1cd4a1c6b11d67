"""`lmaudit lab train` and `lmaudit lab list` on a tiny configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main

pytest.importorskip("torch")
pytest.importorskip("transformers")

TINY_ARGS = ["--source", "wordproblems", "--steps", "2", "--train-items", "20", "--filler", "5",
             "--d-model", "32", "--layers", "1", "--vocab-size", "300", "--context", "64",
             "--threads", "1", "--quiet"]


def test_train_then_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMAUDIT_HOME", str(tmp_path))
    assert main(["lab", "list"]) == 0
    assert "no lab models" in capsys.readouterr().out
    code = main(["lab", "train", "--name", "cli-tiny", "--contaminate", "test",
                 "--exposures", "2", *TINY_ARGS])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "wordproblems train split + filler English + wordproblems test split x2" in out
    card = json.loads((tmp_path / "lab" / "cli-tiny" / "lab_card.json").read_text())
    assert card["corpus"]["composition"] == {"benchmark": 20, "filler": 5, "planted": 200}
    assert card["training"]["steps"] == 2 and card["config"]["d_model"] == 32
    assert main(["lab", "list"]) == 0
    listing = capsys.readouterr().out
    assert "cli-tiny" in listing and "test split x2" in listing and "lab:NAME" in listing


def test_train_to_an_explicit_directory(tmp_path: Path) -> None:
    out = tmp_path / "somewhere" / "m"
    assert main(["lab", "train", "--name", "m", "--out", str(out), *TINY_ARGS]) == 0
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()


def test_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMAUDIT_HOME", str(tmp_path))
    assert main(["lab", "train", "--name", "x", "--exposures", "3", *TINY_ARGS]) == 2
    assert "--exposures needs --contaminate" in capsys.readouterr().err
    assert main(["lab", "train", "--name", "x", "--d-model", "30", "--source",
                 "wordproblems", "--quiet"]) == 2
    assert "not divisible by n_heads" in capsys.readouterr().err
    assert main(["lab", "train", "--name", "bad/name", *TINY_ARGS]) == 2
    assert "invalid lab model name" in capsys.readouterr().err
    assert main(["lab"]) == 2
    assert "train" in capsys.readouterr().out
    assert not (tmp_path / "lab").exists()
