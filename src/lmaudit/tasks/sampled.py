"""Several samples per problem for any generation task (`lmaudit run --samples N`).

`SamplingConfig` says how: N samples at `temperature` and `top_p`, sample i (0-based)
with seed `seed + i`, so a rerun draws every sample again on backends that honour seeds.
`apply_sampling` puts it on a task:

- a `ReasoningTask` samples natively (its `samples`, `temperature`, `seed` task options are
  the same mechanism; `configure_sampling` sets them);
- any other task that asks one generation per problem is wrapped in `SampledTask`: each
  problem's request is sent N times with the sampling parameters (max tokens, stop
  sequences, prompt or chat messages unchanged), every answer is scored by the task's own
  `score`, and the problem's record keeps all of them.

Per problem (`combine_answers`, shared with `ReasoningTask`): each of the task's metrics
is the mean over the N answers (avg@N); `pass_at_k` is 1 when any answer is correct; the
metrics over samples of `lmaudit.stats.sampling` (unbiased `pass@k`, `maj@k`, `vote_share`,
`vote_brier`) follow; with verifiers (`lmaudit.verifiers`), `best_of_{k}:{label}` is the
correctness of the answer the verifier picks among the first k, and
`verifier_failed:{label}` the share of answers it could not score (not for the oracle).
Every reported mean is over problems, so its interval treats the problem as the unit
(its N answers are never counted as independent). An answer is correct when the task's
correctness metric is 1: the first of `acc_flexible`, `acc`, `exact_match`, `pass@1` the
task reports, else its first proportion metric.

`extra` keeps every answer (`answers`), its extraction (`answers_extracted`), verdict
(`answers_correct`), per-answer metrics (`answers_metrics`), each verifier's scores
and failures (`verifier_scores`, `verifier_failures`), a judge's [prompt, completion]
tokens per answer (`verifier_tokens`, where its backend counted them), and, when the
backend counted them for every answer, each answer's exact completion tokens
(`answers_completion_tokens`) and thinking tokens (`answers_thinking_tokens`, budget
forcing's own count): what the length analysis and the cost of the first k answers use
(`report.compute_lengths`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec, Task, WrappedTask
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.scoring.thinking import split_thinking
from lmaudit.stats.passk import k_values
from lmaudit.stats.sampling import (
    ProblemSamples,
    best_of_k,
    per_problem_metrics,
    sample_metric_names,
)
from lmaudit.verifiers import Candidate, Verifier, run_verifiers, unique_labels

DEFAULT_TEMPERATURE = 0.7  # with several samples and no temperature given

CORRECTNESS_METRICS = ("acc_flexible", "acc", "exact_match", "pass@1")


@dataclass(frozen=True)
class SamplingConfig:
    """N samples per problem at `temperature` and `top_p`; sample i uses seed `seed + i`."""

    samples: int
    temperature: float
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise LmauditError(f"--samples must be at least 1, got {self.samples}")
        if self.temperature < 0:
            raise LmauditError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise LmauditError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.samples > 1 and self.temperature == 0:
            raise LmauditError(f"--samples {self.samples} at temperature 0 would repeat one "
                               "greedy answer; give --temperature above 0")

    def params(self, base: GenerationParams, index: int,
               logprobs: bool = False) -> GenerationParams:
        """The parameters of sample `index` (`sample_params`)."""
        return sample_params(base, index, samples=self.samples, temperature=self.temperature,
                             top_p=self.top_p, seed=self.seed, logprobs=logprobs)

    def spec(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sample_params(base: GenerationParams, index: int, *, samples: int, temperature: float,
                  top_p: float, seed: int, logprobs: bool = False) -> GenerationParams:
    """`base` (max tokens, stop sequences) for sample `index` of `samples`: this
    temperature and top-p, seed `seed + index` (no seed for one greedy sample, as a plain
    run sends it); `logprobs`: ask for the answer's token log-probabilities."""
    greedy_once = samples == 1 and temperature == 0
    return dataclasses.replace(base, temperature=temperature, top_p=top_p,
                               seed=None if greedy_once else seed + index,
                               logprobs=base.logprobs or logprobs)


@dataclass(frozen=True)
class SampledAnswer:
    """One scored answer of a problem."""

    text: str
    extracted: str | None
    correct: bool
    metrics: Mapping[str, float]
    token_logprobs: tuple[float, ...] | None = None
    completion_tokens: int | None = None  # exact, as the backend counted; None: unknown
    thinking_tokens: int | None = None  # exact (budget forcing's count); None: unknown


