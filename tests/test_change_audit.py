"""`lmaudit audit --baseline`: audit.json records the baseline and the task roles, and the
report (terminal, HTML, JSON) gains the "Model change" section; option errors are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import lmaudit.backends.registry as registry
from audit_fakes import MemorizerBackend
from lmaudit.audit.suite import load_suite
from lmaudit.cli import main
from lmaudit.core.types import LmauditError

SUITE = """\
name: change
tasks:
  arith: {role: target}
  arith_mc: {role: format}
"""


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lab:base` knows nothing; `lab:tuned` memorized the arith test split."""

    def load_backend(spec: str, options: dict[str, Any] | None = None) -> MemorizerBackend:
        backend = MemorizerBackend(spec)
        if spec == "lab:base":
            backend.answers, backend.documents = {}, set()
        return backend

    monkeypatch.setattr(registry, "load_backend", load_backend)


def test_before_after_audit_reports_the_change_matrix(
    tmp_path: Path, models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "change.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "audit"
    argv = ["audit", "--model", "lab:base", "--model", "lab:tuned", "--suite", str(suite),
            "--baseline", "lab:base", "--limit", "12", "--out", str(out), "--no-cache",
            "--no-progress", "--json", str(tmp_path / "r.json")]
    assert main(argv) == 0
    index = json.loads((out / "audit.json").read_text())
    assert index["change"] == {"baseline": "lab:base",
                               "roles": {"arith": "target", "arith_mc": "format"}}
    assert index["command"][-4:-2] == ["--baseline", "lab:base"]
    printed = capsys.readouterr().out
    assert "model change vs baseline lab:base: 2 paired tests" in printed
    assert "learning vs forgetting · lab:tuned: target +100.0 [" in printed
    html = (out / "report.html").read_text()
    assert '<a href="#change">Model change</a>' in html and "<svg" in html
    change = json.loads((tmp_path / "r.json").read_text())["change"]
    cell = next(c for c in change["cells"] if c["task"] == "arith")
    assert cell["difference"]["value"] == 1.0 and cell["n_shared"] == 12
    assert cell["p_value"] == pytest.approx(2 * 0.5 ** 12)  # McNemar: 12 discordant of 12


def test_target_option_replaces_the_suite_roles(tmp_path: Path, models: None) -> None:
    suite = tmp_path / "change.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "audit"
    assert main(["audit", "--model", "lab:base", "--model", "lab:tuned", "--suite", str(suite),
                 "--baseline", "lab:base", "--target", "arith_mc", "--limit", "4", "--out",
                 str(out), "--no-cache", "--no-progress"]) == 0
    roles = json.loads((out / "audit.json").read_text())["change"]["roles"]
    assert roles == {"arith": "general", "arith_mc": "target"}


@pytest.mark.parametrize(("extra", "message"), [
    (["--baseline", "lab:other"], "--baseline lab:other: not one of the --model specs"),
    (["--baseline", "lab:base", "--target", "nope"], "--target nope: suite change has no"),
    (["--target", "arith"], "--target needs --baseline"),
])
def test_option_errors_are_one_line(tmp_path: Path, models: None, extra: list[str],
                                    message: str, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "change.yaml"
    suite.write_text(SUITE)
    code = main(["audit", "--model", "lab:base", "--model", "lab:tuned", "--suite", str(suite),
                 "--out", str(tmp_path / "a"), "--no-cache", "--no-progress", *extra])
    assert code != 0 and message in capsys.readouterr().err


def test_suite_role_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  arith: {role: skill}\n")
    with pytest.raises(LmauditError, match=r"tasks\.arith\.role: unknown role 'skill'"):
        load_suite(bad)
    assert load_suite("demo").tasks[0].role == "general"


def test_report_command_builds_the_matrix_from_run_directories(
    tmp_path: Path, models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "change.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "audit"
    assert main(["audit", "--model", "lab:base", "--model", "lab:tuned", "--suite", str(suite),
                 "--limit", "4", "--out", str(out), "--no-cache", "--no-progress"]) == 0
    assert "model change" not in capsys.readouterr().out  # no --baseline: no matrix
    runs = [str(out / "runs" / m / t) for m in ("base", "tuned") for t in ("arith", "arith_mc")]
    html = tmp_path / "r.html"
    assert main(["report", *runs, "--out", str(html), "--baseline", "lab:base",
                 "--role", "arith_mc=format", "--target", "arith"]) == 0
    printed = capsys.readouterr().out
    assert "model change vs baseline lab:base: 2 paired tests" in printed
    assert "arith_mc  format" in printed and "arith     target" in printed
    assert main(["report", *runs, "--out", str(html), "--baseline", "lab:nope"]) != 0
    assert "--baseline lab:nope: no such model" in capsys.readouterr().err
    assert main(["report", *runs, "--out", str(html), "--baseline", "lab:base",
                 "--role", "arith=skill"]) != 0
    assert "--role expects TASK=ROLE" in capsys.readouterr().err
