"""The three generic task types: multiple choice, generation, perplexity.

Each takes a sample loader (called once, on first use) and implements the `Task` protocol.
`Sample.input` is the sample's own prompt; `requests()` adds the description and few-shot
examples (see `lmaudit.tasks.fewshot`), so a perturbed copy of a sample gets the same
context treatment. A sample's `metadata` may hold `description` (overrides the task's)
and, for generation, `max_tokens` (overrides the task's).

Multiple-choice metrics (lm-evaluation-harness conventions; log-probs in nats):
- `acc`: the option with the highest summed log-probability is the target (ties: lowest
  index, as `numpy.argmax`).
- `acc_norm`: same after dividing each log-prob by the option text's length in UTF-8
  bytes (without the target delimiter; lm-eval calls this `acc_bytes`).
- `acc_norm_chars`: same with the length in characters (lm-eval's own `acc_norm`, which
  divides by `len(choice)`); the two differ only on non-ASCII options.
- `confidence`: softmax over the options' summed log-probs, probability of the `acc` pick.
- `p_correct`: that softmax's probability of the target option.
- `brier`: multi-class Brier score of that softmax, `sum_i (p_i - y_i)^2` (0 to 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Message,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
    SampleRecord,
)
from lmaudit.tasks.fewshot import FewshotSelector, build_context

SampleLoader = Callable[[], list[Sample]]
SpecProvider = Callable[[bool], Mapping[str, Any]]


def softmax(logprobs: Sequence[float]) -> list[float]:
    """Normalized probabilities from log-scores (max-shifted; all -inf gives uniform)."""
    top = max(logprobs)
    if top == -math.inf:
        return [1.0 / len(logprobs)] * len(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for i, value in enumerate(values):
        if value > values[best]:
            best = i
    return best


def multiple_choice_metrics(
    logprobs: Sequence[float], options: Sequence[str], target: int
) -> tuple[int, dict[str, float]]:
    """(predicted index, metrics) for one question; definitions in the module docstring."""
    if len(logprobs) != len(options) or not options:
        raise ValueError(f"{len(logprobs)} log-probs for {len(options)} options")
    pred = _argmax(logprobs)
    pred_norm = _argmax([lp / max(1, len(o)) for lp, o in zip(logprobs, options, strict=True)])
    pred_bytes = _argmax(
        [lp / max(1, len(o.encode("utf-8"))) for lp, o in zip(logprobs, options, strict=True)]
    )
    probs = softmax(logprobs)
    brier = sum((p - (1.0 if i == target else 0.0)) ** 2 for i, p in enumerate(probs))
    return pred, {
        "acc": float(pred == target),
        "acc_norm": float(pred_bytes == target),
        "acc_norm_chars": float(pred_norm == target),
        "confidence": probs[pred],
        "p_correct": probs[target],
        "brier": brier,
    }


def single_turn_request(text: str, params: GenerationParams, *, chat: bool) -> GenerateRequest:
    """One generation request for `text`: as one user chat message with `chat` (the
    backend applies the model's chat template), else as a plain prompt."""
    if chat:
        return GenerateRequest(messages=(Message("user", text),), params=params)
    return GenerateRequest(text, params=params)


def _expect(responses: Sequence[Response], kind: type, count: int, task: str) -> None:
    if len(responses) != count:
        raise ValueError(f"task {task}: expected {count} responses, got {len(responses)}")
    for response in responses:
        if not isinstance(response, kind):
            raise TypeError(f"task {task}: expected {kind.__name__}, got {type(response)}")


class _BaseTask:
    """Sample loading, description and few-shot context shared by the task types."""

    task_type = "base"

    def __init__(
        self,
        name: str,
        load_samples: SampleLoader,
        *,
        fewshot: FewshotSelector | None = None,
        description: str = "",
        target_delimiter: str = " ",
        fewshot_delimiter: str = "\n\n",
        config: Mapping[str, Any] | None = None,
        data_spec: SpecProvider | None = None,
    ) -> None:
        self._name = name
        self._load_samples = load_samples
        self._samples: list[Sample] | None = None
        self.fewshot = fewshot
        self.description = description
        self.target_delimiter = target_delimiter
        self.fewshot_delimiter = fewshot_delimiter
        self.config = dict(config or {})
        self._data_spec = data_spec

    @property
    def name(self) -> str:
        return self._name

    def samples(self) -> list[Sample]:
        if self._samples is None:
            samples = list(self._load_samples())
            if not samples:
                raise LmauditError(f"task {self.name}: the data holds no samples to evaluate")
            seen: set[str] = set()
            for sample in samples:
                if sample.id in seen:
                    raise LmauditError(f"task {self.name}: duplicate sample id {sample.id!r}")
                seen.add(sample.id)
            self._samples = samples
        return list(self._samples)

    def answer_text(self, sample: Sample) -> str:
        """The answer a few-shot example shows after its prompt."""
        return str(sample.target)

    def context(self, sample: Sample) -> str:
        """The full prompt of a sample: description, few-shot examples, its own prompt."""
        examples = self.fewshot.examples(sample) if self.fewshot else []
        return build_context(
            sample.input,
            [(ex.input, self.answer_text(ex)) for ex in examples],
            description=str(sample.metadata.get("description", self.description)),
            target_delimiter=self.target_delimiter,
            fewshot_delimiter=self.fewshot_delimiter,
        )

    def _type_spec(self) -> dict[str, Any]:
        return {}

    def static_spec(self) -> dict[str, Any]:
        """The spec without anything that needs the data (for `lmaudit tasks --show`)."""
        return self._spec(load=False)

    def spec(self) -> dict[str, Any]:
        return self._spec(load=True)

    def _spec(self, *, load: bool) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "type": self.task_type, **self.config}
        spec.update(self._type_spec())
        if self.task_type != "perplexity":
            spec.update(
                description=self.description,
                target_delimiter=self.target_delimiter,
                fewshot_delimiter=self.fewshot_delimiter,
            )
            spec["fewshot"] = None
            if self.fewshot is not None:
                spec["fewshot"] = self.fewshot.spec(with_ids=load)
        if self._data_spec is not None:
            spec["data"] = dict(self._data_spec(load))
        if load:
            spec["n_samples"] = len(self.samples())
        return spec


