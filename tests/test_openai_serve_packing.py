"""Packed prompts against `lmaudit serve` (a tiny random GPT-2 behind the real server):
the client's answers equal the unpacked ones exactly, and equal the backend's own.

The server scores one prompt per backend call (`max_batch_size=1`), so its numbers do not
depend on which prompts happen to share a forward pass: any difference would come from the
client's packing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LoglikelihoodRequest,
    Request,
    RollingLoglikelihoodRequest,
)
from lmaudit.serve.app import RunningServer, start_server_in_thread
from test_serve_support import tiny_backend

pytest.importorskip("torch")

PAIRS = [
    ("The capital of France is", " Paris."),
    ("A quick brown fox", " jumps over the lazy dog"),
    ("Numbers: 1 2 3", " 4 5 6 7"),
    ("Language models assign", " probabilities"),
    ("Question: What colour is the sky? Answer:", " blue"),
]
GREEDY = GenerationParams(max_tokens=4)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    backend = tiny_backend(tmp_path_factory, "gpt2")
    with start_server_in_thread(backend, served_name="tiny", max_batch_size=1) as running:
        yield running


def requests() -> list[Request]:
    made: list[Request] = [LoglikelihoodRequest(c, x) for c, x in PAIRS]
    made += [RollingLoglikelihoodRequest(c + x) for c, x in PAIRS[:3]]
    made += [GenerateRequest(c, params=GREEDY) for c, _ in PAIRS]
    return made


def answers(server: RunningServer, per_request: int) -> list[Any]:
    backend = OpenAIBackend("tiny", server.url, prompts_per_request=per_request)
    found: list[Any] = [None] * len(requests())
    for index, answer in backend.stream(requests()):
        found[index] = answer
    backend.close()
    return found


def test_packed_answers_equal_unpacked_answers_from_lmaudit_serve(server: RunningServer) -> None:
    before = server.stats()["requests_received"]
    alone = answers(server, 1)
    middle = server.stats()["requests_received"]
    packed = answers(server, 4)
    after = server.stats()["requests_received"]
    assert middle - before == 13
    # 8 echo prompts -> packs of 4 and 4; 5 generations -> 4 and 1.
    assert after - middle == 4
    for one, many in zip(alone, packed, strict=True):
        if isinstance(one, Generation):
            assert (many.text, many.finish_reason) == (one.text, one.finish_reason)
        else:
            assert many == one  # log-probs, token counts, greediness: exactly equal
            assert many.usage.prompt_tokens == one.usage.prompt_tokens
    generated = sum(a.completion_tokens for a in alone if isinstance(a, Generation))
    assert sum(a.completion_tokens for a in packed if isinstance(a, Generation)) == generated
    # and both equal the backend's own answers
    backend: Any = server.server.backend
    direct = backend.loglikelihood([LoglikelihoodRequest(c, x) for c, x in PAIRS])
    for over_http, local in zip(packed[: len(PAIRS)], direct, strict=True):
        assert over_http.logprob == pytest.approx(local.logprob, abs=1e-4)
        assert over_http.n_tokens == local.n_tokens
    local_texts = backend.generate([GenerateRequest(c, params=GREEDY) for c, _ in PAIRS])
    assert [g.text for g in packed[-len(PAIRS) :]] == [g.text for g in local_texts]
