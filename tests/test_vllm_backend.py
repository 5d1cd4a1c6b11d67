"""The vLLM backend: prompt-logprob conversion and token layout (no vLLM needed), the whole
backend over a stand-in engine that answers like vLLM from a tiny HF model, and, where vLLM
and a CUDA GPU exist, vLLM against the HF backend on a small local GPT-2."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from test_backends_hf_tiny import CORPUS, build_model, train_tokenizer

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.hf_tokens import TokenizedPair  # noqa: E402
from lmaudit.backends.vllm_backend import VLLM_MISSING, VLLMBackend  # noqa: E402
from lmaudit.backends.vllm_outputs import (  # noqa: E402
    ContinuationScores,
    combine_windows,
    continuation_scores,
    generation_from_output,
    generation_sampling_kwargs,
    scoring_max_length,
    scoring_pair,
    scoring_sampling_kwargs,
)
from lmaudit.core.types import (  # noqa: E402
    Fingerprint,
    GenerateRequest,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    Message,
    RollingLoglikelihoodRequest,
    Usage,
)

MAX_MODEL_LEN = 32


@dataclass(frozen=True)
class Logprob:
    """Shaped like vllm.logprobs.Logprob."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


# -- pure conversion ------------------------------------------------------------------------------


def test_continuation_scores_sum_the_last_tokens_and_read_ranks() -> None:
    prompt = [5, 7, 9, 11]
    logprobs: list[dict[int, Any] | None] = [
        None,
        {7: Logprob(-1.0, 2), 3: Logprob(-0.5, 1)},
        {9: Logprob(-0.25, 1)},
        {11: Logprob(-2.0, 3), 4: Logprob(-0.125, 1)},
    ]
    two = continuation_scores(prompt, logprobs, 2)
    assert two.token_logprobs == (-0.25, -2.0)
    assert two.logprob == -2.25
    assert two.greedy == (True, False)
    assert not two.is_greedy
    one_greedy = continuation_scores(prompt[:3], logprobs[:3], 1)
    assert one_greedy.logprob == -0.25 and one_greedy.is_greedy
    three = continuation_scores(prompt, logprobs, 3)
    assert three.logprob == -3.25 and three.greedy == (False, True, False)


def test_continuation_scores_without_rank_compare_logprobs() -> None:
    prompt = [1, 2, 3]
    logprobs: list[dict[int, Any] | None] = [
        None,
        {2: Logprob(-0.5), 8: Logprob(-0.75)},  # best listed token: greedy
        {3: Logprob(-1.5), 8: Logprob(-0.5)},  # beaten by token 8: not greedy
    ]
    scores = continuation_scores(prompt, logprobs, 2)
    assert scores.greedy == (True, False)
    assert scores.logprob == -2.0


def test_continuation_scores_reject_malformed_answers() -> None:
    prompt = [1, 2, 3]
    good: list[dict[int, Any] | None] = [None, {2: Logprob(-1.0, 1)}, {3: Logprob(-1.0, 1)}]
    with pytest.raises(LmauditError, match="2 prompt log-probabilities for 3"):
        continuation_scores(prompt, good[:2], 1)
    with pytest.raises(LmauditError, match="none prompt log-probabilities"):
        continuation_scores(prompt, None, 1)
    with pytest.raises(LmauditError, match="position 2"):
        continuation_scores(prompt, [None, {2: Logprob(-1.0, 1)}, {4: Logprob(-1.0, 1)}], 1)
    with pytest.raises(LmauditError, match="cannot score 3"):
        continuation_scores(prompt, good, 3)  # position 0 has no log-probability


def test_scoring_layout_leaves_room_for_one_generated_token() -> None:
    assert scoring_max_length(32) == 30
    with pytest.raises(LmauditError, match="at least 3"):
        scoring_max_length(2)
    pair = TokenizedPair(tuple(range(100, 140)), (1, 2, 3))
    fitted = scoring_pair(pair, 32)
    # prompt = context + continuation holds max_model_len - 1 = 31 tokens, continuation whole
    assert fitted.continuation == (1, 2, 3)
    assert len(fitted.context) + len(fitted.continuation) == 31
    assert fitted.context == tuple(range(112, 140))
    short = TokenizedPair((7, 8), (9,))
    assert scoring_pair(short, 32) == short
    with pytest.raises(LmauditError, match="does not fit"):
        scoring_pair(TokenizedPair((1,), tuple(range(31))), 32)


