"""Several prompts per completions request (`prompts_per_request`): grouping, answers mapped
back by choice index, token usage shared honestly, faults, refusals, and the CLI option.

The fake server tokenizes words and punctuation with their leading whitespace (see
tests/fake_openai_server.py); token counts below are written out from that rule.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.backends.openai_http import HttpEngine, HttpJob
from lmaudit.backends.openai_pacing import Endpoint
from lmaudit.backends.openai_packing import ordered_choices, plan_packs, split_total
from lmaudit.backends.openai_protocol import MalformedResponse
from lmaudit.backends.registry import load_backend
from lmaudit.commands._common import add_model_options, model_options
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    Request,
    Response,
    RollingLoglikelihoodRequest,
)

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}
SHORT = GenerationParams(max_tokens=3)
LONG = GenerationParams(max_tokens=8, stop=("\n",))


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def mixed(n: int) -> list[Request]:
    """Loglikelihood, rolling, and generation under two different settings, interleaved."""
    made: list[Request] = []
    for i in range(n):
        if i % 4 == 0:
            made.append(LoglikelihoodRequest(f"Item {i}: the answer is", f" word{i % 7}"))
        elif i % 4 == 1:
            made.append(RollingLoglikelihoodRequest(f"document {i} has some words"))
        else:
            made.append(GenerateRequest(f"{i} + 1 =", params=SHORT if i % 4 == 2 else LONG))
    return made


def collect(backend: OpenAIBackend, requests: Sequence[Request]) -> list[Response]:
    answers: list[Response | None] = [None] * len(requests)
    for index, answer in backend.stream(requests):
        assert answers[index] is None
        answers[index] = answer
    assert all(a is not None for a in answers)
    return answers  # type: ignore[return-value]


def content(answer: Response) -> Response | tuple[str, str]:
    """What packing must not change: everything of a (rolling) loglikelihood result;
    a generation's text and finish reason (its per-prompt token counts are estimates)."""
    return (answer.text, answer.finish_reason) if isinstance(answer, Generation) else answer


def tokens(answers: Sequence[Response]) -> tuple[int, int]:
    usages = [a.usage for a in answers if a.usage is not None]
    assert len(usages) == len(answers)
    return sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages)


# -- pure parts ----------------------------------------------------------------------------------


def test_split_total_by_largest_remainder() -> None:
    # 10 by (1, 1, 1): quotas 3.33 each; floors 3, 3, 3; the one left goes to the first.
    assert split_total(10, [1, 1, 1]) == [4, 3, 3]
    # 7 by (5, 0, 15): quotas 1.75, 0, 5.25; floors 1, 0, 5; the one left to .75.
    assert split_total(7, [5, 0, 15]) == [2, 0, 5]
    assert split_total(5, [0, 0]) == [3, 2]  # all-zero weights: evenly
    assert split_total(0, [3, 4]) == [0, 0]
    assert split_total(9, []) == []


def test_plan_packs_groups_equal_bodies_in_order() -> None:
    requests = mixed(12)
    # echo: 0, 1, 4, 5, 8, 9; SHORT generations: 2, 6, 10; LONG: 3, 7, 11.
    assert plan_packs(requests, 4) == [[0, 1, 4, 5], [2, 6, 10], [3, 7, 11], [8, 9]]
    assert plan_packs(requests, 1) == [[i] for i in range(12)]
    seeded = GenerationParams(max_tokens=3, seed=1)
    pair = [GenerateRequest("a", params=SHORT), GenerateRequest("b", params=seeded)]
    assert plan_packs(pair, 8) == [[0], [1]]  # different settings never share a request


