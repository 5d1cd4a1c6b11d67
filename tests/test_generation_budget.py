"""max_tokens at or above the context never silently cuts the prompt: the budget shrinks,
one warning says so, and the run's manifest records it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lmaudit.backends.hf_generate import FittedPrompt, budget_note, fit_prompt

torch = pytest.importorskip("torch")


def test_fit_prompt_keeps_a_fitting_prompt_whole_and_shrinks_the_budget() -> None:
    assert fit_prompt(list(range(10)), 256, 128, 0) == FittedPrompt(list(range(10)), 118)
    assert fit_prompt(list(range(10)), 5, 128, 0) == FittedPrompt(list(range(10)), 5)
    assert fit_prompt([], 5, 128, 7) == FittedPrompt([7], 5)  # empty prompt: the prefix token
    assert fit_prompt(list(range(127)), 256, 128, 0) == FittedPrompt(list(range(127)), 1)


def test_fit_prompt_cuts_only_a_prompt_over_the_context() -> None:
    # room for 5 new tokens as before, when max_tokens is small
    assert fit_prompt(list(range(150)), 5, 32, 0) == FittedPrompt(list(range(123, 150)), 5, 123)
    # max_tokens over the context: half the context stays prompt (never one token)
    assert fit_prompt(list(range(130)), 256, 128, 0) == FittedPrompt(list(range(66, 130)), 64, 66)
    assert fit_prompt(list(range(40)), 0, 32, 0) == FittedPrompt(list(range(8, 40)), 0, 8)


def test_budget_note_says_what_changed_in_one_line() -> None:
    fitted = [fit_prompt(list(range(n)), 256, 128, 0) for n in (10, 20, 130)]
    assert budget_note(256, fitted, 128) == (
        "max_tokens 256 does not fit the model's 128-token context: 3 of 3 prompts get "
        "64-118 new tokens instead (a prompt that fits is kept whole); 1 of 3 prompts are "
        "longer than the model's 128-token context and lost their first 66 tokens"
    )
    assert budget_note(5, [fit_prompt([1, 2], 5, 128, 0)], 128) is None


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_backends_hf_tiny import build_model

    torch.set_num_threads(1)
    return build_model(tmp_path_factory.mktemp("budget"), "gpt2", n_positions=32)


def test_hf_generate_keeps_the_prompt_and_warns(
    tiny_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lmaudit.backends.hf import HFBackend
    from lmaudit.core.types import GenerateRequest, GenerationParams

    backend = HFBackend(str(tiny_dir), dtype="float32", device="cpu", batch_size=4)
    prompt = "The capital of France is"
    n_prompt = len(backend.tokenizer.encode(prompt))
    with caplog.at_level(logging.WARNING):
        answer = backend.generate([GenerateRequest(prompt=prompt, params=GenerationParams(256))])
    assert answer[0].prompt_tokens == n_prompt  # whole prompt, not its last token
    assert answer[0].completion_tokens <= 32 - n_prompt
    expected = (
        f"max_tokens 256 does not fit the model's 32-token context: 1 of 1 prompts get "
        f"{32 - n_prompt} new tokens instead (a prompt that fits is kept whole)"
    )
    assert [r.getMessage() for r in caplog.records] == [expected]
    assert backend.generation_notes == [expected]
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # said once per max_tokens value
        backend.generate([GenerateRequest(prompt="A", params=GenerationParams(256))])
    assert caplog.records == []
    assert "2 of 2 prompts" in backend.generation_notes[0]


def test_the_run_manifest_records_the_shrunk_budget(tiny_dir: Path, tmp_path: Path) -> None:
    import json

    from lmaudit.backends.hf import HFBackend
    from lmaudit.core.runner import run_task
    from lmaudit.tasks.registry import load_task

    (tmp_path / "q.jsonl").write_text('{"q": "The capital of France is", "a": "Paris"}\n')
    spec = tmp_path / "q.yaml"
    spec.write_text(
        "name: q\ntype: generate\ndataset: {path: q.jsonl}\n"
        'prompt: "{q}"\ntarget: a\nscorer: exact\nmax_tokens: 256\n'
    )
    backend = HFBackend(str(tiny_dir), dtype="float32", device="cpu", batch_size=4)
    run_task(load_task(str(spec), {}), backend, tmp_path / "run", show_progress=False)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["generation_budget"] == backend.generation_notes
    assert manifest["generation_budget"][0].startswith(
        "max_tokens 256 does not fit the model's 32-token context: 1 of 1 prompts get "
    )