def counted_tokens(text: str, tokens: int) -> int | None:
    """A backend's completion-token count of an answer, or None when it counted nothing
    (0 tokens for a non-empty text: a backend or stored answer without counts)."""
    return int(tokens) if tokens > 0 or not text else None


def correctness_metric(metrics: Sequence[MetricSpec]) -> str:
    """The metric whose value 1 means a correct answer (module docstring)."""
    names = [m.name for m in metrics]
    for name in CORRECTNESS_METRICS:
        if name in names:
            return name
    for spec in metrics:
        if spec.aggregation is Aggregation.PROPORTION and spec.higher_is_better:
            return spec.name
    raise LmauditError(f"metrics {names}: none says whether an answer is correct")


def sample_metric_specs(n: int, verifier_labels: Sequence[str] = (),
                        *, stored_scores: bool = False) -> list[MetricSpec]:
    """The metrics over n samples per problem (module docstring); none for n = 1."""
    if n < 2:
        return []
    specs = [MetricSpec("pass_at_k", Aggregation.PROPORTION)]
    specs += [MetricSpec(m, Aggregation.MEAN, bounds=(0.0, 1.0), higher_is_better=m != "vote_brier")
              for m in sample_metric_names(n, verifier=stored_scores)]
    for label in verifier_labels:
        specs += [MetricSpec(f"best_of_{k}:{label}", Aggregation.MEAN, bounds=(0.0, 1.0))
                  for k in k_values(n)]
        if label != "oracle":  # the oracle never fails
            specs.append(MetricSpec(f"verifier_failed:{label}", Aggregation.MEAN,
                                    bounds=(0.0, 1.0), higher_is_better=False))
    return specs


