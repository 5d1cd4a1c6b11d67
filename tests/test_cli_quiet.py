"""Other libraries' progress bars and log lines stay hidden unless `--verbose`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from test_backends_hf_tiny import build_model

FOREIGN = ("Loading weights", "Writing model shards", "[transformers]")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quiet")
    build_model(root / "model", "gpt2")
    rows = [
        {"q": f"Which word follows {i}?", "options": ["one", "two"], "label": 0} for i in range(4)
    ]
    (root / "quiz.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "quiz.yaml").write_text(
        "name: quiz\ntype: multiple_choice\ndataset: {path: quiz.jsonl}\n"
        'prompt: "Question: {q}\\nAnswer:"\nchoices: options\ntarget: label\n'
    )
    return root


def lmaudit_run(root: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    argv = ["run", "--model", f"hf:{root / 'model'}", "--task", str(root / "quiz.yaml")]
    argv += ["--out", str(root / out), "--device", "cpu", *extra]
    return subprocess.run(
        [sys.executable, "-m", "lmaudit", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_a_run_prints_only_lmaudit_output(workspace: Path) -> None:
    done = lmaudit_run(workspace, "quiet")
    assert done.returncode == 0, done.stderr
    for text in FOREIGN:
        assert text not in done.stderr + done.stdout
    assert "multiple-choice scoring: packed" in done.stdout


def test_verbose_shows_the_libraries_output(workspace: Path) -> None:
    import transformers

    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("transformers < 5 shows no loading bar to look for")
    done = lmaudit_run(workspace, "verbose", "--verbose")
    assert done.returncode == 0, done.stderr
    assert "Loading weights" in done.stderr


def test_quiet_settings_leave_explicit_user_choices_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import warnings

    from lmaudit.quiet import QUIET_ENVIRONMENT, THIRD_PARTY_LOGGERS, quiet_third_party

    for name in QUIET_ENVIRONMENT:  # restored after the test, like the loggers below
        monkeypatch.delenv(name, raising=False)
    for name in THIRD_PARTY_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    with warnings.catch_warnings():
        quiet_third_party(verbose=True)
        assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
        assert logging.getLogger("datasets").level == logging.NOTSET
        quiet_third_party()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"  # the user's own setting wins
    assert logging.getLogger("datasets").level == logging.ERROR
