"""`lmaudit audit` on the command line (models from an in-process fake), the report at the
end when the Report stage is installed, and the lab demo end to end (slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import lmaudit.backends.registry as registry
from audit_fakes import MemorizerBackend
from lmaudit.cli import main


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    loaded: list[tuple[str, dict[str, Any]]] = []

    def load_backend(spec: str, options: dict[str, Any] | None = None) -> MemorizerBackend:
        if spec.endswith("broken"):
            raise OSError("cannot open the model")
        loaded.append((spec, dict(options or {})))
        return MemorizerBackend(spec)

    monkeypatch.setattr(registry, "load_backend", load_backend)
    return loaded


def test_audit_command_writes_the_audit_and_its_report(
    tmp_path: Path, fake_models: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "audit"
    argv = ["audit", "--model", "lab:a", "--model", "lab:b", "--suite", "demo", "--limit", "4",
            "--out", str(out), "--no-cache", "--no-progress", "--device", "cpu"]
    json_file = tmp_path / "report.json"
    assert main([*argv, "--json", str(json_file)]) == 0
    assert [spec for spec, _ in fake_models] == ["lab:a", "lab:b"]
    assert fake_models[0][1]["device"] == "cpu"
    index = json.loads((out / "audit.json").read_text())
    assert index["command"] == ["lmaudit", "audit", "--model", "lab:a", "--model", "lab:b",
                                "--suite", "demo", "--out", str(out), "--limit", "4",
                                "--device", "cpu"]
    assert {s["state"] for s in index["stages"]} == {"done"}
    manifest = json.loads((out / "runs/a/arith/manifest.json").read_text())
    assert manifest["invocation"]["model"] == "lab:a"  # `lmaudit run --resume DIR` works too
    printed = capsys.readouterr().out
    assert f"audit stored in {out} (10 stages computed, 0 already done" in printed
    assert (out / "report.html").is_file()
    assert json.loads(json_file.read_text())["cards"]  # real JSON, one card per model x task
    assert f"report: {out / 'report.html'}" in printed

    assert main(argv) == 0  # again: everything is finished, nothing is loaded
    assert len(fake_models) == 2
    assert "0 stages computed, 10 already done" in capsys.readouterr().out


def test_a_failed_stage_makes_the_exit_code_non_zero(
    tmp_path: Path, fake_models: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "audit"
    code = main(["audit", "--model", "lab:a", "--model", "lab:broken", "--suite", "demo",
                 "--limit", "2", "--out", str(out), "--no-cache", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "failed: run/lab:broken/arith: model lab:broken could not be loaded: OSError" in err


def test_bad_arguments_fail_before_any_model_loads(
    tmp_path: Path, fake_models: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["audit", "--model", "lab:a", "--out", str(tmp_path / "x"), "--no-cache"]
    assert main([*base, "--suite", "nosuch"]) == 2
    assert main([*base, "--suite", "demo", "--task-option", "gsm8k:data=x"]) == 2
    assert main([*base, "--suite", "demo", "--task-option", "arith=x"]) == 2
    assert main([*base, "--suite", "demo", "--max-concurrency", "4", "--limit", "0"]) == 2
    err = capsys.readouterr().err
    assert "no task 'gsm8k'" in err and "TASK:KEY=VALUE" in err and "--limit" in err
    assert fake_models == []


@pytest.mark.slow
def test_make_demo_audits_the_lab_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    """The demo trains (or reuses) the two lab models and audits them: the contaminated
    model's arith score collapses under the probe and is flagged by the likelihood test."""
    from lmaudit.demo import main as demo_main

    assert demo_main(["--out", str(tmp_path / "demo"), "--limit", "40"]) == 0
    audit = tmp_path / "demo" / "audit"
    index = json.loads((audit / "audit.json").read_text())
    assert {s["state"] for s in index["stages"]} == {"done"}
    dirty = json.loads((audit / "probes/demo-contaminated/arith-symbolic+noop/probe_results.json")
                       .read_text())
    clean = json.loads((audit / "probes/demo-clean/arith-symbolic+noop/probe_results.json")
                       .read_text())
    assert dirty["families"]["symbolic"]["drop"]["ci_high"] < 0
    assert dirty["families"]["symbolic"]["drop"]["value"] < clean["families"]["symbolic"][
        "drop"]["value"]
    report = json.loads((audit / "contamination/demo-contaminated/arith/report.json")
                        .read_text())
    assert report["overall"] != "no evidence"
    assert os.path.exists(audit / "report.html")