class MultipleChoiceTask(_BaseTask):
    """One loglikelihood request per option: `(context, target_delimiter + option)`.

    Samples carry `choices` and an int `target` (the correct option's index).
    """

    task_type = "multiple_choice"

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.LOGLIKELIHOOD})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return (
            MetricSpec("acc", Aggregation.PROPORTION),
            MetricSpec("acc_norm", Aggregation.PROPORTION),
            MetricSpec("acc_norm_chars", Aggregation.PROPORTION),
            MetricSpec("confidence", Aggregation.MEAN, bounds=(0.0, 1.0)),
            MetricSpec("p_correct", Aggregation.MEAN, bounds=(0.0, 1.0)),
            MetricSpec("brier", Aggregation.MEAN, higher_is_better=False, bounds=(0.0, 2.0)),
        )

    def _options(self, sample: Sample) -> tuple[str, ...]:
        if not sample.choices or not isinstance(sample.target, int):
            raise ValueError(f"multiple-choice sample {sample.id} needs choices and an int target")
        return sample.choices

    def answer_text(self, sample: Sample) -> str:
        return self._options(sample)[int(sample.target)]

    def requests(self, sample: Sample) -> list[Request]:
        context = self.context(sample)
        return [
            LoglikelihoodRequest(context, self.target_delimiter + option)
            for option in self._options(sample)
        ]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        options = self._options(sample)
        _expect(responses, LoglikelihoodResult, len(options), self.name)
        results = [r for r in responses if isinstance(r, LoglikelihoodResult)]
        logprobs = [r.logprob for r in results]
        target = int(sample.target)
        pred, metrics = multiple_choice_metrics(logprobs, options, target)
        return SampleRecord(
            sample_id=sample.id,
            prompt=self.context(sample),
            target=options[target],
            response=options[pred],
            extracted=str(pred),
            metrics=metrics,
            cluster=sample.cluster,
            choice_logprobs=tuple(logprobs),
            extra={
                "target_index": target,
                "is_greedy": [r.is_greedy for r in results],
                "n_tokens": [r.n_tokens for r in results],
            },
        )


