"""HFBackend.generate: greedy equals an explicit argmax loop; stops, lengths, seeds, chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_backends_hf_tiny import build_model

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.core.types import (  # noqa: E402
    GenerateRequest,
    GenerationParams,
    LmauditError,
    Message,
)

PROMPTS = ["The capital of France is", "A", "Question: What colour is the sky? Answer:"]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    torch.set_num_threads(1)
    directory = build_model(tmp_path_factory.mktemp(request.param), request.param)
    return HFBackend(str(directory), dtype="float32", device="cpu", batch_size=4)


def greedy_loop(backend: HFBackend, prompt_ids: list[int], max_tokens: int) -> list[int]:
    """Argmax decoding, one unpadded full forward per token, stopping after EOS."""
    ids, out = list(prompt_ids), []
    for _ in range(max_tokens):
        with torch.no_grad():
            logits = backend.model(input_ids=torch.tensor([ids])).logits[0, -1]
        token = int(logits.argmax())
        out.append(token)
        ids.append(token)
        if token == backend.tokenizer.eos_token_id:
            break
    return out


def test_greedy_batch_matches_unbatched_argmax_loop(backend: HFBackend) -> None:
    params = GenerationParams(max_tokens=10)
    results = backend.generate([GenerateRequest(prompt=p, params=params) for p in PROMPTS])
    tok = backend.tokenizer
    for prompt, result in zip(PROMPTS, results, strict=True):
        prompt_ids = tok.encode(prompt)
        tokens = greedy_loop(backend, prompt_ids, 10)
        assert result.prompt_tokens == len(prompt_ids)
        assert result.completion_tokens == len(tokens)
        assert result.text == tok.decode(tokens, skip_special_tokens=True)
        ended_by_eos = tokens[-1] == tok.eos_token_id
        assert result.finish_reason == ("stop" if ended_by_eos else "length")


def test_stop_string_cuts_text_and_ends_generation_early(backend: HFBackend) -> None:
    full = backend.generate([GenerateRequest(prompt=PROMPTS[0], params=GenerationParams(20))])[0]
    stop = full.text[4:6]
    assert stop and full.text.find(stop) >= 4
    forwards: list[int] = []
    handle = backend.model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        params = GenerationParams(max_tokens=20, stop=(stop, "never-occurs"))
        (cut,) = backend.generate([GenerateRequest(prompt=PROMPTS[0], params=params)])
    finally:
        handle.remove()
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < 20 and len(forwards) == cut.completion_tokens
    decoded = backend.tokenizer.decode(
        backend.tokenizer.encode(full.text, add_special_tokens=False)
    )
    assert decoded.startswith(cut.text)


def test_max_tokens_gives_length_finish(backend: HFBackend) -> None:
    prompt = PROMPTS[2]
    tokens = greedy_loop(backend, backend.tokenizer.encode(prompt), 3)
    assert tokens[-1] != backend.tokenizer.eos_token_id  # no EOS within 3 tokens here
    (result,) = backend.generate([GenerateRequest(prompt=prompt, params=GenerationParams(3))])
    assert (result.finish_reason, result.completion_tokens) == ("length", 3)


def test_seeded_sampling_repeats_regardless_of_batch(backend: HFBackend) -> None:
    def sample(seed: int, prompt: str = PROMPTS[2]) -> GenerateRequest:
        return GenerateRequest(prompt=prompt, params=GenerationParams(12, 1.0, 0.95, seed=seed))

    alone = backend.generate([sample(7)])[0]
    batched = backend.generate([sample(7), sample(7), sample(8), sample(7, PROMPTS[0])])
    assert batched[0] == batched[1] == alone
    assert batched[2].text != alone.text  # another seed draws another text
    greedy = backend.generate([GenerateRequest(prompt=PROMPTS[2], params=GenerationParams(12))])
    assert greedy[0].text != alone.text


def test_tiny_top_p_sampling_is_greedy(backend: HFBackend) -> None:
    params = GenerationParams(max_tokens=8, temperature=1.0, top_p=1e-6, seed=1)
    (sampled,) = backend.generate([GenerateRequest(prompt=PROMPTS[0], params=params)])
    (greedy,) = backend.generate([GenerateRequest(prompt=PROMPTS[0], params=GenerationParams(8))])
    assert sampled == greedy


def test_chat_messages_use_the_template(backend: HFBackend) -> None:
    request = GenerateRequest(messages=(Message("user", "hi"),), params=GenerationParams(4))
    if backend.tokenizer.chat_template is None:  # gpt2-style test tokenizer has none
        with pytest.raises(LmauditError, match="no chat template"):
            backend.generate([request])
        return
    (result,) = backend.generate([request])
    templated = "<|user|>hi\n<|assistant|>"
    prompt_ids = backend.tokenizer.encode(templated, add_special_tokens=False)
    assert result.prompt_tokens == len(prompt_ids)
    tokens = greedy_loop(backend, prompt_ids, 4)
    assert result.text == backend.tokenizer.decode(tokens, skip_special_tokens=True)


def test_chat_template_flag_wraps_plain_prompts(tmp_path: Path) -> None:
    directory = build_model(tmp_path / "llama", "llama")
    wrapped = HFBackend(str(directory), dtype="float32", device="cpu", chat_template=True)
    params = GenerationParams(4)
    (a,) = wrapped.generate([GenerateRequest(prompt="hi", params=params)])
    (b,) = wrapped.generate([GenerateRequest(messages=(Message("user", "hi"),), params=params)])
    assert a == b
