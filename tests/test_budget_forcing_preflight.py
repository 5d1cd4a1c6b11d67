"""Thinking controls a backend cannot do are caught before any work: an API given
`thinking_extend` or `thinking_min` fails with one line before a request is sent (no run
directory made); HF given `thinking_effort` warns once and records the effort as not
applied (manifest `thinking_not_applied`, report setting `effort=... (not applied)`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.core.backend import check_thinking
from lmaudit.core.runner import run_task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.report.compute_settings import run_setting
from lmaudit.tasks.reasoning import ReasoningTask
from lmaudit.tasks.thinking_budget import ThinkingPlan
from test_backends_hf_tiny import train_tokenizer


def _task(plan: ThinkingPlan) -> ReasoningTask:
    samples = [Sample(str(i), f"Problem #{i}: answer {i}.", str(i)) for i in range(3)]
    return ReasoningTask("budgeted", lambda: samples, scorer="numeric", max_tokens=4,
                         thinking=plan)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAIServer, OpenAIBackend]]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer() as server, OpenAIBackend("fake", server.base_url) as backend:
        yield server, backend


@pytest.mark.parametrize(("plan", "option"), [(ThinkingPlan(extend=2), "thinking_extend"),
                                              (ThinkingPlan(min_tokens=64), "thinking_min"),
                                              (ThinkingPlan((256,), extend=1),
                                               "thinking_extend")])
def test_an_api_refuses_extension_and_minimum_before_any_request(
        api: tuple[FakeOpenAIServer, OpenAIBackend], tmp_path: Path, plan: ThinkingPlan,
        option: str) -> None:
    server, backend = api
    with pytest.raises(LmauditError) as caught:
        run_task(_task(plan), backend, tmp_path / "run", model_spec="openai:fake",
                 show_progress=False)
    message = str(caught.value)
    assert "\n" not in message and option in message and "hf or vllm" in message
    assert "--resume" not in message  # nothing was started, so nothing to resume
    assert server.requests_received == 0
    assert not (tmp_path / "run").exists()


def test_an_api_takes_a_budget_and_an_effort(
        api: tuple[FakeOpenAIServer, OpenAIBackend]) -> None:
    _, backend = api
    task = _task(ThinkingPlan((256,), effort="high"))
    requests = [r for s in task.samples() for r in task.requests(s)]
    assert check_thinking(backend, requests, task=task.name) == []


@pytest.fixture(scope="module")
def hf_backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    torch = pytest.importorskip("torch")
    from transformers import GPT2Config, GPT2LMHeadModel

    from lmaudit.backends.hf import HFBackend

    torch.set_num_threads(1)
    directory = tmp_path_factory.mktemp("effort")
    tokenizer: Any = train_tokenizer("gpt2")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=16, n_layer=1,
                        n_head=2, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return HFBackend(str(directory), dtype="float32", device="cpu", batch_size=4)


def test_hf_given_an_effort_warns_once_and_records_it_as_not_applied(
        hf_backend: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run_task(_task(ThinkingPlan(effort="high")), hf_backend, run, model_spec="hf:tiny",
             show_progress=False)
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if "thinking_effort" in line]
    assert len(warnings) == 1 and "not applied" in warnings[0]
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["thinking_not_applied"]) == 1
    assert manifest["thinking_not_applied"][0].startswith("thinking_effort=high not applied")
    assert run_setting(manifest) == ("effort=high (not applied)", 1)
    # a budget alone is something HF does: nothing to warn about
    requests = [r for s in _task(ThinkingPlan((8,))).samples()
                for r in _task(ThinkingPlan((8,))).requests(s)]
    assert check_thinking(hf_backend, requests, task="t") == []