def test_ordered_choices_maps_by_index_and_rejects_gaps_and_repeats() -> None:
    body = {"choices": [{"index": 1, "text": "b"}, {"index": 0, "text": "a"}]}
    assert [c["text"] for c in ordered_choices(body, 2)] == ["a", "b"]
    with pytest.raises(MalformedResponse, match=r"1 choices for 2 packed prompts \(no .* 1\)"):
        ordered_choices({"choices": [{"index": 0, "text": "a"}]}, 2)
    with pytest.raises(MalformedResponse, match="index 0 appears twice"):
        ordered_choices({"choices": [{"index": 0}, {"index": 0}]}, 2)
    with pytest.raises(MalformedResponse, match="index 2"):
        ordered_choices({"choices": [{"index": 0}, {"index": 2}]}, 2)
    with pytest.raises(MalformedResponse, match="index True"):
        ordered_choices({"choices": [{"index": 0}, {"index": True}]}, 2)


# -- against the fake server ---------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
def test_packed_results_equal_unpacked_results(reverse: bool) -> None:
    requests = mixed(40)
    with FakeOpenAIServer() as server:
        expected = collect(OpenAIBackend("fake", server.base_url), requests)
        assert server.requests_received == 40
    with FakeOpenAIServer(reverse_choices=reverse) as server:
        got = collect(OpenAIBackend("fake", server.base_url, prompts_per_request=4), requests)
        # 20 echo prompts -> 5 packs; 10 SHORT and 10 LONG generations -> 3 packs each.
        assert sorted(server.prompts_per_arrival) == [2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    assert [content(a) for a in got] == [content(a) for a in expected]
    assert tokens(got) == tokens(expected)  # the fake's usage is the sum over a pack
    for packed, alone in zip(got, expected, strict=True):
        if not isinstance(packed, Generation):  # echoed tokens give exact per-prompt counts
            assert packed.usage is not None and alone.usage is not None
            assert packed.usage.prompt_tokens == alone.usage.prompt_tokens


def test_generation_usage_is_split_by_prompt_and_text_length() -> None:
    requests = [
        GenerateRequest("2 + 2 =", params=LONG),  # "2", " +", " 2", " =": 4 tokens, 7 chars
        # "Please", " compute", ":", " 30", " +", " 12", " =": 7 tokens, 25 chars
        GenerateRequest("Please compute: 30 + 12 =", params=LONG),
    ]
    with FakeOpenAIServer() as server:
        got = collect(OpenAIBackend("fake", server.base_url, prompts_per_request=2), requests)
        assert server.prompts_per_arrival == [2]
    assert [(g.text, g.finish_reason) for g in got if isinstance(g, Generation)] == [
        (" 4", "stop"),
        (" 42", "stop"),
    ]
    # Prompt total 11 split 7:25 -> quotas 2.41, 8.59 -> 2, 9 (the truth is 4, 7).
    # Completion total 2 (one token each) split by text length 2:3 -> 0.8, 1.2 -> 1, 1.
    usages = [(g.usage.prompt_tokens, g.usage.completion_tokens) for g in got if g.usage]
    assert usages == [(2, 1), (9, 1)]
    assert [(g.prompt_tokens, g.completion_tokens) for g in got if isinstance(g, Generation)] == (
        usages
    )


def test_faults_hit_whole_packs_and_results_still_equal() -> None:
    requests = mixed(60)
    with FakeOpenAIServer() as clean:
        expected = collect(OpenAIBackend("fake", clean.base_url), requests)
    with FakeOpenAIServer(fault_rate=0.3, stall_s=1.0) as faulty:
        backend = OpenAIBackend(
            "fake", faulty.base_url, prompts_per_request=4, timeout=0.3, max_retries=10, **FAST
        )
        got = collect(backend, requests)
        assert sum(faulty.faults_sent.values()) >= 3
        # 30 echo prompts -> 8 packs; 15 + 15 generations -> 4 + 4 packs: 16 bodies, each
        # sent once plus once per fault it met.
        assert faulty.requests_received == 16 + sum(faulty.faults_sent.values())
    assert [content(a) for a in got] == [content(a) for a in expected]
    assert tokens(got) == tokens(expected)


def test_a_server_that_refuses_prompt_lists_gets_a_clear_error() -> None:
    requests = [GenerateRequest(f"{i} + 1 =", params=SHORT) for i in range(8)]
    with FakeOpenAIServer(accept_lists=False) as server:
        backend = OpenAIBackend("fake", server.base_url, prompts_per_request=4, **FAST)
        with pytest.raises(LmauditError) as failure:
            collect(backend, requests)
        assert all(n == 4 for n in server.prompts_per_arrival)  # never retried as a 400
        # the same requests one by one work
        assert len(collect(OpenAIBackend("fake", server.base_url), requests)) == 8
    assert str(failure.value) == (
        f"400 from {server.base_url}/completions: 'prompt' must be a string; this request "
        "packed 4 prompts (prompts_per_request=4); if the server does not accept a list of "
        "prompts, use --prompts-per-request 1"
    )


def test_a_missing_choice_is_retried_then_reported_with_the_hint() -> None:
    requests = [GenerateRequest(f"{i} + 1 =", params=SHORT) for i in range(3)]
    with FakeOpenAIServer(drop_last_choice=True) as server:
        backend = OpenAIBackend("fake", server.base_url, prompts_per_request=3, max_retries=1)
        with pytest.raises(LmauditError) as failure:
            collect(backend, requests)
        assert server.prompts_per_arrival == [3, 3]
    assert str(failure.value) == (
        f"request failed after 2 attempts: malformed response from {server.base_url}"
        "/completions: 2 choices for 3 packed prompts (no choice with index 2); this request "
        "packed 3 prompts (prompts_per_request=3); if the server does not accept a list of "
        "prompts, use --prompts-per-request 1"
    )


def test_admit_is_asked_per_prompt_and_a_refusal_cuts_the_pack() -> None:
    asked: list[Request] = []

    def admit(request: Request) -> bool:
        asked.append(request)
        return len(asked) <= 6

    requests: list[Request] = [GenerateRequest(f"{i} + 1 =", params=SHORT) for i in range(12)]
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("fake", server.base_url, prompts_per_request=4)
        answered = sorted(i for i, _ in backend.stream(requests, admit=admit))
        assert sorted(server.prompts_per_arrival) == [2, 4]
    assert answered == [0, 1, 2, 3, 4, 5]
    assert asked == requests[:7]  # never asked again after the refusal


# -- options -------------------------------------------------------------------------------------


def test_option_from_the_command_line_and_the_registry() -> None:
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    args = parser.parse_args(["--model", "openai:m@http://h:1/v1", "--prompts-per-request", "8"])
    assert model_options(args) == {"prompts_per_request": 8}
    backend = load_backend(args.model, model_options(args))
    assert isinstance(backend, OpenAIBackend) and backend.prompts_per_request == 8
    assert backend.fingerprint == load_backend(args.model).fingerprint  # answers are the same
    hf = parser.parse_args(["--model", "hf:gpt2", "--prompts-per-request", "8"])
    with pytest.raises(LmauditError, match="--prompts-per-request applies to openai"):
        model_options(hf)
    zero = parser.parse_args(["--model", "openai:m", "--prompts-per-request", "0"])
    with pytest.raises(LmauditError, match="--prompts-per-request must be positive"):
        model_options(zero)
    with pytest.raises(LmauditError, match="chat completions take one conversation"):
        load_backend("openai-chat:m@http://h:1/v1", {"prompts_per_request": 2})


def test_an_admit_that_raises_is_reported_and_frees_its_slot() -> None:
    def admit(index: int) -> bool:
        if index == 3:
            raise RuntimeError("the meter broke")
        return True

    def make_job(pack: Sequence[int]) -> HttpJob:
        raise AssertionError("nothing may be sent")  # every pack holds index 3 here

    engine = HttpEngine([Endpoint("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")], headers={})
    with pytest.raises(RuntimeError, match="the meter broke"):
        list(engine.stream([[0, 1, 2, 3]], make_job, admit))
    assert engine.limit.in_flight == 0
    engine.close()
