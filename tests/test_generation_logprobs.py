"""Per-token log-probabilities of generated tokens: HF backend paths against a teacher-forced
forward pass, and their round trip through the run journal's encoding (old entries too)."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest

from test_backends_hf_tiny import build_model

torch = pytest.importorskip("torch")

from lmaudit.backends import hf_generate  # noqa: E402
from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.core.serialize import response_from_dict, response_to_dict  # noqa: E402
from lmaudit.core.types import (  # noqa: E402
    GenerateRequest,
    Generation,
    GenerationParams,
    ThinkingControl,
    ThinkingTrace,
    request_key,
)
from lmaudit.stats.sampling import mean_token_logprob  # noqa: E402

PROMPT = "Question: What colour is the sky? Answer:"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    torch.set_num_threads(1)
    directory = build_model(tmp_path_factory.mktemp("gpt2lp"), "gpt2")
    return HFBackend(str(directory), dtype="float32", device="cpu", batch_size=4)


def _teacher_forced(backend: HFBackend, prompt: list[int], tokens: list[int]) -> list[float]:
    """log p(token_j | prompt, tokens[:j]) from one forward pass (temperature 1)."""
    ids = torch.tensor([prompt + tokens])
    with torch.inference_mode():
        logits = backend.model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits[len(prompt) - 1:-1], dim=-1)
    return [float(logp[j, t]) for j, t in enumerate(tokens)]


def test_greedy_logprobs_equal_teacher_forcing(backend: HFBackend) -> None:
    prompt = backend.tokenizer.encode(PROMPT)
    reference = backend.model.generate(
        torch.tensor([prompt]), max_new_tokens=8, min_new_tokens=8, do_sample=False,
        pad_token_id=backend.tokenizer.eos_token_id,
        eos_token_id=None)[0, len(prompt):].tolist()
    params = GenerationParams(8, logprobs=True)
    generation = backend.generate([GenerateRequest(PROMPT, params=params)])[0]
    eos = backend.tokenizer.eos_token_id
    n = reference.index(eos) + 1 if eos in reference else 8
    assert generation.completion_tokens == n
    assert generation.token_logprobs == pytest.approx(
        _teacher_forced(backend, prompt, reference[:n]), abs=1e-4)
    plain = backend.generate([GenerateRequest(PROMPT, params=GenerationParams(8))])[0]
    assert plain.token_logprobs is None and plain.text == generation.text


@pytest.mark.parametrize("temperature, top_p", [(0.5, 1.0), (1.5, 0.8)])
def test_sampled_logprobs_are_the_models_not_the_samplers(
    backend: HFBackend, monkeypatch: pytest.MonkeyPatch, temperature: float, top_p: float
) -> None:
    drawn: list[list[int]] = []
    original = hf_generate.sample_rows

    def recording(*args: Any, **kwargs: Any) -> Any:
        chosen = original(*args, **kwargs)
        drawn.append(chosen.tolist())
        return chosen

    monkeypatch.setattr(hf_generate, "sample_rows", recording)
    params = GenerationParams(10, temperature=temperature, top_p=top_p, logprobs=True)
    requests = [GenerateRequest(PROMPT, params=params.__class__(**{**params.__dict__, "seed": s}))
                for s in (3, 4)]
    generations = backend.generate(requests)
    prompt = backend.tokenizer.encode(PROMPT)
    for r, generation in enumerate(generations):
        tokens = [step[r] for step in drawn][: generation.completion_tokens]
        expected = _teacher_forced(backend, prompt, tokens)
        assert generation.token_logprobs == pytest.approx(expected, abs=1e-4)
        assert all(lp <= 0 for lp in generation.token_logprobs)
    # Temperature-scaled log-probabilities would differ from these (a real check).
    assert mean_token_logprob(generations[0].token_logprobs) is not None


def test_journal_round_trip_and_old_entries() -> None:
    generation = Generation("4", "stop", 5, 2, token_logprobs=(-0.25, -1.5),
                            thinking=ThinkingTrace(7, True, 1, True))
    stored = response_to_dict(generation)
    back = response_from_dict(stored)
    assert back.token_logprobs == (-0.25, -1.5) and back.thinking == generation.thinking
    old = {"t": "g", "x": "4", "f": "stop", "p": 5, "c": 2, "u": None}  # before logprobs
    assert response_from_dict(old) == Generation("4", "stop", 5, 2)
    assert response_from_dict(old).token_logprobs is None
    assert response_to_dict(Generation("4", "stop", 5, 2)) == old
    with pytest.raises(TypeError):
        response_from_dict({**old, "tl": "nope"})
    assert math.isclose(mean_token_logprob(back.token_logprobs) or 0.0, -0.875)


def test_request_keys_of_plain_requests_are_unchanged() -> None:
    plain = GenerateRequest("x", params=GenerationParams(8))
    # The key as written before these fields existed: the same JSON payload, hashed.
    payload = {"kind": "generate", "prompt": "x", "messages": [],
               "params": [8, 0.0, 1.0, [], None]}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    assert request_key(plain) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    keys = {request_key(plain),
            request_key(GenerateRequest("x", params=GenerationParams(8, logprobs=True))),
            request_key(GenerateRequest("x", params=GenerationParams(
                8, thinking=ThinkingControl(budget=4)))),
            request_key(GenerateRequest("x", params=GenerationParams(
                8, thinking=ThinkingControl(budget=8))))}
    assert len(keys) == 4
