"""HFBackend.loglikelihood: shared-prefix scoring equals one plain forward per request.

The reference in every test is computed here, independently of the backend's scoring code:
one unbatched forward over `context + continuation` token ids, log-softmax, gather.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from test_backends_hf_tiny import build_model

torch = pytest.importorskip("torch")

from lmaudit.backends import hf_prefix  # noqa: E402
from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.hf_prefix import row_length, score_shared_prefix, split_rows  # noqa: E402
from lmaudit.backends.hf_scoring import TokenScores  # noqa: E402
from lmaudit.core.types import LoglikelihoodRequest  # noqa: E402

TOL = 1e-4  # nats, per token

CONTEXTS = [
    "The capital of France is",  # short
    "Question: What colour is the sky? Answer:",
    "A quick brown fox jumps over the lazy dog while the cat sleeps. Numbers: 1 2 3 4 5 6 "
    "7 8 9 10 11 12 and 3.14 or 2.718. Multiple choice questions have options",  # long
    "Q",
]
CONTINUATIONS = [" Paris", " blue, mostly", " A, B, C and D; pick one of them please", "."]


def reference(backend: HFBackend, request: LoglikelihoodRequest) -> tuple[list[float], bool]:
    """Per-token log-probs and greedy flag from one unbatched full-sequence forward."""
    pair = backend.tokenize_pair(request)
    ids = torch.tensor([list(pair.context + pair.continuation)])
    with torch.no_grad():
        logits = backend.model(input_ids=ids).logits[0].float()
    log_probs = torch.log_softmax(logits, dim=-1)
    n_ctx = len(pair.context)
    values, greedy = [], True
    for k, token in enumerate(pair.continuation):
        row = log_probs[n_ctx - 1 + k]
        values.append(float(row[token]))
        greedy &= int(row.argmax()) == token
    return values, greedy


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    torch.set_num_threads(1)
    directory = build_model(tmp_path_factory.mktemp(request.param), request.param)
    return HFBackend(str(directory), dtype="float32", device="cpu", batch_size=3)


def greedy_request(backend: HFBackend, context: str) -> LoglikelihoodRequest:
    """A request whose one-token continuation is the model's argmax after `context`."""
    pair = backend.tokenize_pair(LoglikelihoodRequest(context, ""))
    with torch.no_grad():
        logits = backend.model(input_ids=torch.tensor([list(pair.context)])).logits[0, -1]
    text = backend.tokenizer.decode([int(logits.argmax())])
    return LoglikelihoodRequest(context, text)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_packed_mode_is_chosen_by_the_self_check_on_the_installed_transformers(
    tmp_path: Path, arch: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever transformers is installed, the real self-check (multi-token continuations
    against the naive path) keeps the packed mode, and says so without a warning."""
    directory = build_model(tmp_path / arch, arch)
    fresh = HFBackend(str(directory), dtype="float32", device="cpu", batch_size=3)
    assert fresh.scoring_path is None  # nothing scored yet
    requests = [LoglikelihoodRequest(c, k) for c in CONTEXTS for k in CONTINUATIONS]
    with caplog.at_level(logging.WARNING):
        fresh.loglikelihood(requests)
    assert fresh.scoring_path == {"mode": "packed", "reasons": [], "checked": True}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_ragged_multiple_choice_matches_unbatched_reference(backend: HFBackend) -> None:
    # 4 contexts of different lengths x 4 continuations of 1 to ~10 tokens, batch_size 3:
    # two context batches, continuation chunks mixing rows of different contexts.
    requests = [LoglikelihoodRequest(c, k) for c in CONTEXTS for k in CONTINUATIONS]
    requests += [greedy_request(backend, c) for c in CONTEXTS]
    results = backend.loglikelihood(requests)
    lengths = {r.n_tokens for r in results}
    assert 1 in lengths and max(lengths) >= 5
    worst = 0.0
    for request, result in zip(requests, results, strict=True):
        expected, greedy = reference(backend, request)
        assert result.n_tokens == len(expected) == len(result.token_logprobs)
        worst = max(
            worst, *(abs(a - b) for a, b in zip(result.token_logprobs, expected, strict=True))
        )
        assert result.logprob == pytest.approx(sum(expected), abs=TOL * len(expected))
        assert result.is_greedy == greedy
    assert worst < TOL
    assert any(r.is_greedy for r in results) and not all(r.is_greedy for r in results)


def test_model_is_sensitive_to_context(backend: HFBackend) -> None:
    # Guards the equality tests: token scores must depend on the context far beyond TOL.
    a, b = backend.loglikelihood(
        [LoglikelihoodRequest(CONTEXTS[0], " Paris"), LoglikelihoodRequest(CONTEXTS[1], " Paris")]
    )
    assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs, strict=True)) > 0.25


def test_single_token_continuations_need_one_forward_per_context_batch(
    backend: HFBackend,
) -> None:
    requests = [LoglikelihoodRequest(c, k) for c in CONTEXTS[:2] for k in (".", " A", " B")]
    backend.loglikelihood(requests[:1])  # the one-time self-check happens here, if at all
    forwards: list[int] = []
    handle = backend.model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        results = backend.loglikelihood(requests)
    finally:
        handle.remove()
    assert len(forwards) == 1 and {r.n_tokens for r in results} == {1}
    for request, result in zip(requests, results, strict=True):
        assert result.token_logprobs[0] == pytest.approx(reference(backend, request)[0][0], abs=TOL)


def test_trailing_space_moves_to_continuation(backend: HFBackend) -> None:
    moved, plain = backend.loglikelihood(
        [
            LoglikelihoodRequest("The capital of France is ", "Paris"),
            LoglikelihoodRequest("The capital of France is", " Paris"),
        ]
    )
    assert moved == plain


def test_continuation_tokens_come_from_the_whole_encoding(backend: HFBackend) -> None:
    tok = backend.tokenizer
    pair = backend.tokenize_pair(LoglikelihoodRequest("The capital of France is", " Paris"))
    whole = tok.encode("The capital of France is Paris")
    context = tok.encode("The capital of France is")
    assert pair.context == tuple(context)
    assert pair.continuation == tuple(whole[len(context) :])
    # BOS only where the tokenizer's post-processor adds it (llama-style), never for gpt2.
    assert (pair.context[0] == tok.bos_token_id) == (tok.bos_token == "<s>")


def test_empty_context_conditions_on_prefix_token(backend: HFBackend) -> None:
    tok = backend.tokenizer
    request = LoglikelihoodRequest("", "The sky is blue")
    pair = backend.tokenize_pair(request)
    assert pair.context == (tok.bos_token_id,)
    assert pair.continuation == tuple(tok.encode("The sky is blue", add_special_tokens=False))
    (result,) = backend.loglikelihood([request])
    assert result.logprob == pytest.approx(sum(reference(backend, request)[0]), abs=1e-3)


def test_duplicates_are_scored_once_and_progress_counts_requests(backend: HFBackend) -> None:
    requests = [LoglikelihoodRequest(CONTEXTS[0], k) for k in CONTINUATIONS] * 3
    seen: list[int] = []
    results = backend.loglikelihood(requests, progress=seen.append)
    assert sum(seen) == len(requests)
    assert results[:4] == results[4:8] == results[8:]


def test_left_truncation_keeps_whole_continuation(tmp_path: Path) -> None:
    directory = build_model(tmp_path / "m", "gpt2")
    backend = HFBackend(str(directory), dtype="float32", device="cpu", max_length=12)
    request = LoglikelihoodRequest(CONTEXTS[2], " Paris is nice")
    pair = backend.tokenize_pair(request)
    assert len(pair.context) + len(pair.continuation) > 13
    kept = list(pair.context + pair.continuation)[-13:]  # max_length + 1 tokens, as lm-eval
    with torch.no_grad():
        logits = backend.model(input_ids=torch.tensor([kept[:-1]])).logits[0]
    log_probs = torch.log_softmax(logits, dim=-1)
    n = len(pair.continuation)
    expected = [float(log_probs[12 - n + k, t]) for k, t in enumerate(pair.continuation)]
    (result,) = backend.loglikelihood([request, request])[:1]
    assert result.n_tokens == n
    assert result.token_logprobs == pytest.approx(expected, abs=TOL)


def test_stats_are_mean_and_variance_of_next_token_logprob(backend: HFBackend) -> None:
    request = LoglikelihoodRequest(CONTEXTS[1], " blue, mostly")
    other = LoglikelihoodRequest(CONTEXTS[1], " red")
    (result, stats), _ = backend.loglikelihood_with_stats([request, other])
    pair = backend.tokenize_pair(request)
    ids = torch.tensor([list(pair.context + pair.continuation)])
    with torch.no_grad():
        log_probs = torch.log_softmax(backend.model(input_ids=ids).logits[0], dim=-1)
    n_ctx = len(pair.context)
    for k in range(result.n_tokens):
        row = log_probs[n_ctx - 1 + k].double()
        p = row.exp()
        mean = float((p * row).sum())
        assert stats.means[k] == pytest.approx(mean, abs=1e-4)
        assert stats.variances[k] == pytest.approx(float((p * (row - mean) ** 2).sum()), abs=1e-3)


@pytest.mark.parametrize("broken", [("packed",), ("packed", "copy")])
def test_broken_modes_are_caught_by_self_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    broken: tuple[str, ...],
) -> None:
    directory = build_model(tmp_path / "m", "gpt2")
    backend = HFBackend(str(directory), dtype="float32", device="cpu")
    original = hf_prefix.score_shared_prefix

    def off_by_one_nat(*args: Any, **kwargs: Any) -> list[TokenScores]:
        scored = original(*args, **kwargs)
        if kwargs.get("mode", "packed") not in broken:
            return scored
        return [TokenScores(tuple(x - 1 for x in s.token_logprobs), s.greedy) for s in scored]

    monkeypatch.setattr(hf_prefix, "score_shared_prefix", off_by_one_nat)
    monkeypatch.setattr("lmaudit.backends.hf.score_shared_prefix", off_by_one_nat)
    requests = [LoglikelihoodRequest(c, k) for c in CONTEXTS for k in CONTINUATIONS[:2]]
    with caplog.at_level(logging.WARNING):
        results = backend.loglikelihood(requests)
        backend.loglikelihood(requests)
    assert backend.shared_prefix_mode == (None if "copy" in broken else "copy")
    path = backend.scoring_path
    assert path is not None and path["mode"] == (backend.shared_prefix_mode or "naive")
    assert len(path["reasons"]) == len(broken)
    assert all("differs from the naive path by 1 nats" in r for r in path["reasons"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1  # one line, once, however many calls
    assert f"uses the {path['mode']} path, slower than packed" in warnings[0]
    for request, result in zip(requests, results, strict=True):
        assert result.token_logprobs == pytest.approx(reference(backend, request)[0], abs=TOL)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("mode", ["packed", "copy"])
def test_each_mode_and_attention_matches_reference(
    tmp_path: Path, arch: str, attention: str, mode: str
) -> None:
    from transformers import AutoModelForCausalLM

    directory = build_model(tmp_path / arch, arch)
    backend = HFBackend(str(directory), dtype="float32", device="cpu")
    model = AutoModelForCausalLM.from_pretrained(directory, attn_implementation=attention)
    requests = [LoglikelihoodRequest(c, k) for c in CONTEXTS for k in CONTINUATIONS]
    pairs = [backend.tokenize_pair(r) for r in requests]
    with torch.inference_mode():
        scored = score_shared_prefix(model, pairs, batch_size=3, pad_id=0, mode=mode)
    for request, result in zip(requests, scored, strict=True):
        assert result.token_logprobs == pytest.approx(reference(backend, request)[0], abs=TOL)


def test_many_long_options_are_split_over_rows_that_fit(tmp_path: Path) -> None:
    # max_length 24: the context (~8 tokens) and 8 options of ~5-10 tokens cannot share one
    # packed row, so the context is repeated over several rows; scores stay exact.
    directory = build_model(tmp_path / "m", "gpt2")
    backend = HFBackend(str(directory), dtype="float32", device="cpu", max_length=24)
    options = [" the lazy dog", " blue, mostly", " Rome or Paris", " A, B, C and D"]
    requests = [LoglikelihoodRequest(CONTEXTS[0], o + s) for o in options for s in ("", ".")]
    pairs = [backend.tokenize_pair(r) for r in requests]
    rows = split_rows(pairs[0].context, list(range(len(pairs))), pairs, 24)
    assert len(rows) > 1 and all(row_length(row, pairs) <= 24 for row in rows)
    assert sorted(i for _, members in rows for i in members) == list(range(len(pairs)))
    results = backend.loglikelihood(requests)
    assert backend.shared_prefix_mode == "packed"
    for request, result in zip(requests, results, strict=True):
        assert result.token_logprobs == pytest.approx(reference(backend, request)[0], abs=TOL)