def test_sampling_kwargs() -> None:
    assert scoring_sampling_kwargs() == {
        "max_tokens": 1,
        "temperature": 0.0,
        "prompt_logprobs": 1,
        "detokenize": False,
    }
    greedy = generation_sampling_kwargs(GenerationParams(max_tokens=7, top_p=0.5, stop=("\n",)))
    assert greedy == {
        "n": 1,
        "max_tokens": 7,
        "temperature": 0.0,
        "top_p": 1.0,
        "stop": ["\n"],
        "seed": None,
        "skip_special_tokens": True,
    }
    sampled = generation_sampling_kwargs(
        GenerationParams(max_tokens=3, temperature=0.7, top_p=0.9, stop=("", "Q:"), seed=5)
    )
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.9
    assert sampled["seed"] == 5 and sampled["stop"] == ["Q:"]
    assert generation_sampling_kwargs(GenerationParams())["stop"] is None


def fake_output(
    prompt: list[int], text: str, token_ids: list[int], reason: str | None
) -> SimpleNamespace:
    completion = SimpleNamespace(text=text, token_ids=token_ids, finish_reason=reason)
    return SimpleNamespace(prompt_token_ids=prompt, prompt_logprobs=None, outputs=[completion])


def test_generation_from_output_fills_usage() -> None:
    generation = generation_from_output(fake_output([1, 2, 3], " Paris", [9, 4], "stop"), 0.25)
    assert generation.text == " Paris" and generation.finish_reason == "stop"
    assert (generation.prompt_tokens, generation.completion_tokens) == (3, 2)
    assert generation.usage == Usage(prompt_tokens=3, completion_tokens=2, latency_s=0.25)
    assert generation_from_output(fake_output([1], "x", [5], None), 0.0).finish_reason == "length"
    with pytest.raises(LmauditError, match="abort"):
        generation_from_output(fake_output([1], "", [], "abort"), 0.0)


def test_combine_windows_concatenates_in_order() -> None:
    scores = [ContinuationScores((-1.0, -2.0), (True, False)), ContinuationScores((-0.5,), (True,))]
    usages = [Usage(4, 1, 0.5), Usage(3, 1, 0.75)]
    result = combine_windows(scores, usages)
    assert result.token_logprobs == (-1.0, -2.0, -0.5)
    assert result.logprob == -3.5 and result.n_tokens == 3
    assert result.usage == Usage(prompt_tokens=7, completion_tokens=2, latency_s=0.75)


def test_missing_vllm_raises_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(LmauditError) as raised:
        VLLMBackend("gpt2")
    assert str(raised.value) == VLLM_MISSING


# -- the backend over a stand-in engine -----------------------------------------------------------


class HFPromptLogprobEngine:
    """Answers like vLLM's LLM.generate from a transformers model: prompt_logprobs (None at
    position 0, then the prompt token and the top-1 token with their ranks) and one greedy
    token; enforces vLLM's rule prompt length <= max_model_len - 1. Generation requests get
    canned outputs. Records every call."""

    def __init__(self, model: Any, max_model_len: int) -> None:
        self.model = model
        self.max_model_len = max_model_len
        self.calls: list[tuple[list[list[int]], list[dict[str, Any]]]] = []

    def run(self, prompts: Any, params: Any) -> list[Any]:
        self.calls.append(([list(p) for p in prompts], [dict(k) for k in params]))
        outputs = []
        for prompt, kwargs in zip(prompts, params, strict=True):
            assert 1 <= len(prompt) <= self.max_model_len - 1
            if kwargs.get("prompt_logprobs") is None:
                outputs.append(fake_output(list(prompt), "canned", [7, 8, 9], "length"))
                continue
            with torch.no_grad():
                logits = self.model(input_ids=torch.tensor([list(prompt)])).logits[0]
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            entries: list[dict[int, Logprob] | None] = [None]
            for i in range(1, len(prompt)):
                row = log_probs[i - 1]
                token = int(prompt[i])
                value = float(row[token])
                best = int(row.argmax())
                entries.append(
                    {
                        best: Logprob(float(row[best]), 1),
                        token: Logprob(value, 1 + int((row > row[token]).sum())),
                    }
                )
            output = fake_output(list(prompt), "", [int(log_probs[-1].argmax())], "length")
            output.prompt_logprobs = entries
            outputs.append(output)
        return outputs


