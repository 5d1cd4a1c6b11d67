"""Generation tasks for reasoning and chat models: thinking removal, several samples per
problem, multi-turn few-shot, reference lines.

`ReasoningTask` is a `GenerateTask` whose scoring first removes thinking segments
(`lmaudit.scoring.thinking`) and whose requests may be several samples per problem:

- `samples = 1`: one request at `temperature` (default 0, greedy).
- `samples = k > 1`: k requests at `temperature` (default 0.6 when k > 1) with seeds
  `seed, seed + 1, ..., seed + k - 1`. Each per-sample metric is the mean over the k
  answers (avg@k, a value in [0, 1]; the interval then treats the problem as the unit, so
  the k answers of one problem are never counted as independent), and `pass_at_k` is 1 when
  any answer is correct. The metrics over samples of `lmaudit.stats.sampling` join them:
  unbiased `pass@k` (k = 2, 4, ...), `maj@k` (majority vote, earliest-first tie rule),
  `vote_share`, `vote_brier` (the vote share's Brier score as a confidence), and
  `best_of_k` when stored answers carry verifier scores. `lmaudit run --samples N
  --temperature T --top-p P` sets the same (`configure_sampling`; the shared mechanism is
  `lmaudit.tasks.sampled`), and `--verifier` adds `best_of_{k}:{label}` per verifier.

Per sample, `extra` keeps every answer, its extraction and its thinking counts
(`thinking_segments`, `thinking_chars`, `thinking_words`, `thinking_unclosed`,
`reasoning_tokens`) plus their totals, and with several answers each one's exact token
counts where the backend gave them (`answers_completion_tokens`, and under budget forcing
`answers_thinking_tokens`; `tasks.sampled`); `thinking_words` (mean) and `thinking_unclosed`
(the share of answers whose thinking never closed: usually cut off by `max_tokens`) are
reported metrics when thinking removal is on.

With `fewshot_multiturn`, few-shot examples become chat turns (user: example prompt,
assistant: its answer), the description opens the first user turn, and the request carries
`messages` instead of a prompt (a backend then applies the model's chat template).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    Message,
    Request,
    Response,
    Sample,
    SampleRecord,
    ThinkingTrace,
)
from lmaudit.data.source import DataSource
from lmaudit.scoring.thinking import THINKING_VERSION, parse_tags, split_thinking
from lmaudit.tasks.fewshot import FewshotConfig
from lmaudit.tasks.generic import GenerateTask
from lmaudit.tasks.registry import TaskOptions
from lmaudit.tasks.rows import RowFormat, RowPrepare, sample_loaders
from lmaudit.tasks.sampled import (
    SampledAnswer,
    SamplingConfig,
    combine_answers,
    correctness_metric,
    counted_tokens,
    sample_metric_specs,
    sample_params,
)
from lmaudit.tasks.thinking_budget import (
    THINKING_OPTIONS,
    ThinkingPlan,
    budget_metric_specs,
    budget_metrics,
    thinking_plan,
)
from lmaudit.verifiers import Verifier, unique_labels

REASONING_OPTIONS = {
    "samples": "answers per problem (default 1); metrics are averaged over them (avg@k)",
    "temperature": "sampling temperature (default 0 for one sample, 0.6 for several)",
    "seed": "seed of the first sample (default 0; sample i uses seed + i)",
    "max_tokens": "new tokens per answer (task default otherwise)",
    "think_tags": "thinking tags OPEN,CLOSE removed before extraction (default "
    "<think>,</think>; none to keep everything)",
    "fewshot_multiturn": "true: few-shot examples as chat turns (needs a chat model)",
    **THINKING_OPTIONS,
}


def _flag(opts: TaskOptions, key: str) -> bool:
    value = (opts.text(key, "false") or "false").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise LmauditError(f"task {opts.task}: option {key}={value!r} must be true or false")
    return value in ("true", "1", "yes")


def reasoning_options(opts: TaskOptions, *, max_tokens: int) -> dict[str, Any]:
    """`ReasoningTask` keyword arguments from the `REASONING_OPTIONS` of `opts`."""
    samples = opts.integer("samples", 1, minimum=1)
    raw_temperature = opts.text("temperature")
    try:
        temperature = float(raw_temperature) if raw_temperature else (0.6 if samples > 1 else 0.0)
    except ValueError:
        raise LmauditError(f"task {opts.task}: temperature must be a number") from None
    if temperature < 0:
        raise LmauditError(f"task {opts.task}: temperature must be >= 0")
    if samples > 1 and temperature == 0:
        raise LmauditError(f"task {opts.task}: samples={samples} at temperature 0 would repeat "
                           "one greedy answer; give a temperature above 0")
    try:
        tags = parse_tags(opts.text("think_tags"))
    except ValueError as error:
        raise LmauditError(f"task {opts.task}: {error}") from None
    return {
        "samples": samples,
        "temperature": temperature,
        "seed": opts.integer("seed", 0),
        "max_tokens": opts.integer("max_tokens", max_tokens, minimum=1),
        "think_tags": tags,
        "fewshot_multiturn": _flag(opts, "fewshot_multiturn"),
        "thinking": thinking_plan(opts),
    }


class ReasoningTask(GenerateTask):
    """A generation task with thinking removal and k samples per problem (module doc)."""

    def __init__(
        self,
        name: str,
        load_samples: Callable[[], list[Sample]],
        *,
        scorer: str,
        samples: int = 1,
        temperature: float = 0.0,
        seed: int = 0,
        top_p: float = 1.0,
        think_tags: tuple[str, str] | None = ("<think>", "</think>"),
        fewshot_multiturn: bool = False,
        fewshot_answer: Callable[[Sample], str] | None = None,
        references: Mapping[str, Any] | None = None,
        notes: Sequence[str] = (),
        thinking: ThinkingPlan | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, load_samples, scorer=scorer, **kwargs)
        self.thinking = thinking or ThinkingPlan()  # budgets (`tasks.thinking_budget`)
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        self.n_answers = samples
        self.verifier_scores = False  # stored answers with verifier scores: best_of_k
        self.temperature = temperature
        self.seed = seed
        self.top_p = top_p
        self.verifiers: tuple[Verifier, ...] = ()
        self.think_tags = think_tags
        self.fewshot_multiturn = fewshot_multiturn
        self._fewshot_answer = fewshot_answer
        self._references = dict(references or {})
        self._notes = tuple(notes)

    def configure_sampling(self, config: SamplingConfig,
                           verifiers: Sequence[Verifier] = ()) -> None:
        """Sample as `config` says (`lmaudit run --samples`; the same as the task options
        `samples`, `temperature`, `seed`), with best-of-N `verifiers`."""
        self.n_answers = config.samples
        self.temperature, self.top_p, self.seed = config.temperature, config.top_p, config.seed
        self.verifiers = tuple(verifiers)

    def references(self) -> dict[str, Any]:
        """Reference lines for this benchmark (chance level, published human baselines)."""
        return dict(self._references)

    def notes(self) -> tuple[str, ...]:
        """Caveats to print beside the score (e.g. a small benchmark's wide interval);
        `{n}` in a note becomes the number of problems and `{step}` 100 / n (the points
        one problem is worth). Loads the data when a note needs it."""
        if not any("{" in note for note in self._notes):
            return self._notes
        n = len(self.samples())
        return tuple(note.format(n=n, step=100.0 / n) for note in self._notes)

    def use_samples(self, samples: Sequence[Sample]) -> None:
        """Evaluate exactly `samples` (stored answers that carry their own targets and
        prompts): no dataset or few-shot pool is read, and the spec says `fewshot: null`."""
        self._samples = list(samples)
        self.fewshot = None

    def answer_text(self, sample: Sample) -> str:
        if self._fewshot_answer is not None:
            return self._fewshot_answer(sample)
        return super().answer_text(sample)

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        specs = self._scorer_specs()
        specs += sample_metric_specs(self.n_answers, unique_labels(self.verifiers),
                                     stored_scores=self.verifier_scores)
        if self.think_tags is not None:
            specs.append(MetricSpec("thinking_unclosed", Aggregation.PROPORTION,
                                    higher_is_better=False))
            specs.append(MetricSpec("thinking_words", Aggregation.MEAN, higher_is_better=False))
        return specs + budget_metric_specs(self.thinking, self._correct_name())

    def _scorer_specs(self) -> list[MetricSpec]:
        return [MetricSpec(m, Aggregation.PROPORTION,
                           higher_is_better=not m.startswith("extract_fail"))
                for m in self.scorer.metric_names()]

    def _correct_name(self) -> str:
        """The scorer metric whose 1 marks a correct answer for pass@k, maj@k, verifiers
        and budgets: the run's headline (`tasks.sampled.correctness_metric`), which may differ
        from the scorer's own verdict (gpqa's letter scorer: `acc`, headline `acc_flexible`)."""
        return correctness_metric(self._scorer_specs())

    def _type_spec(self) -> dict[str, Any]:
        spec = super()._type_spec()
        spec.update(
            samples_per_problem=self.n_answers,
            temperature=self.temperature,
            seed=self.seed,
            think_tags=list(self.think_tags) if self.think_tags else None,
            thinking_version=THINKING_VERSION,
            fewshot_multiturn=self.fewshot_multiturn,
            references=self._references,
            notes=list(self._notes),
        )
        if self.top_p != 1.0:
            spec["top_p"] = self.top_p
        if self.verifiers:
            spec["verifiers"] = [v.spec() for v in self.verifiers]
        spec.update(self.thinking.spec())
        for key in ("attempts", "sample_temperature", "sample_seed"):
            spec.pop(key, None)
        return spec

    def messages(self, sample: Sample) -> tuple[Message, ...]:
        """The chat turns of a sample with multi-turn few-shot (see the module docstring)."""
        examples = self.fewshot.examples(sample) if self.fewshot else []
        description = str(sample.metadata.get("description", self.description))
        turns: list[Message] = []
        for example in examples:
            turns.append(Message("user", example.input))
            turns.append(Message("assistant", self.answer_text(example).strip()))
        turns.append(Message("user", sample.input))
        if description:
            turns[0] = Message("user", description + turns[0].content)
        return tuple(turns)

    def requests(self, sample: Sample) -> list[Request]:
        max_tokens = int(sample.metadata.get("max_tokens", self.max_tokens))
        requests: list[Request] = []
        for budget, i in itertools.product(self.thinking.levels, range(self.n_answers)):
            params = sample_params(
                GenerationParams(max_tokens + (budget or 0), stop=self.stop), i,
                samples=self.n_answers, temperature=self.temperature, top_p=self.top_p,
                seed=self.seed, logprobs=any(v.needs_logprobs for v in self.verifiers),
            )
            if self.thinking.active:
                params = dataclasses.replace(
                    params, thinking=self.thinking.control(budget, self.think_tags))
            if self.fewshot_multiturn:
                requests.append(GenerateRequest(messages=self.messages(sample), params=params))
            else:
                requests.append(GenerateRequest(self.context(sample), params=params))
        return requests

    def score_stored(self, rows: Sequence[dict[str, Any]], *, source: Path) -> list[SampleRecord]:
        """`lmaudit score`: stored answers, one or several per problem
        (`lmaudit.tasks.reasoning_stored`)."""
        from lmaudit.tasks.reasoning_stored import score_stored_answers

        return score_stored_answers(self, rows, source=source)

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        expected = self.n_answers * len(self.thinking.levels)
        if len(responses) != expected:
            raise ValueError(
                f"task {self.name}: expected {expected} responses, got {len(responses)}"
            )
        answers = [r for r in responses if isinstance(r, Generation)]
        if len(answers) != len(responses):
            raise TypeError(f"task {self.name}: expected Generation responses")
        groups = [answers[g:g + self.n_answers] for g in range(0, expected, self.n_answers)]
        generations = groups[-1]  # the largest budget's answers are the headline
        logprobs = [getattr(g, "token_logprobs", None) for g in generations]
        record = score_answers(
            self, sample, [(g.text, g.completion_tokens, g.finish_reason) for g in generations],
            token_logprobs=[None if lp is None else tuple(lp) for lp in logprobs],
            traces=[g.thinking for g in generations],
        )
        if not self.thinking.budgets:
            return record
        correct = self._correct_name()
        hits = [[self.scorer(split_thinking(g.text, self.think_tags).answer,
                             str(sample.target)).metrics[correct] for g in group]
                for group in groups]
        metrics = {**record.metrics, **budget_metrics(self.thinking, groups, hits,
                                                      self.think_tags, correct)}
        return dataclasses.replace(record, metrics=metrics)


def score_answers(
    task: ReasoningTask,
    sample: Sample,
    answers: Sequence[tuple[str, int, str]],
    *,
    prompt: str | None = None,
    scores: Sequence[float | None] | None = None,
    token_logprobs: Sequence[tuple[float, ...] | None] | None = None,
    traces: Sequence[ThinkingTrace | None] | None = None,
) -> SampleRecord:
    """One record from k answers `(text, completion_tokens, finish_reason)` of a sample
    (shared by runs and by `lmaudit score`); `prompt` defaults to the sample's context;
    `scores`: one verifier score per answer (higher is better) for `best_of_k`;
    `token_logprobs`: each answer's token log-probabilities (the `self` verifier);
    `traces`: each answer's exact thinking count from budget forcing (`ThinkingTrace`). With
    several answers, the metrics over samples and the task's verifiers join
    (`lmaudit.tasks.sampled.combine_answers`)."""
    target = str(sample.target)
    correct = task._correct_name()
    outcomes, thinking, scored = [], [], []
    logprobs = list(token_logprobs) if token_logprobs is not None else [None] * len(answers)
    exact = list(traces) if traces is not None else [None] * len(answers)
    for (text, tokens, _), answer_logprobs, trace in zip(answers, logprobs, exact, strict=True):
        split = split_thinking(text, task.think_tags)
        outcome = task.scorer(split.answer, target)
        outcomes.append(outcome)
        thinking.append(split.counts(tokens, len(text), trace))
        scored.append(SampledAnswer(split.answer, outcome.extracted_for(correct),
                                    float(outcome.metrics.get(correct, 0.0)) >= 1.0,
                                    outcome.metrics, answer_logprobs,
                                    counted_tokens(text, tokens),
                                    None if trace is None else trace.tokens))
    k = len(answers)
    shown_prompt = task.context(sample) if prompt is None else prompt
    metrics, sampled_extra = combine_answers(
        sample.id, shown_prompt, scored, task.scorer.metric_names(),
        verifiers=task.verifiers if k > 1 else (), stored_scores=scores if k > 1 else None,
    )
    if task.think_tags is not None:
        metrics["thinking_unclosed"] = sum(bool(t["thinking_unclosed"]) for t in thinking) / k
        metrics["thinking_words"] = sum(int(str(t["thinking_words"])) for t in thinking) / k
    known = [t["reasoning_tokens"] for t in thinking if t["reasoning_tokens"] is not None]
    extra: dict[str, Any] = {
        "finish_reason": answers[0][2],
        "thinking": thinking,
        "reasoning_tokens": sum(int(str(v)) for v in known) if known else None,
    }
    if k > 1:
        extra.update(sampled_extra, answers=[a[0] for a in answers])
    return SampleRecord(
        sample_id=sample.id,
        prompt=shown_prompt,
        target=target,
        response=answers[0][0],
        extracted=outcomes[0].extracted,
        metrics=metrics,
        cluster=sample.cluster,
        extra=extra,
    )


def build_reasoning_task(
    name: str,
    row_format: RowFormat,
    source: DataSource,
    *,
    origin: str,
    scorer: str,
    options: Mapping[str, Any],
    config: Mapping[str, Any],
    prepare: RowPrepare | None = None,
    fewshot: FewshotConfig | None = None,
    fewshot_source: DataSource | None = None,
    fewshot_prepare: RowPrepare | None = None,
    **task_kwargs: Any,
) -> ReasoningTask:
    """A `ReasoningTask` over `source` (as `rows.build_task` builds a generic task)."""
    load, selector, data_spec = sample_loaders(
        row_format, source, origin=origin, prepare=prepare, fewshot=fewshot,
        fewshot_source=fewshot_source, fewshot_prepare=fewshot_prepare,
    )
    return ReasoningTask(
        name, load, scorer=scorer, fewshot=selector, data_spec=data_spec,
        config={**dict(config), "row_format": {"prompt": row_format.prompt,
                                               "target": row_format.target}},
        **dict(options), **task_kwargs,
    )