class GenerateTask(_BaseTask):
    """Free generation scored by a named scorer (`lmaudit.scoring`).

    Attempt 1 is greedy (temperature 0). With `attempts` = k > 1, attempts 2..k sample at
    `sample_temperature` with seeds `sample_seed + 1`, ..., `sample_seed + k - 1` (fixed,
    so reruns are reproducible on backends that honour seeds). The record reports the
    first correct attempt (attempt 1 when none is correct): a sample passes when any
    attempt is correct (ARC-AGI's two-attempt rule). `first_attempt_correct` keeps the
    greedy-only verdict.
    """

    task_type = "generate"

    def __init__(
        self,
        name: str,
        load_samples: SampleLoader,
        *,
        scorer: str = "numeric",
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        attempts: int = 1,
        sample_temperature: float = 0.7,
        sample_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, load_samples, **kwargs)
        from lmaudit.scoring import get_scorer

        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self.scorer = get_scorer(scorer)
        self.max_tokens = max_tokens
        self.stop = tuple(stop)
        self.attempts = attempts
        self.sample_temperature = sample_temperature
        self.sample_seed = sample_seed

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        specs = [
            MetricSpec(m, Aggregation.PROPORTION, higher_is_better=not m.startswith("extract_fail"))
            for m in self.scorer.metric_names()
        ]
        if self.attempts > 1:
            specs.append(MetricSpec("first_attempt_correct", Aggregation.PROPORTION))
        return specs

    def _type_spec(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer.name,
            "scorer_version": self.scorer.version,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "attempts": self.attempts,
            "sample_temperature": self.sample_temperature if self.attempts > 1 else None,
            "sample_seed": self.sample_seed if self.attempts > 1 else None,
        }

    def requests(self, sample: Sample) -> list[Request]:
        prompt = self.context(sample)
        max_tokens = int(sample.metadata.get("max_tokens", self.max_tokens))
        requests: list[Request] = [
            GenerateRequest(prompt, params=GenerationParams(max_tokens, 0.0, stop=self.stop))
        ]
        for k in range(1, self.attempts):
            params = GenerationParams(
                max_tokens, self.sample_temperature, stop=self.stop, seed=self.sample_seed + k
            )
            requests.append(GenerateRequest(prompt, params=params))
        return requests

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        _expect(responses, Generation, self.attempts, self.name)
        generations = [r for r in responses if isinstance(r, Generation)]
        target = str(sample.target)
        outcomes = [self.scorer(g.text, target) for g in generations]
        chosen = next((i for i, o in enumerate(outcomes) if o.correct), 0)
        metrics = dict(outcomes[chosen].metrics)
        extra: dict[str, Any] = {"finish_reason": generations[chosen].finish_reason}
        if self.attempts > 1:
            metrics["first_attempt_correct"] = float(outcomes[0].correct)
            extra.update(
                chosen_attempt=chosen + 1,
                attempts=[g.text for g in generations],
                attempts_extracted=[o.extracted for o in outcomes],
            )
        return SampleRecord(
            sample_id=sample.id,
            prompt=self.context(sample),
            target=target,
            response=generations[chosen].text,
            extracted=outcomes[chosen].extracted,
            metrics=metrics,
            cluster=sample.cluster,
            extra=extra,
        )


def count_words(text: str) -> int:
    """lm-eval's word count: `len(re.split(r"\\s+", text))` (leading or trailing whitespace
    adds an empty "word", as in lm-eval)."""
    return len(re.split(r"\s+", text))


class PerplexityTask(_BaseTask):
    """One rolling loglikelihood request per document (`Sample.input`).

    Per-sample columns: `nll` (nats, = -log P(document)), `n_bytes` (UTF-8), `n_words`
    (`count_words`), `n_tokens` (the backend's tokenizer). Reported, over the whole corpus
    (ratio of sums, not mean of ratios): `bits_per_byte` = sum nll / sum bytes / ln 2;
    `byte_perplexity` = exp(sum nll / sum bytes); `word_perplexity` = exp(sum nll / sum
    words); `token_perplexity` = exp(sum nll / sum tokens) (tokenizer dependent).
    """

    task_type = "perplexity"

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.LOGLIKELIHOOD_ROLLING})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        ratio = Aggregation.RATIO
        return (
            MetricSpec("bits_per_byte", ratio, "nll", "n_bytes", "bits", higher_is_better=False),
            MetricSpec("byte_perplexity", ratio, "nll", "n_bytes", "exp", higher_is_better=False),
            MetricSpec("word_perplexity", ratio, "nll", "n_words", "exp", higher_is_better=False),
            MetricSpec("token_perplexity", ratio, "nll", "n_tokens", "exp", higher_is_better=False),
        )

    def requests(self, sample: Sample) -> list[Request]:
        return [RollingLoglikelihoodRequest(sample.input)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        _expect(responses, RollingLoglikelihoodResult, 1, self.name)
        result = responses[0]
        assert isinstance(result, RollingLoglikelihoodResult)
        text = sample.input
        return SampleRecord(
            sample_id=sample.id,
            prompt=text,
            target="",
            response="",
            extracted=None,
            metrics={
                "nll": -result.logprob,
                "n_bytes": float(len(text.encode("utf-8"))),
                "n_words": float(count_words(text)),
                "n_tokens": float(result.n_tokens),
            },
            cluster=sample.cluster,
        )