def combine_answers(
    problem: str,
    prompt: str,
    answers: Sequence[SampledAnswer],
    metric_names: Sequence[str],
    *,
    verifiers: Sequence[Verifier] = (),
    stored_scores: Sequence[float | None] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """One problem's `(metrics, extra)` from its answers in sample order (module
    docstring); `stored_scores`: one stored verifier score per answer (`best_of_{k}`)."""
    k = len(answers)
    metrics = {name: sum(float(a.metrics[name]) for a in answers) / k for name in metric_names}
    extra: dict[str, Any] = {}
    if k == 1:
        return metrics, extra
    correct = tuple(a.correct for a in answers)
    metrics["pass_at_k"] = float(any(correct))
    metrics.update(per_problem_metrics(ProblemSamples(
        problem, tuple(a.extracted for a in answers), correct,
        None if stored_scores is None else tuple(stored_scores),
    )))
    extra.update(answers=[a.text for a in answers],
                 answers_extracted=[a.extracted for a in answers],
                 answers_correct=list(correct),
                 answers_metrics=[dict(a.metrics) for a in answers])
    for key, counts in (("answers_completion_tokens", [a.completion_tokens for a in answers]),
                        ("answers_thinking_tokens", [a.thinking_tokens for a in answers])):
        if all(c is not None for c in counts):
            extra[key] = counts
    if verifiers:
        candidates = [Candidate(prompt, a.text, a.extracted, a.correct, a.token_logprobs)
                      for a in answers]
        scores: dict[str, list[float | None]] = {}
        failures: dict[str, list[str | None]] = {}
        tokens: dict[str, list[list[int]]] = {}
        for label, verdicts in run_verifiers(verifiers, candidates).items():
            scores[label] = [v.score for v in verdicts]
            failures[label] = [v.failure for v in verdicts]
            if any(v.prompt_tokens or v.completion_tokens for v in verdicts):
                tokens[label] = [[v.prompt_tokens, v.completion_tokens] for v in verdicts]
            for n, value in best_of_k(correct, scores[label]).items():
                metrics[f"best_of_{n}:{label}"] = value
            if label != "oracle":
                metrics[f"verifier_failed:{label}"] = sum(s is None for s in scores[label]) / k
        extra.update(verifier_scores=scores, verifier_failures=failures)
        if tokens:
            extra["verifier_tokens"] = tokens
    return metrics, extra


class SampledTask(WrappedTask):
    """`base`'s one generation per problem, sent N times and scored per answer (module
    docstring); any other attribute is `base`'s."""

    def __init__(self, base: Task, config: SamplingConfig,
                 verifiers: Sequence[Verifier] = ()) -> None:
        super().__init__(base)
        self.config = config
        self.verifiers = tuple(verifiers)
        self.correct_metric = correctness_metric(base.metrics)

    def __getattr__(self, name: str) -> Any:
        """Everything else (`context`, `scorer`, `references`, `notes`, ...) is `base`'s."""
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return [*self.base.metrics,
                *sample_metric_specs(self.config.samples, unique_labels(self.verifiers))]

    def spec(self) -> dict[str, Any]:
        spec = {**self.base.spec(), "sampling": self.config.spec()}
        if self.verifiers:
            spec["verifiers"] = [v.spec() for v in self.verifiers]
        return spec

    def requests(self, sample: Sample) -> list[Request]:
        base = self.base.requests(sample)
        if len(base) != 1 or not isinstance(base[0], GenerateRequest):
            raise LmauditError(
                f"task {self.name}: --samples needs one generation request per problem; "
                f"sample {sample.id} asks for {len(base)} (its own attempts or samples "
                "option set?)"
            )
        request = base[0]
        logprobs = any(v.needs_logprobs for v in self.verifiers)
        return [dataclasses.replace(request, params=self.config.params(request.params, i,
                                                                       logprobs))
                for i in range(self.config.samples)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != self.config.samples:
            raise ValueError(f"task {self.name}: expected {self.config.samples} responses, "
                             f"got {len(responses)}")
        records = [self.base.score(sample, [response]) for response in responses]
        tags = getattr(self.base, "think_tags", None)  # verifiers read the answer only
        answers = []
        for record, response in zip(records, responses, strict=True):
            generation = response if isinstance(response, Generation) else None
            logprobs = None if generation is None else generation.token_logprobs
            trace = None if generation is None else generation.thinking
            answers.append(SampledAnswer(
                record.response if tags is None else split_thinking(record.response,
                                                                    tags).answer,
                record.extracted,
                float(record.metrics.get(self.correct_metric, 0.0)) >= 1.0, record.metrics,
                None if logprobs is None else tuple(float(v) for v in logprobs),
                None if generation is None else counted_tokens(generation.text,
                                                               generation.completion_tokens),
                None if trace is None else trace.tokens,
            ))
        names = [m.name for m in self.base.metrics if all(m.name in r.metrics for r in records)]
        names += sorted({n for n in records[0].metrics if n not in names
                         and all(n in r.metrics for r in records)})
        metrics, extra = combine_answers(sample.id, records[0].prompt, answers, names,
                                         verifiers=self.verifiers)
        extra["answers"] = [r.response for r in records]  # as the task keeps them
        return dataclasses.replace(records[0], metrics=metrics,
                                   extra={**records[0].extra, **extra})


def apply_sampling(task: Task, config: SamplingConfig,
                   verifiers: Sequence[Verifier] = ()) -> Task:
    """`task` drawing `config.samples` samples per problem, judged by `verifiers`."""
    from lmaudit.tasks.reasoning import ReasoningTask

    if verifiers and config.samples < 2:
        raise LmauditError("--verifier picks the best of several samples: give --samples N "
                           "with N >= 2")
    if isinstance(task, ReasoningTask):
        task.configure_sampling(config, verifiers)
        return task
    if task.request_kinds != frozenset({RequestKind.GENERATE}):
        kinds = ", ".join(sorted(k.value for k in task.request_kinds))
        raise LmauditError(f"--samples: task {task.name} asks for {kinds}, not generations; "
                           "repeated sampling needs a generation task")
    return SampledTask(task, config, verifiers)


def sampled_task(task: Task, stored: Mapping[str, Any] | None, seed: int) -> Task:
    """`task` with a stored sampling invocation (`samples`, `temperature`, `top_p`, optional
    `verifiers`, as a run's manifest keeps it) applied, unchanged when None; sample i uses
    seed `seed + i`. A judge model loads with its backend's defaults."""
    if stored is None:
        return task
    from lmaudit.verifiers import parse_verifier

    config = SamplingConfig(int(stored["samples"]), float(stored["temperature"]),
                            float(stored["top_p"]), seed)
    return apply_sampling(task, config,
                          [parse_verifier(spec) for spec in stored.get("verifiers", [])])
