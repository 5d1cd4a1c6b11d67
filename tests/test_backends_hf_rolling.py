"""Rolling-window loglikelihood: window layout (lm-evaluation-harness) and the sum it yields."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_backends_hf_tiny import CORPUS, build_model

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.hf_tokens import TokenizedPair, rolling_windows  # noqa: E402
from lmaudit.core.types import RollingLoglikelihoodRequest  # noqa: E402

MAX_LENGTH = 16


def test_windows_match_lm_eval_layout_by_hand() -> None:
    # lm-eval's get_rolling_token_windows + make_disjoint_window for tokens 0..9,
    # prefix 99, max_seq_len 4, context_len 1, worked out by hand:
    #   first window: input [99, 0, 1, 2] predicts [0, 1, 2, 3]
    #   window_end 8: input tokens[3:7] = [3, 4, 5, 6] predicts [4, 5, 6, 7] -> context [3]
    #   window_end 10: input tokens[5:9] = [5, 6, 7, 8] predicts [8, 9] -> context [5, 6, 7]
    windows = rolling_windows(list(range(10)), prefix_token_id=99, max_length=4)
    assert windows == [
        TokenizedPair((99,), (0, 1, 2, 3)),
        TokenizedPair((3,), (4, 5, 6, 7)),
        TokenizedPair((5, 6, 7), (8, 9)),
    ]


def test_windows_cover_every_token_once_with_full_inputs() -> None:
    for n in (1, 4, 5, 17, 33):
        windows = rolling_windows(list(range(n)), prefix_token_id=-1, max_length=4)
        predicted = [t for w in windows for t in w.continuation]
        assert predicted == list(range(n))
        for w in windows[1:]:  # later windows use the full max_length of context
            assert len(w.context) + len(w.continuation) - 1 == 4
    assert rolling_windows([], prefix_token_id=0, max_length=4) == []


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    torch.set_num_threads(1)
    directory = build_model(tmp_path_factory.mktemp("gpt2"), "gpt2")
    return HFBackend(
        str(directory), dtype="float32", device="cpu", batch_size=4, max_length=MAX_LENGTH
    )


def explicit_loop(model: object, tokens: list[int], prefix: int) -> list[float]:
    """log p(tokens[j]) one forward per token, inputs as the rolling definition says.

    Token j belongs to the window predicting tokens[a:b] (a = 0, 16, 32, ...); it is
    predicted from the stream [prefix] + tokens, positions max(0, b - 16) .. j.
    """
    stream = [prefix, *tokens]
    values = []
    for j in range(len(tokens)):
        a = (j // MAX_LENGTH) * MAX_LENGTH
        b = min(a + MAX_LENGTH, len(tokens))
        inputs = stream[max(0, b - MAX_LENGTH) : j + 1]
        assert len(inputs) <= MAX_LENGTH
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([inputs])).logits[0, -1]  # type: ignore[operator]
        values.append(float(torch.log_softmax(logits, dim=-1)[tokens[j]]))
    return values


def test_rolling_sum_equals_explicit_per_token_loop(backend: HFBackend) -> None:
    texts = [" ".join(CORPUS[:3]), CORPUS[4], "Rome."]
    seen: list[int] = []
    results = backend.loglikelihood_rolling(
        [RollingLoglikelihoodRequest(t) for t in texts], progress=seen.append
    )
    assert sum(seen) == len(texts)
    tok = backend.tokenizer
    for text, result in zip(texts, results, strict=True):
        tokens = tok.encode(text, add_special_tokens=False)
        expected = explicit_loop(backend.model, tokens, tok.bos_token_id)
        assert result.n_tokens == len(tokens)
        assert result.token_logprobs == pytest.approx(expected, abs=1e-4)
        assert result.logprob == pytest.approx(sum(expected), abs=1e-3)
    assert results[0].n_tokens > 2 * MAX_LENGTH  # several windows, the last one partial


def test_empty_text_scores_zero(backend: HFBackend) -> None:
    (result,) = backend.loglikelihood_rolling([RollingLoglikelihoodRequest("")])
    assert (result.logprob, result.n_tokens) == (0.0, 0)


def test_llama_rolling_excludes_bos_from_predicted_tokens(tmp_path: Path) -> None:
    directory = build_model(tmp_path / "llama", "llama")
    backend = HFBackend(str(directory), dtype="float32", device="cpu", max_length=MAX_LENGTH)
    text = CORPUS[1]
    (result,) = backend.loglikelihood_rolling([RollingLoglikelihoodRequest(text)])
    tokens = backend.tokenizer.encode(text, add_special_tokens=False)
    assert result.n_tokens == len(tokens)
    expected = explicit_loop(backend.model, tokens, backend.tokenizer.bos_token_id)
    assert result.logprob == pytest.approx(sum(expected), abs=1e-3)
