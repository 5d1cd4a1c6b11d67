"""The multiple-choice scoring path a run used is stored in its manifest and results."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmaudit.core.runner import run_task
from lmaudit.core.store import load_run
from lmaudit.core.types import Sample
from lmaudit.tasks.generic import MultipleChoiceTask
from test_serve_support import tiny_backend

pytest.importorskip("torch")


def quiz() -> MultipleChoiceTask:
    samples = [
        Sample(
            f"q{i}",
            f"Question {i}: what follows one, two?\nAnswer:",
            0,
            choices=("three", "a blue whale", "seventeen cats"),
        )
        for i in range(6)
    ]
    return MultipleChoiceTask("quiz", lambda: samples)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_manifest_and_results_record_the_packed_path(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, arch: str
) -> None:
    backend = tiny_backend(tmp_path_factory, arch)
    outcome = run_task(quiz(), backend, tmp_path / "run", show_progress=False)
    run = load_run(tmp_path / "run")
    expected = {"mode": "packed", "reasons": [], "checked": True}
    assert outcome.scoring_path == expected
    assert run.manifest["scoring_path"] == expected
    assert run.results["scoring_path"] == expected


def test_backends_without_a_scoring_path_leave_the_manifest_alone(tmp_path: Path) -> None:
    from runner_fakes import CountingBackend  # a scripted in-process backend

    outcome = run_task(quiz(), CountingBackend(), tmp_path / "run", show_progress=False)
    assert outcome.scoring_path is None
    assert "scoring_path" not in load_run(tmp_path / "run").manifest