FINGERPRINT = Fingerprint("vllm", "tiny", "0" * 16, "float32")


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair_of_backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[VLLMBackend, HFBackend, HFPromptLogprobEngine]:
    torch.set_num_threads(1)
    directory = build_model(
        tmp_path_factory.mktemp(request.param), request.param, n_positions=MAX_MODEL_LEN
    )
    hf = HFBackend(
        str(directory),
        dtype="float32",
        device="cpu",
        batch_size=4,
        max_length=scoring_max_length(MAX_MODEL_LEN),
    )
    engine = HFPromptLogprobEngine(hf.model, MAX_MODEL_LEN)
    vllm_like = VLLMBackend.from_engine(
        engine,
        hf.tokenizer,
        name=str(directory),
        max_model_len=MAX_MODEL_LEN,
        fingerprint=FINGERPRINT,
        call_size=3,
    )
    return vllm_like, hf, engine


LL_REQUESTS = [
    LoglikelihoodRequest("The capital of France is", " Paris."),
    LoglikelihoodRequest("The capital of France is", " Rome."),
    LoglikelihoodRequest("The capital of France is ", "Paris"),  # trailing space moves
    LoglikelihoodRequest("", "A quick brown fox"),  # empty context: prefix token
    LoglikelihoodRequest("   ", "blue"),  # whitespace-only context
    LoglikelihoodRequest(" ".join(CORPUS[:3]), " and the cat sleeps."),  # truncated left
    LoglikelihoodRequest("Question: What colour is the sky? Answer:", " blue"),
    LoglikelihoodRequest("The capital of France is", " Paris."),  # duplicate
]


def test_loglikelihood_equals_hf_backend(
    pair_of_backends: tuple[VLLMBackend, HFBackend, HFPromptLogprobEngine],
) -> None:
    backend, hf, engine = pair_of_backends
    engine.calls.clear()
    seen: list[int] = []
    ours = backend.loglikelihood(LL_REQUESTS, progress=seen.append)
    theirs = hf.loglikelihood(LL_REQUESTS)
    assert sum(seen) == len(LL_REQUESTS)
    # 7 distinct requests, call_size 3: engine calls of 3, 3 and 1 prompts
    assert [len(prompts) for prompts, _ in engine.calls] == [3, 3, 1]
    for request, a, b in zip(LL_REQUESTS, ours, theirs, strict=True):
        assert a.n_tokens == b.n_tokens == len(backend.tokenize_pair(request).continuation)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
        assert a.is_greedy == b.is_greedy
        pair = scoring_pair(backend.tokenize_pair(request), MAX_MODEL_LEN)
        assert a.usage is not None
        assert a.usage.prompt_tokens == len(pair.context) + len(pair.continuation)
        assert a.usage.completion_tokens == 1
    assert ours[0] == ours[-1]
    long_pair = backend.tokenize_pair(LL_REQUESTS[5])
    assert len(long_pair.context) + len(long_pair.continuation) > MAX_MODEL_LEN  # truncation ran


def test_rolling_equals_hf_backend(
    pair_of_backends: tuple[VLLMBackend, HFBackend, HFPromptLogprobEngine],
) -> None:
    backend, hf, _ = pair_of_backends
    texts = [" ".join(CORPUS), CORPUS[3], "", "Rome."]
    requests = [RollingLoglikelihoodRequest(t) for t in texts]
    seen: list[int] = []
    ours = backend.loglikelihood_rolling(requests, progress=seen.append)
    theirs = hf.loglikelihood_rolling(requests)
    assert sum(seen) == len(texts)
    n_long = len(backend.tokenizer.encode(texts[0], add_special_tokens=False))
    assert n_long > 3 * MAX_MODEL_LEN  # several windows
    assert ours[0].n_tokens == n_long
    assert ours[2].n_tokens == 0 and ours[2].logprob == 0.0
    for a, b in zip(ours, theirs, strict=True):
        assert a.n_tokens == b.n_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
    assert ours[0].usage is not None
    windows = math.ceil(n_long / scoring_max_length(MAX_MODEL_LEN))
    assert ours[0].usage.completion_tokens == windows


