"""Budget forcing on a tiny random GPT-2 whose thinking tags are single added tokens.

A scripted wrapper makes the model close its thinking at known positions (the close tag's
logit is raised at those query positions and lowered elsewhere; EOS and the open tag are
never chosen), and records every token fed to the model. The tests then read, from what
the model was fed, exactly when the close tag came and how many "Wait" texts replaced it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from test_backends_hf_tiny import train_tokenizer

torch = pytest.importorskip("torch")

from lmaudit.backends.budget_forcing import generate_with_budget  # noqa: E402
from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.hf_prefix import cache_argument  # noqa: E402
from lmaudit.core.types import (  # noqa: E402
    GenerateRequest,
    GenerationParams,
    ThinkingControl,
)

PROMPT = "Question: What colour is the sky? Answer: <think>"


class ScriptedCloser(torch.nn.Module):
    """The tiny model, but it emits the close tag right after the query positions in
    `close_after` (greedy) and never emits EOS or the tags otherwise; it records what it
    is fed, one list per batch row (pads with attention 0 left out)."""

    def __init__(self, model: Any, open_id: int, close_id: int, eos_id: int) -> None:
        super().__init__()
        self.inner, self.open_id, self.close_id, self.eos_id = model, open_id, close_id, eos_id
        self.close_after: set[int] = set()
        self.sequence = [close_id]  # the close tag's ids (one token unless a test says)
        self.fed: list[list[int]] = []

    @property
    def device(self) -> Any:
        return self.inner.device

    @property
    def generation_config(self) -> Any:
        return self.inner.generation_config

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None,
                use_cache: bool = True, cache: Any = None, **kwargs: Any) -> Any:
        if cache is None:
            self.fed = [[] for _ in range(input_ids.shape[0])]
        else:
            for r in range(input_ids.shape[0]):
                if int(attention_mask[r, -1]):
                    self.fed[r].append(int(input_ids[r, -1]))
        out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                         position_ids=position_ids, use_cache=use_cache,
                         **({} if cache is None else {cache_argument(self.inner): cache}),
                         **kwargs)
        logits = out.logits.clone()
        logits[..., [self.eos_id, self.open_id, *self.sequence]] = -1e4
        for j, token in enumerate(self.sequence):  # the tag's j-th token j steps later
            wanted = torch.zeros_like(position_ids, dtype=torch.bool)
            for q in self.close_after:
                wanted |= position_ids == q + j
            logits[..., token] = torch.where(wanted, 1e4, logits[..., token])
        out.logits = logits
        return out


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(1)
    directory: Path = tmp_path_factory.mktemp("thinker")
    tokenizer: Any = train_tokenizer("gpt2")
    tokenizer.add_tokens(["<think>", "</think>"])
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2,
                        n_head=2, initializer_range=0.3, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    hf = HFBackend(str(directory), dtype="float32", device="cpu", batch_size=4)
    ids = hf.tokenizer.convert_tokens_to_ids(["<think>", "</think>"])
    hf._loaded = dataclasses.replace(hf._loaded, model=ScriptedCloser(
        hf.model, ids[0], ids[1], hf.tokenizer.eos_token_id))
    return hf


def _assert_greedy_outside(backend: HFBackend, fed: list[int], inserted: set[int]) -> None:
    """Every fed token not in `inserted` (indices) is the scripted model's argmax given
    the prompt and all tokens fed before it, recomputed in one pass without a cache."""
    prompt = backend.tokenizer.encode(PROMPT)
    ids = torch.tensor([prompt + fed])
    with torch.inference_mode():
        logits = backend.model(input_ids=ids, attention_mask=torch.ones_like(ids),
                               position_ids=torch.arange(ids.shape[1])[None]).logits[0]
    best = logits[len(prompt) - 1:-1].argmax(-1).tolist()
    assert [t for j, t in enumerate(fed) if j not in inserted] == [
        b for j, b in enumerate(best) if j not in inserted]


def _ids(backend: HFBackend) -> tuple[list[int], int, list[int]]:
    tok = backend.tokenizer
    return (tok.encode(PROMPT), tok.convert_tokens_to_ids("</think>"),
            tok.encode("Wait", add_special_tokens=False))


def _run(backend: HFBackend, control: ThinkingControl, close_after: set[int],
         max_tokens: int = 40, **params: Any) -> Any:
    backend.model.close_after = close_after
    request = GenerateRequest(PROMPT, params=GenerationParams(
        max_tokens, thinking=control, logprobs=True, **params))
    return backend.generate([request])[0], backend.model.fed[0]


def test_tags_are_single_tokens_and_the_prompt_opens_thinking(backend: HFBackend) -> None:
    prompt, close, _ = _ids(backend)
    assert prompt[-1] == backend.tokenizer.convert_tokens_to_ids("<think>")
    assert len(backend.tokenizer.encode("</think>", add_special_tokens=False)) == 1
    assert close not in prompt


@pytest.mark.parametrize("budget", [0, 1, 4, 9])
def test_budget_forces_the_close_tag_after_exactly_b_thinking_tokens(
    backend: HFBackend, budget: int
) -> None:
    prompt, close, _ = _ids(backend)
    natural = len(prompt) - 1 + 10  # unforced, the model would close after 10 thoughts
    generation, fed = _run(backend, ThinkingControl(budget=budget), {natural})
    assert fed.index(close) == budget  # B thinking tokens, then the forced tag
    _assert_greedy_outside(backend, fed, {budget})
    assert generation.thinking.tokens == budget
    assert generation.thinking.forced_stop and generation.thinking.closed
    thought = backend.tokenizer.decode(fed[:budget])
    assert generation.text.startswith(thought + "</think>")
    assert generation.completion_tokens == 40 and generation.finish_reason == "length"
    # One log-probability per token the model chose: the inserted tag has none, and
    # none of the chosen tokens is the improbable tag (the script gives it -1e4).
    assert len(generation.token_logprobs) == 39
    assert min(generation.token_logprobs) > -100


def test_a_budget_above_the_natural_length_changes_nothing(backend: HFBackend) -> None:
    prompt, close, _ = _ids(backend)
    natural = len(prompt) - 1 + 6
    forced, fed = _run(backend, ThinkingControl(budget=20), {natural})
    assert fed.index(close) == 6 and not forced.thinking.forced_stop
    assert forced.thinking.tokens == 6
    _assert_greedy_outside(backend, fed, set())  # nothing inserted: plain greedy decoding


@pytest.mark.parametrize("extend", [1, 2, 3])
def test_extension_replaces_the_close_tag_by_wait_exactly_w_times(
    backend: HFBackend, extend: int
) -> None:
    prompt, close, wait = _ids(backend)
    first = len(prompt) - 1 + 3  # the model closes after 3 thoughts, then again 3 later
    wants = {first + k * (3 + len(wait)) for k in range(5)}
    generation, fed = _run(backend, ThinkingControl(extend=extend), wants, max_tokens=60)
    expected_close_at = 3 * (extend + 1) + extend * len(wait)
    assert fed.index(close) == expected_close_at
    thinking = fed[:expected_close_at]
    for k in range(extend):  # each suppressed close became the wait text, in place
        start = 3 * (k + 1) + k * len(wait)
        assert thinking[start:start + len(wait)] == wait
    assert generation.thinking.extensions == extend
    assert generation.thinking.tokens == 3 * (extend + 1)  # wait tokens are not thoughts
    assert not generation.thinking.forced_stop
    thought = generation.text.split("</think>")[0]
    assert thought.count("Wait") == extend
    waits = {3 * (k + 1) + k * len(wait) + i for k in range(extend) for i in range(len(wait))}
    _assert_greedy_outside(backend, fed, waits)  # the model saw "... Wait", no tag


def test_a_minimum_replaces_every_early_close_by_wait(backend: HFBackend) -> None:
    prompt, close, wait = _ids(backend)
    first = len(prompt) - 1 + 3  # the model closes after 3 thoughts, then every 3 more
    wants = {first + k * (3 + len(wait)) for k in range(5)}
    generation, fed = _run(backend, ThinkingControl(min_tokens=7), wants, max_tokens=50)
    # closes at 3 and 6 thoughts come too early (Wait); the one at 9 stands.
    assert generation.thinking.extensions == 2 and generation.thinking.tokens == 9
    assert fed.index(close) == 9 + 2 * len(wait)


def test_budget_and_extension_together_count_only_thoughts(backend: HFBackend) -> None:
    prompt, close, wait = _ids(backend)
    first = len(prompt) - 1 + 3
    wants = {first + k * (3 + len(wait)) for k in range(5)}
    generation, fed = _run(backend, ThinkingControl(budget=7, extend=5), wants, max_tokens=50)
    # 3 thoughts, Wait, 3 thoughts, Wait, 1 thought: the budget of 7 runs out first.
    assert generation.thinking.extensions == 2 and generation.thinking.forced_stop
    assert fed.index(close) == 7 + 2 * len(wait)
    assert generation.thinking.tokens == 7


def test_answer_prefix_follows_the_forced_tag(backend: HFBackend) -> None:
    _, close, _ = _ids(backend)
    control = ThinkingControl(budget=2, answer_prefix="Answer:")
    generation, fed = _run(backend, control, set())
    prefix = backend.tokenizer.encode("Answer:", add_special_tokens=False)
    assert fed[2:3 + len(prefix)] == [close, *prefix]
    assert "</think>Answer:" in generation.text


def test_seeded_sampling_reproduces_and_the_budget_holds_in_a_batch(backend: HFBackend) -> None:
    backend.model.close_after = set()
    control = ThinkingControl(budget=5)
    requests = [GenerateRequest(p, params=GenerationParams(
        20, temperature=1.0, seed=s, thinking=control))
        for p, s in ((PROMPT, 1), (PROMPT, 2), ("A much longer prompt, so: <think>", 3))]
    first = backend.generate(requests)
    assert backend.generate(requests) == first
    assert [g.thinking.tokens for g in first] == [5, 5, 5]
    assert len({g.text for g in first}) == 3  # seeds differ: samples differ
    assert all(g.text.count("</think>") == 1 for g in first)


def test_a_model_that_never_opens_thinking_is_not_forced(backend: HFBackend) -> None:
    backend.model.close_after = set()
    prompt = backend.tokenizer.encode("The capital of France is")
    params = GenerationParams(12, thinking=ThinkingControl(budget=2))
    generation = generate_with_budget(
        backend.model, backend.tokenizer, [prompt], params, pad_id=0,
        eos_ids={backend.tokenizer.eos_token_id})[0]
    assert "</think>" not in generation.text
    assert generation.thinking.tokens == 0 and not generation.thinking.forced_stop
