"""Budget forcing and generated-token log-probabilities on the vLLM backend, over a stand-in
engine that decodes like vLLM (greedy, stop strings kept with include_stop_str_in_output,
max_tokens, end of sequence, `logprobs=0`) from the scripted tiny model of
test_budget_forcing: the rounds must give what the HF loop gives, token for token."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from test_backends_hf_tiny import train_tokenizer
from test_budget_forcing import PROMPT, _ids, backend  # noqa: F401  (module fixture)
from test_vllm_backend import Logprob

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.vllm_backend import VLLMBackend  # noqa: E402
from lmaudit.backends.vllm_outputs import chosen_token_logprobs  # noqa: E402
from lmaudit.core.types import (  # noqa: E402
    Fingerprint,
    GenerateRequest,
    GenerationParams,
    LmauditError,
    ThinkingControl,
)


class GreedyEngine:
    """`PromptEngine` answering like vLLM's LLM.generate at temperature 0; records calls."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.calls: list[tuple[list[list[int]], list[dict[str, Any]]]] = []

    def _complete(self, prompt: list[int], kwargs: dict[str, Any]) -> SimpleNamespace:
        assert kwargs["temperature"] == 0.0 and kwargs["max_tokens"] >= 1
        ids, tokens, entries = list(prompt), [], []
        reason, stop_reason = "length", None
        for _ in range(kwargs["max_tokens"]):
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([ids]),
                                    position_ids=torch.arange(len(ids))[None]).logits[0, -1]
            logp = torch.log_softmax(logits.float(), -1)
            token = int(logp.argmax())
            tokens.append(token)
            ids.append(token)
            entries.append({token: Logprob(float(logp[token]), 1)})
            if token == self.tokenizer.eos_token_id:
                reason = "stop"
                break
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            hit = next((s for s in kwargs["stop"] or () if s in text), None)
            if hit is not None:
                reason, stop_reason = "stop", hit
                break
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if stop_reason is not None and not kwargs.get("include_stop_str_in_output"):
            text = text[: text.index(stop_reason)]
        return SimpleNamespace(
            text=text, token_ids=tokens, finish_reason=reason, stop_reason=stop_reason,
            logprobs=entries if kwargs.get("logprobs") is not None else None)

    def run(self, prompts: Any, params: Any) -> list[Any]:
        self.calls.append(([list(p) for p in prompts], [dict(k) for k in params]))
        return [SimpleNamespace(prompt_token_ids=list(p), prompt_logprobs=None,
                                outputs=[self._complete(list(p), dict(k))])
                for p, k in zip(prompts, params, strict=True)]


@pytest.fixture()
def vllm_like(backend: HFBackend) -> tuple[VLLMBackend, GreedyEngine]:  # noqa: F811
    engine = GreedyEngine(backend.model, backend.tokenizer)
    vllm = VLLMBackend.from_engine(engine, backend.tokenizer, name="scripted", max_model_len=256,
                                   fingerprint=Fingerprint("vllm", "scripted", "0", "float32"))
    return vllm, engine


CASES = [  # (control, the model's wish: close after n thoughts, then every n after the wait)
    (ThinkingControl(budget=4), 10),
    (ThinkingControl(budget=0), 10),
    (ThinkingControl(budget=20), 6),
    (ThinkingControl(extend=2), 3),
    (ThinkingControl(budget=7, extend=5), 3),
    (ThinkingControl(budget=2, answer_prefix="Answer:"), 10),
    (ThinkingControl(min_tokens=7), 3),
]


@pytest.mark.parametrize("control, every", CASES)
def test_rounds_equal_the_hf_loop(
    backend: HFBackend, vllm_like: tuple[VLLMBackend, GreedyEngine],  # noqa: F811
    control: ThinkingControl, every: int,
) -> None:
    vllm, engine = vllm_like
    prompt, _, wait = _ids(backend)
    first = len(prompt) - 1 + every
    backend.model.close_after = {first + k * (every + len(wait)) for k in range(6)}
    request = GenerateRequest(PROMPT, params=GenerationParams(
        30, thinking=control, logprobs=True, stop=("\n",)))
    ours = vllm.generate([request])[0]
    reference = backend.generate([request])[0]
    assert ours.thinking == reference.thinking
    assert (ours.text, ours.completion_tokens, ours.finish_reason) == (
        reference.text, reference.completion_tokens, reference.finish_reason)
    assert ours.token_logprobs == pytest.approx(reference.token_logprobs, abs=1e-4)
    rounds = len(engine.calls)
    thinking_rounds = 1 + ours.thinking.extensions
    assert rounds in (thinking_rounds, thinking_rounds + 1)  # + the answer unless none fits
    if control.extend:  # the second round continues after the wait text, tag removed
        assert engine.calls[1][0][0][-len(wait):] == wait