def test_generate_sends_prompt_ids_and_sampling_params(
    pair_of_backends: tuple[VLLMBackend, HFBackend, HFPromptLogprobEngine],
) -> None:
    backend, _, engine = pair_of_backends
    tokenizer = backend.tokenizer
    engine.calls.clear()
    sampled = GenerationParams(max_tokens=5, temperature=0.8, top_p=0.9, seed=3, stop=("\n",))
    long_prompt = " ".join(CORPUS)
    requests = [
        GenerateRequest(prompt="The capital of France is", params=GenerationParams(max_tokens=4)),
        GenerateRequest(prompt=long_prompt, params=sampled),
        GenerateRequest(prompt="skipped", params=GenerationParams(max_tokens=0)),
    ]
    seen: list[int] = []
    generations = backend.generate(requests, progress=seen.append)
    assert sum(seen) == 3
    assert len(engine.calls) == 1
    prompts, params = engine.calls[0]
    assert prompts[0] == tokenizer.encode("The capital of France is")  # tokenizer's BOS rule
    # truncated from the left so that 5 new tokens fit in max_model_len
    assert prompts[1] == tokenizer.encode(long_prompt)[-(MAX_MODEL_LEN - 5) :]
    dropped = len(tokenizer.encode(long_prompt)) - (MAX_MODEL_LEN - 5)
    assert backend.generation_notes == [
        f"1 of 1 prompts are longer than the model's {MAX_MODEL_LEN}-token context and lost "
        f"their first {dropped} tokens"
    ]
    assert params == [
        generation_sampling_kwargs(requests[0].params),
        generation_sampling_kwargs(sampled),
    ]
    assert [g.text for g in generations] == ["canned", "canned", ""]
    assert generations[0].prompt_tokens == len(prompts[0])
    assert generations[0].completion_tokens == 3
    assert generations[0].usage is not None and generations[0].usage.completion_tokens == 3
    assert generations[2].finish_reason == "length" and generations[2].completion_tokens == 0


def test_chat_messages_use_the_chat_template(
    pair_of_backends: tuple[VLLMBackend, HFBackend, HFPromptLogprobEngine],
) -> None:
    backend, _, engine = pair_of_backends
    tokenizer = backend.tokenizer
    request = GenerateRequest(
        messages=(Message("user", "Hi there"),), params=GenerationParams(max_tokens=4)
    )
    if not getattr(tokenizer, "chat_template", None):
        with pytest.raises(LmauditError, match="no chat template"):
            backend.generate([request])
        return
    engine.calls.clear()
    backend.generate([request])
    expected = tokenizer.encode(
        "<|user|>Hi there\n<|assistant|>", add_special_tokens=False
    )  # CHAT_TEMPLATE of test_backends_hf_tiny, no BOS added twice
    assert engine.calls[0][0] == [expected]


# -- vLLM itself, where it and a CUDA GPU exist ---------------------------------------------------


def build_gpu_model(directory: Path) -> Path:
    """A random GPT-2 with head size 64 (a size every vLLM attention kernel supports)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer: Any = train_tokenizer("gpt2")
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=128,
        n_layer=2,
        n_head=2,
        initializer_range=0.1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_vllm_matches_hf_backend_on_gpu(tmp_path: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'lmaudit[vllm]')")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU and none is available")
    directory = build_gpu_model(tmp_path / "gpt2")
    backend = VLLMBackend(
        str(directory), dtype="float32", max_model_len=256, gpu_memory_utilization=0.3
    )
    hf = HFBackend(
        str(directory), dtype="float32", device="cuda", max_length=scoring_max_length(256)
    )
    requests = [LoglikelihoodRequest(c, " " + w) for c in CORPUS for w in ("Paris", "the", "1")]
    for a, b in zip(backend.loglikelihood(requests), hf.loglikelihood(requests), strict=True):
        assert a.n_tokens == b.n_tokens
        assert abs(a.logprob - b.logprob) < 1e-3
    rolling = [RollingLoglikelihoodRequest(" ".join(CORPUS * 8))]
    ours, theirs = backend.loglikelihood_rolling(rolling), hf.loglikelihood_rolling(rolling)
    assert ours[0].n_tokens == theirs[0].n_tokens
    assert abs(ours[0].logprob - theirs[0].logprob) < 1e-3 * ours[0].n_tokens
    greedy = [GenerateRequest(prompt=c[:20], params=GenerationParams(max_tokens=8)) for c in CORPUS]
    for a_gen, b_gen in zip(backend.generate(greedy), hf.generate(greedy), strict=True):
        assert a_gen.completion_tokens >= 1
        assert a_gen.text[:3] == b_gen.text[:3]  # greedy; later tokens may split on ties
