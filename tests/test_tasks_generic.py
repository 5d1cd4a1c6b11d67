"""The generic task types: requests, and scoring on hand-made responses with known values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.task import Aggregation
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
)
from lmaudit.tasks.generic import (
    GenerateTask,
    MultipleChoiceTask,
    PerplexityTask,
    count_words,
    multiple_choice_metrics,
    softmax,
)


def ll(logprob: float) -> LoglikelihoodResult:
    return LoglikelihoodResult(logprob=logprob, is_greedy=False, n_tokens=1)


def mc_task(samples: list[Sample], **kwargs: object) -> MultipleChoiceTask:
    return MultipleChoiceTask("mc", lambda: samples, **kwargs)  # type: ignore[arg-type]


def test_mc_requests_one_per_option_with_delimiter() -> None:
    sample = Sample("q1", "Question: sky?\nAnswer:", 1, choices=("green", "blue"))
    task = mc_task([sample], description="About colours.\n\n")
    assert task.requests(sample) == [
        LoglikelihoodRequest("About colours.\n\nQuestion: sky?\nAnswer:", " green"),
        LoglikelihoodRequest("About colours.\n\nQuestion: sky?\nAnswer:", " blue"),
    ]
    assert task.request_kinds == frozenset({RequestKind.LOGLIKELIHOOD})


def test_mc_metrics_known_softmax_values() -> None:
    # log-probs ln .5, ln .3, ln .2: the softmax is exactly (.5, .3, .2).
    logprobs = [math.log(0.5), math.log(0.3), math.log(0.2)]
    sample = Sample("q", "Q:", 1, choices=("a", "b", "c"), metadata={"cluster": "k"})
    record = mc_task([sample]).score(sample, [ll(x) for x in logprobs])
    assert record.extracted == "0" and record.response == "a" and record.target == "b"
    assert record.metrics["acc"] == 0.0
    assert record.metrics["confidence"] == pytest.approx(0.5)
    assert record.metrics["p_correct"] == pytest.approx(0.3)
    # Brier: (.5 - 0)^2 + (.3 - 1)^2 + (.2 - 0)^2 = .25 + .49 + .04 = .78
    assert record.metrics["brier"] == pytest.approx(0.78)
    assert record.choice_logprobs == tuple(logprobs)
    assert record.cluster == "k"
    assert record.prompt == "Q:"


def test_acc_and_acc_norm_differ_on_long_options() -> None:
    # Raw: -3 > -10, so acc picks "no". Per character: -3/2 = -1.5 < -10/20 = -0.5, so
    # acc_norm picks the 20-character option, which is the target.
    options = ("no", "a much longer answer")
    assert len(options[1]) == 20
    pred, metrics = multiple_choice_metrics([-3.0, -10.0], options, target=1)
    assert pred == 0
    assert metrics["acc"] == 0.0 and metrics["acc_norm"] == 1.0 and metrics["acc_norm_chars"] == 1.0


def test_acc_norm_counts_utf8_bytes_and_acc_norm_chars_counts_characters() -> None:
    # "éé" is 2 characters but 4 UTF-8 bytes. Per character: -3/2 = -1.5 < -2/2 = -1, so
    # acc_norm_chars picks option 1; per byte: -3/4 = -0.75 > -1, so acc_norm picks option 0.
    _, metrics = multiple_choice_metrics([-3.0, -2.0], ("\u00e9\u00e9", "ab"), target=0)
    assert metrics["acc"] == 0.0 and metrics["acc_norm"] == 1.0
    assert metrics["acc_norm_chars"] == 0.0


def test_ties_go_to_the_lowest_index_and_softmax_handles_minus_infinity() -> None:
    pred, metrics = multiple_choice_metrics([-1.0, -1.0], ("x", "y"), target=1)
    assert pred == 0 and metrics["acc"] == 0.0 and metrics["confidence"] == 0.5
    assert softmax([-math.inf, -math.inf]) == [0.5, 0.5]
    assert softmax([0.0, -math.inf]) == [1.0, 0.0]


def test_mc_score_rejects_wrong_response_count() -> None:
    sample = Sample("q", "Q:", 0, choices=("a", "b"))
    with pytest.raises(ValueError, match="expected 2 responses, got 1"):
        mc_task([sample]).score(sample, [ll(-1.0)])


def test_mc_metric_specs() -> None:
    specs = {m.name: m for m in mc_task([]).metrics}
    assert specs["acc"].aggregation is Aggregation.PROPORTION
    assert specs["acc_norm"].aggregation is Aggregation.PROPORTION
    for name in ("confidence", "p_correct", "brier"):
        assert specs[name].aggregation is Aggregation.MEAN
    assert specs["brier"].higher_is_better is False


def test_generate_single_greedy_request_and_numeric_scoring() -> None:
    sample = Sample("g", "Question: 2+3?\nAnswer:", "#### 5", metadata={"cluster": "t1"})
    task = GenerateTask("gen", lambda: [sample], scorer="numeric", max_tokens=32, stop=("\n",))
    (request,) = task.requests(sample)
    assert isinstance(request, GenerateRequest)
    assert request.prompt == "Question: 2+3?\nAnswer:"
    assert request.params.greedy and request.params.max_tokens == 32
    assert request.params.stop == ("\n",)
    record = task.score(sample, [Generation(" 2 + 3 = 5. #### 5")])
    assert record.metrics == {
        "acc_strict": 1.0, "acc_flexible": 1.0,
        "extract_fail_strict": 0.0, "extract_fail_flexible": 0.0,
    }
    assert record.response == " 2 + 3 = 5. #### 5" and record.extracted == "5"
    wrong = task.score(sample, [Generation("The answer is 6")])
    assert wrong.metrics["acc_flexible"] == 0.0 and wrong.metrics["extract_fail_strict"] == 1.0
    specs = {m.name: m for m in task.metrics}
    assert specs["acc_strict"].aggregation is Aggregation.PROPORTION
    assert specs["extract_fail_strict"].higher_is_better is False


def test_generate_two_attempts_pass_when_either_is_correct() -> None:
    sample = Sample("a", "grid?", "12\n34", metadata={"max_tokens": 10})
    task = GenerateTask("arc", lambda: [sample], scorer="arc_grid", attempts=2,
                        sample_temperature=0.7, sample_seed=5)
    first, second = task.requests(sample)
    assert isinstance(first, GenerateRequest) and isinstance(second, GenerateRequest)
    assert first.params.temperature == 0.0 and first.params.max_tokens == 10
    assert second.params.temperature == 0.7 and second.params.seed == 6
    passed = task.score(sample, [Generation("99\n99"), Generation("12\n34")])
    assert passed.metrics == {"acc": 1.0, "first_attempt_correct": 0.0}
    assert passed.response == "12\n34" and passed.extra["chosen_attempt"] == 2
    failed = task.score(sample, [Generation("99\n99"), Generation("no grid")])
    assert failed.metrics == {"acc": 0.0, "first_attempt_correct": 0.0}
    assert failed.response == "99\n99" and failed.extracted == "99\n99"
    assert [m.name for m in task.metrics] == ["acc", "first_attempt_correct"]


def test_perplexity_per_sample_columns() -> None:
    text = "hello world"  # 11 bytes, 2 words
    sample = Sample("d", text, "")
    task = PerplexityTask("ppl", lambda: [sample])
    assert task.requests(sample) == [RollingLoglikelihoodRequest(text)]
    record = task.score(sample, [RollingLoglikelihoodResult(logprob=-11 * math.log(2), n_tokens=4)])
    assert record.metrics["nll"] == pytest.approx(11 * math.log(2))
    assert record.metrics["n_bytes"] == 11 and record.metrics["n_words"] == 2
    assert record.metrics["n_tokens"] == 4


def test_word_count_follows_lm_eval_regex_split() -> None:
    assert count_words("a b\n\nc") == 3
    assert count_words("a b ") == 3  # re.split(r"\s+", "a b ") == ["a", "b", ""]


def test_perplexity_ratio_metrics_aggregate_as_ratio_of_sums() -> None:
    # Doc 1: 8 bytes, 2 words, 4 tokens, nll = 8 ln 2. Doc 2: 24 bytes ("é" is 2 bytes),
    # 3 words, 6 tokens, nll = 16 ln 2. Totals: 32 bytes, 5 words, 10 tokens, 24 ln 2 nats.
    docs = ["abc defg", "\u00e9" * 5 + " " + "\u00e9" * 4 + " abcd"]
    assert [len(d.encode()) for d in docs] == [8, 24]
    samples = [Sample(str(i), d, "") for i, d in enumerate(docs)]
    task = PerplexityTask("ppl", lambda: samples)
    results = [RollingLoglikelihoodResult(-8 * math.log(2), 4),
               RollingLoglikelihoodResult(-16 * math.log(2), 6)]
    records = [task.score(s, [r]) for s, r in zip(samples, results, strict=True)]
    estimates = aggregate_records(task.metrics, records, seed=0)
    assert estimates["bits_per_byte"].value == pytest.approx(24 / 32)
    assert estimates["byte_perplexity"].value == pytest.approx(2 ** (24 / 32))
    assert estimates["word_perplexity"].value == pytest.approx(2 ** (24 / 5))
    assert estimates["token_perplexity"].value == pytest.approx(2 ** (24 / 10))
    assert all(not m.higher_is_better for m in task.metrics)


class ScriptedBackend:
    """Loglikelihood = minus the continuation's length: the shortest option wins."""

    capabilities = frozenset({RequestKind.LOGLIKELIHOOD})
    fingerprint = Fingerprint("test", "scripted", "0", "none")

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: object = None
    ) -> list[LoglikelihoodResult]:
        return [ll(-float(len(r.continuation))) for r in requests]

    def loglikelihood_rolling(self, requests: object, progress: object = None) -> list:
        raise AssertionError("not used")

    def generate(self, requests: object, progress: object = None) -> list:
        raise AssertionError("not used")


def test_multiple_choice_through_the_runner() -> None:
    samples = [
        Sample("0", "Q0", 0, choices=("x", "yyy")),
        Sample("1", "Q1", 0, choices=("zzzz", "w")),
    ]
    task = mc_task(samples)
    records = evaluate(task, ScriptedBackend(), task.samples(), show_progress=False)  # type: ignore[arg-type]
    assert [r.metrics["acc"] for r in records] == [1.0, 0.0]
    assert records[0].choice_logprobs == (-2.0, -4.0)  # " x", " yyy"
    assert aggregate_records(task.metrics, records)["acc"].value == 0.5