def test_budget_rounds_send_the_remaining_budget_and_seeds(
    backend: HFBackend, vllm_like: tuple[VLLMBackend, GreedyEngine],  # noqa: F811
) -> None:
    vllm, engine = vllm_like
    prompt, close, wait = _ids(backend)
    backend.model.close_after = {len(prompt) - 1 + 3 + k * (3 + len(wait)) for k in range(4)}
    control = ThinkingControl(budget=5, extend=3)
    vllm.generate([GenerateRequest(PROMPT, params=GenerationParams(40, thinking=control))])
    sent = [call[1][0] for call in engine.calls]
    # 3 thoughts (closed, Wait), then at most 2 more: the budget runs out; then the answer.
    assert [k["max_tokens"] for k in sent] == [5, 2, 40 - 3 - len(wait) - 2 - 1]
    assert [k["stop"] for k in sent] == [["</think>"], ["</think>"], None]
    assert engine.calls[2][0][0][-1] == close


def test_chosen_token_logprobs_read_vllm_entries() -> None:
    completion = SimpleNamespace(token_ids=[5, 9], logprobs=[
        {5: Logprob(-0.5, 1)}, {9: Logprob(-2.0, 3), 1: Logprob(-0.1, 1)}])
    assert chosen_token_logprobs(completion) == [-0.5, -2.0]
    assert chosen_token_logprobs(SimpleNamespace(token_ids=[5], logprobs=None)) is None
    with pytest.raises(LmauditError, match="generated token 1"):
        chosen_token_logprobs(SimpleNamespace(token_ids=[5, 9], logprobs=[
            {5: Logprob(-0.5)}, {1: Logprob(-0.1)}]))


def test_a_multi_token_close_tag_is_taken_back_whole(
    backend: HFBackend, vllm_like: tuple[VLLMBackend, GreedyEngine],  # noqa: F811
) -> None:
    """HF hides the tag's fed tokens from attention; vLLM re-sends the prefix without them:
    the model must see the same text, so both give the same generation."""
    vllm, _ = vllm_like
    tag = "</think>END"
    sequence = backend.tokenizer.encode(tag, add_special_tokens=False)
    assert len(sequence) >= 2
    prompt, _, wait = _ids(backend)
    backend.model.sequence = sequence
    try:
        backend.model.close_after = {len(prompt) - 1 + 3 + k * (3 + len(wait)) for k in range(3)}
        control = ThinkingControl(extend=1, budget=12, tags=("<think>", tag))
        request = GenerateRequest(PROMPT, params=GenerationParams(30, thinking=control,
                                                                  logprobs=True))
        ours, reference = vllm.generate([request])[0], backend.generate([request])[0]
    finally:
        backend.model.sequence = [backend.tokenizer.convert_tokens_to_ids("</think>")]
    assert reference.thinking is not None and reference.thinking.extensions == 1
    thought = reference.text.split(tag)[0]
    assert thought.count("Wait") == 1 and "</think>" not in thought
    assert ours.thinking == reference.thinking and ours.text == reference.text
    assert ours.token_logprobs == pytest.approx(reference.token_logprobs, abs=1e-4)


@pytest.mark.slow
def test_vllm_budget_forcing_on_gpu(tmp_path: Path) -> None:
    """Where vLLM and a CUDA GPU exist: a random GPT-2 whose tags are added tokens, forced
    at 6 thinking tokens; every answer that was forced thought exactly 6 tokens, and the
    log-probabilities come back one per generated token."""
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'lmaudit[vllm]')")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU and none is available")
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer: Any = train_tokenizer("gpt2")
    tokenizer.add_tokens(["<think>", "</think>"])
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=256, n_embd=128, n_layer=2, n_head=2,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    vllm = VLLMBackend(str(tmp_path), dtype="float32", max_model_len=256,
                       gpu_memory_utilization=0.3)
    control = ThinkingControl(budget=6)
    requests = [GenerateRequest(f"Question {i}: <think>", params=GenerationParams(
        24, temperature=1.0, seed=i, thinking=control, logprobs=True)) for i in range(8)]
    generations = vllm.generate(requests)
    assert vllm.generate(requests) == generations  # seeded rounds reproduce
    for g in generations:
        assert g.thinking is not None and g.thinking.tokens <= 6
        if g.thinking.forced_stop:
            assert g.thinking.tokens == 6 and "</think>" in g.text
        inserted = len(tokenizer.encode("</think>", add_special_tokens=False)) * int(
            g.thinking.forced_stop)
        assert g.token_logprobs is not None
        assert len(g.token_logprobs) == g.completion_tokens - inserted
