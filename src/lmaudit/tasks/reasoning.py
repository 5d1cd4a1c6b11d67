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
  `best_of_k` when stored answers carry verifier scores.

Per sample, `extra` keeps every answer, its extraction and its thinking counts
(`thinking_segments`, `thinking_chars`, `thinking_words`, `thinking_unclosed`,
`reasoning_tokens`) plus their totals; `thinking_words` (mean) and `thinking_unclosed`
(the share of answers whose thinking never closed: usually cut off by `max_tokens`) are
reported metrics when thinking removal is on.

With `fewshot_multiturn`, few-shot examples become chat turns (user: example prompt,
assistant: its answer), the description opens the first user turn, and the request carries
`messages` instead of a prompt (a backend then applies the model's chat template).
"""

from __future__ import annotations

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
)
from lmaudit.data.source import DataSource
from lmaudit.scoring.thinking import THINKING_VERSION, parse_tags, split_thinking
from lmaudit.stats.sampling import ProblemSamples, per_problem_metrics, sample_metric_names
from lmaudit.tasks.fewshot import FewshotConfig
from lmaudit.tasks.generic import GenerateTask
from lmaudit.tasks.registry import TaskOptions
from lmaudit.tasks.rows import RowFormat, RowPrepare, sample_loaders

REASONING_OPTIONS = {
    "samples": "answers per problem (default 1); metrics are averaged over them (avg@k)",
    "temperature": "sampling temperature (default 0 for one sample, 0.6 for several)",
    "seed": "seed of the first sample (default 0; sample i uses seed + i)",
    "max_tokens": "new tokens per answer (task default otherwise)",
    "think_tags": "thinking tags OPEN,CLOSE removed before extraction (default "
    "<think>,</think>; none to keep everything)",
    "fewshot_multiturn": "true: few-shot examples as chat turns (needs a chat model)",
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
        think_tags: tuple[str, str] | None = ("<think>", "</think>"),
        fewshot_multiturn: bool = False,
        fewshot_answer: Callable[[Sample], str] | None = None,
        references: Mapping[str, Any] | None = None,
        notes: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name, load_samples, scorer=scorer, **kwargs)
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        self.n_answers = samples
        self.verifier_scores = False  # stored answers with verifier scores: best_of_k
        self.temperature = temperature
        self.seed = seed
        self.think_tags = think_tags
        self.fewshot_multiturn = fewshot_multiturn
        self._fewshot_answer = fewshot_answer
        self._references = dict(references or {})
        self._notes = tuple(notes)

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
        specs = [
            MetricSpec(m, Aggregation.PROPORTION, higher_is_better=not m.startswith("extract_fail"))
            for m in self.scorer.metric_names()
        ]
        if self.n_answers > 1:
            specs.append(MetricSpec("pass_at_k", Aggregation.PROPORTION))
            specs.extend(
                MetricSpec(m, Aggregation.MEAN, bounds=(0.0, 1.0),
                           higher_is_better=m != "vote_brier")
                for m in sample_metric_names(self.n_answers, verifier=self.verifier_scores)
            )
        if self.think_tags is not None:
            specs.append(MetricSpec("thinking_unclosed", Aggregation.PROPORTION,
                                    higher_is_better=False))
            specs.append(MetricSpec("thinking_words", Aggregation.MEAN, higher_is_better=False))
        return specs

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
        for i in range(self.n_answers):
            params = GenerationParams(
                max_tokens, self.temperature, stop=self.stop,
                seed=None if self.n_answers == 1 and self.temperature == 0 else self.seed + i,
            )
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
        if len(responses) != self.n_answers:
            raise ValueError(
                f"task {self.name}: expected {self.n_answers} responses, got {len(responses)}"
            )
        generations = [r for r in responses if isinstance(r, Generation)]
        if len(generations) != len(responses):
            raise TypeError(f"task {self.name}: expected Generation responses")
        return score_answers(
            self, sample, [(g.text, g.completion_tokens, g.finish_reason) for g in generations]
        )


def score_answers(
    task: ReasoningTask,
    sample: Sample,
    answers: Sequence[tuple[str, int, str]],
    *,
    prompt: str | None = None,
    scores: Sequence[float | None] | None = None,
) -> SampleRecord:
    """One record from k answers `(text, completion_tokens, finish_reason)` of a sample
    (shared by runs and by `lmaudit score`); `prompt` defaults to the sample's context;
    `scores`: one verifier score per answer (higher is better) for `best_of_k`."""
    target = str(sample.target)
    outcomes, thinking = [], []
    for text, tokens, _ in answers:
        split = split_thinking(text, task.think_tags)
        outcomes.append(task.scorer(split.answer, target))
        thinking.append(split.counts(tokens, len(text)))
    k = len(answers)
    metrics = {
        name: sum(o.metrics[name] for o in outcomes) / k for name in task.scorer.metric_names()
    }
    if task.n_answers > 1:
        metrics["pass_at_k"] = float(any(o.correct for o in outcomes))
        metrics.update(per_problem_metrics(ProblemSamples(
            sample.id, tuple(o.extracted for o in outcomes), tuple(o.correct for o in outcomes),
            None if scores is None else tuple(scores),
        )))
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
        extra.update(
            answers=[a[0] for a in answers],
            answers_extracted=[o.extracted for o in outcomes],
            answers_correct=[o.correct for o in outcomes],
        )
    return SampleRecord(
        sample_id=sample.id,
        prompt=task.context(sample) if prompt is None else prompt,
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
