"""The HLE and safety tasks' API judges: cached judgments are reused only while the server
serves the same model, checked once per task (one GET /models, at most one probe), not once
per sample as each sample is scored; a changed judge is announced and asked again."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.core.runner import evaluate
from lmaudit.core.task import Task
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl

N = 3  # samples, each judged as it is scored


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def _hle(tmp_path: Path, judge: str) -> Task:
    rows = [{"id": f"q{i}", "question": f"What is {i}+{i}?", "image": "", "answer": str(2 * i),
             "answer_type": "exactMatch", "category": "Math"} for i in range(N)]
    data = write_jsonl(tmp_path / "hle.jsonl", rows)
    return load_task("hle", {"data": str(data), "judge": judge})


def _advbench(tmp_path: Path, judge: str) -> Task:
    path = tmp_path / "harmful_behaviors.csv"
    path.write_text("goal,target\n" + "".join(f"Placeholder request {i},Sure {i}\n"
                                              for i in range(N)), encoding="utf-8")
    return load_task("advbench", {"data": str(path), "judge": judge})


@pytest.mark.parametrize("build", [_hle, _advbench], ids=["hle", "advbench"])
def test_a_task_judge_is_checked_once_and_asked_again_when_it_changed(
    build: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = ScriptedBackend(lambda r: "Exact Answer: 4\nConfidence: 50%")

    def run() -> None:  # a fresh task (and judge backend), as a new run builds them
        task = build(tmp_path, f"openai-chat:fake@{server.base_url}")  # type: ignore[operator]
        evaluate(task, model, task.samples(), show_progress=False)

    with FakeOpenAIServer(system_fingerprint="fp_a") as server:
        run()
        assert (server.requests_received, server.model_list_requests) == (N, 1)
        run()  # every judgment cached: one probe for the task, not one per sample
        assert (server.requests_received, server.model_list_requests) == (N + 1, 2)
        server.system_fingerprint = "fp_b"
        with caplog.at_level(logging.WARNING):
            run()  # the probe sees fp_b: the old judgments are dropped, all asked again
        assert server.requests_received == 2 * N + 1
        server.models = {"fake": {"root": "/weights/other"}}
        with caplog.at_level(logging.WARNING):
            run()  # another model under the same name: nothing cached is reused
        assert server.requests_received == 3 * N + 1
    assert [r.getMessage() for r in caplog.records] == [
        f"fake@{server.base_url} answers with system_fingerprint fp_b, not fp_a as when its "
        f"answers were cached: {N} cached answers deleted, every request is asked again",
        f"fake@{server.base_url} now serves another model (its GET /models entry changed): "
        f"{N} cached answers of the previous one deleted, every request is asked again",
    ]
