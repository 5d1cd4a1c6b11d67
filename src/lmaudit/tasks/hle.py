"""Humanity's Last Exam (`hle`), text-only questions, graded by an LLM judge.

Data: `cais/hle` test (gated: accept its terms on the hub and log in), or
`--task-option data=FILE` with its columns {id, question, image, answer, answer_type,
category, ...}. Questions with an image (a non-empty `image`) are left out: the text-only
subset. Cluster: none (`category` is kept in the fields).

Prompting (`hle-v1`): as the authors, a system turn fixes the response format by answer
type (an explanation, then "Exact Answer:" or "Answer:", then "Confidence:" as a
percentage) and the user turn is the question; `format=plain` sends both as one prompt for
completion models. The system texts are lmaudit's own wording of that format.

Grading: the judge (`judge=MODEL_SPEC`, any lmaudit model, e.g.
`openai-chat:gpt-4o-2024-08-06`, the authors' judge; greedy, up to 2,048 tokens) reads the
question, the response (thinking removed) and the correct answer, and replies with four
fields: `extracted_final_answer`, `reasoning`, `correct: yes|no` and `confidence` (the
confidence the response stated, 0-100; 100 when it states none). The judge prompt is
lmaudit's paraphrase of the authors' (same fields, same rules: compare only the final
answer with the correct one, allow a small margin of error for numbers, never solve the
problem); the authors ask for the same fields as structured output. Metrics: `acc`
(judged correct), `stated_confidence` (mean, in [0, 1]), `judge_parse_fail` (no
yes/no found: counted as incorrect), and from `acc` and `stated_confidence` the RMS
calibration error HLE reports (`calibration_rms`, `lmaudit.stats.rms_calibration`). The
judge's reply is stored per sample. Judge requests go through the request cache (keyed by
the judge's identity, checked once per task: `lmaudit.core.served_cache`), so a resumed run
does not pay twice and a judge serving another model is asked again; a live run judges each
answer as it is scored, `lmaudit score` judges a whole file in one batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmaudit.core.backend import Backend
from lmaudit.core.task import Aggregation, MetricSpec, Task
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    Message,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.scoring.thinking import split_thinking
from lmaudit.tasks.generic import _BaseTask
from lmaudit.tasks.registry import TaskOptions, register_task, think_tags_help

if TYPE_CHECKING:
    from lmaudit.core.served_cache import ServedCache

HLE_VERSION = "hle-v1"
SYSTEM_EXACT = (
    "Format your response as follows:\n"
    "Explanation: {how you arrived at your final answer}\n"
    "Exact Answer: {your final answer, as briefly as possible}\n"
    "Confidence: {how sure you are that your answer is right, from 0% to 100%}"
)
SYSTEM_CHOICE = (
    "Format your response as follows:\n"
    "Explanation: {why you chose your answer}\n"
    "Answer: {the option you choose}\n"
    "Confidence: {how sure you are that your answer is right, from 0% to 100%}"
)
JUDGE_PROMPT = (
    "You are checking an answer to an exam question against the official answer.\n\n"
    "[question]: {question}\n\n[response]: {response}\n\n[correct_answer]: {answer}\n\n"
    "Reply with exactly these four fields:\n\n"
    "extracted_final_answer: the final answer the [response] commits to, copied from it. "
    "Write None if it gives no single, final answer.\n\n"
    "reasoning: briefly, whether extracted_final_answer agrees with [correct_answer]. "
    "Only compare the two answers: do not solve the question, do not discuss its "
    "background, and do not argue for any answer other than [correct_answer].\n\n"
    "correct: yes if extracted_final_answer matches [correct_answer], or is within a small "
    "margin of error for a numerical answer; no if it differs in any way, is ambiguous, is "
    "not equivalent, or nothing was extracted.\n\n"
    "confidence: the confidence score between 0 and 100 that the [response] states for its "
    "answer; 100 if it states none."
)
JUDGE_PARAMS = GenerationParams(max_tokens=2048, temperature=0.0)
_CORRECT = re.compile(r"^[\s*#_]*correct[\s*_]*:[\s*_]*(yes|no)\b", re.I | re.M)
_CONFIDENCE = re.compile(r"^[\s*#_]*confidence[\s*_]*:[\s*_]*(\d+(?:\.\d+)?)", re.I | re.M)
_EXTRACTED = re.compile(r"^[\s*#_]*extracted_final_answer[\s*_]*:[\s*_]*(.*)$", re.I | re.M)


def judge_prompt(question: str, response: str, answer: str) -> str:
    """The judge's prompt for one response (placeholders filled literally)."""
    return (JUDGE_PROMPT.replace("{question}", question).replace("{response}", response)
            .replace("{answer}", answer))


def parse_judgment(text: str) -> dict[str, Any]:
    """`correct` (True/False, None when absent), `confidence` in [0, 1] (1.0 when absent, as
    the authors' default of 100) and `extracted` from a judge reply; the last field wins."""
    verdicts = _CORRECT.findall(text)
    confidences = _CONFIDENCE.findall(text)
    extracted = _EXTRACTED.findall(text)
    confidence = min(100.0, float(confidences[-1])) / 100 if confidences else 1.0
    return {
        "correct": None if not verdicts else verdicts[-1].lower() == "yes",
        "confidence": confidence,
        "extracted": extracted[-1].strip() if extracted else None,
    }


def _prepare_rows(rows: list[dict[str, Any]], where: str) -> list[Sample]:
    samples = []
    for i, row in enumerate(rows):
        if str(row.get("image") or "").strip():
            continue
        answer_type = str(row.get("answer_type", "exactMatch"))
        samples.append(Sample(
            str(require_field(row, "id", source=where, row_index=i)),
            str(require_field(row, "question", source=where, row_index=i)),
            str(require_field(row, "answer", source=where, row_index=i)),
            metadata={"answer_type": answer_type, "category": row.get("category"),
                      "row_index": i},
        ))
    return samples


class HleTask(_BaseTask):
    """HLE text-only questions, judged by an LLM (module docstring)."""

    task_type = "generate"

    def __init__(self, name: str, source: DataSource, *, judge: str | Backend,
                 chat: bool, max_tokens: int, think_tags: tuple[str, str] | None,
                 config: dict[str, Any], judge_cache: bool = True) -> None:
        where = f"task {name}: {source.label()}"
        super().__init__(name, lambda: _prepare_rows(source.rows(), where), config=config,
                         data_spec=lambda load: {"eval": source.describe(hash_files=load)})
        self._judge = judge
        self.chat = chat
        self.max_tokens = max_tokens
        self.think_tags = think_tags
        self.judge_cache = judge_cache
        self._judge_served: ServedCache | None = None  # bound on the first judgment

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return (
            MetricSpec("acc", Aggregation.PROPORTION),
            MetricSpec("stated_confidence", Aggregation.MEAN, bounds=(0.0, 1.0)),
            MetricSpec("judge_parse_fail", Aggregation.PROPORTION, higher_is_better=False),
        )

    def references(self) -> dict[str, Any]:
        """Chance level: about 0 for exact answers (multiple-choice items have 5+ options)."""
        return {"chance": 0.0}

    def _type_spec(self) -> dict[str, Any]:
        judge = self._judge if isinstance(self._judge, str) else self._judge.fingerprint.key()
        return {"version": HLE_VERSION, "judge": judge, "judge_prompt": JUDGE_PROMPT,
                "judge_params": {"max_tokens": JUDGE_PARAMS.max_tokens, "temperature": 0.0},
                "chat": self.chat, "max_tokens": self.max_tokens,
                "think_tags": list(self.think_tags) if self.think_tags else None}

    def judge(self) -> Backend:
        """The judge backend, loaded on first use."""
        if isinstance(self._judge, str):
            from lmaudit.backends.registry import load_backend

            self._judge = load_backend(self._judge)
        return self._judge

    def _ask_judge(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """The judge's replies, through the request cache unless `judge_cache=false` (a
        resumed or repeated run never pays twice for the same judgment)."""
        from lmaudit.core.runner import execute_requests
        from lmaudit.core.served_cache import default_served_cache

        judge = self.judge()
        if not self.judge_cache:
            answers = execute_requests(judge, requests, show_progress=False)
        else:
            if self._judge_served is None:  # the judge is identified once, not per sample
                self._judge_served = default_served_cache(judge)
            answers = self._judge_served.answer(requests)
        return [a for a in answers if isinstance(a, Generation)]

    def _system(self, sample: Sample) -> str:
        choice = sample.metadata.get("answer_type") == "multipleChoice"
        return SYSTEM_CHOICE if choice else SYSTEM_EXACT

    def requests(self, sample: Sample) -> list[Request]:
        params = GenerationParams(self.max_tokens, 0.0)
        if self.chat:
            turns = (Message("system", self._system(sample)), Message("user", sample.input))
            return [GenerateRequest(messages=turns, params=params)]
        return [GenerateRequest(self._system(sample) + "\n\n" + sample.input, params=params)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], Generation):
            raise ValueError(f"task {self.name}: expected one Generation")
        return self.judge_many([(sample, responses[0].text)])[0]

    def judge_many(self, items: Sequence[tuple[Sample, str]]) -> list[SampleRecord]:
        """Judge responses in one batch of judge requests; one record each."""
        answers = [split_thinking(text, self.think_tags) for _, text in items]
        requests = [
            GenerateRequest(messages=(Message("user", judge_prompt(
                s.input, a.answer, str(s.target))),), params=JUDGE_PARAMS)
            for (s, _), a in zip(items, answers, strict=True)
        ]
        replies = self._ask_judge(requests)
        records = []
        for (sample, text), split, reply in zip(items, answers, replies, strict=True):
            verdict = parse_judgment(reply.text)
            records.append(SampleRecord(
                sample_id=sample.id, prompt=sample.input, target=str(sample.target),
                response=text, extracted=verdict["extracted"],
                metrics={"acc": float(verdict["correct"] is True),
                         "stated_confidence": verdict["confidence"],
                         "judge_parse_fail": float(verdict["correct"] is None)},
                cluster=sample.cluster,
                extra={"judge_reply": reply.text, "thinking": split.counts(0, len(text)),
                       "category": sample.metadata.get("category")},
            ))
        return records

    def score_stored(self, rows: Sequence[dict[str, Any]], *, source: Path) -> list[SampleRecord]:
        """`lmaudit score`: lines with `response` and either `id` (joined to the data) or
        their own `question` and `answer` (then no dataset is read); the judge sees all of
        them in one batch (when every line is self-contained, the task's samples become
        those questions). The HLE authors' predictions file (a JSON object mapping id to
        {"response": ...}) converts to such lines one per id."""
        by_id: dict[str, Sample] | None = None
        items: list[tuple[Sample, str]] = []
        for row in rows:
            where = f"{source}: line {row['_line']}"
            text = row.get("response")
            if not isinstance(text, str):
                raise LmauditError(f"{where}: needs a `response` string")
            if isinstance(row.get("question"), str) and row.get("answer") is not None:
                sample = Sample(str(row.get("id", row["_line"])), row["question"],
                                str(row["answer"]),
                                metadata={"answer_type": row.get("answer_type")})
            else:
                if by_id is None:
                    by_id = {s.id: s for s in self.samples()}
                found = by_id.get(str(row.get("id")))
                if found is None:
                    raise LmauditError(f"{where}: no `question`/`answer`, and id "
                                       f"{row.get('id')!r} is not an HLE text question")
                sample = found
            items.append((sample, text))
        if by_id is None:  # every line self-contained: the task describes these questions
            self._samples = [sample for sample, _ in items]
        return self.judge_many(items)


@register_task("hle", "Humanity's Last Exam, text-only (gated cais/hle); LLM judge, "
               "calibration error from stated confidence", task_type="generate")
def hle(**options: str) -> Task:
    """HLE (module docstring); needs `judge=MODEL_SPEC`."""
    opts = TaskOptions("hle", options, {
        "judge": "the judge model, any model spec (e.g. openai-chat:gpt-4o-2024-08-06)",
        "data": "local file with the hub's columns (default cais/hle, gated)",
        "split": "split (default test)",
        "format": "chat (default: system + user turns) or plain (one prompt)",
        "max_tokens": "new tokens per answer (default 8192)",
        "think_tags": think_tags_help("judging"),
        "judge_cache": "true (default): judgments go through the request cache; false",
    })
    judge = opts.text("judge")
    if not judge:
        raise LmauditError("task hle: needs --task-option judge=MODEL_SPEC, the model that "
                           "grades the answers (the authors used openai-chat:gpt-4o-2024-08-06)")
    split = opts.text("split", "test") or "test"
    data = opts.text("data")
    tags = opts.think_tags()
    return HleTask(
        "hle", DataSource(data, split) if data else DataSource("cais/hle", split),
        judge=judge, chat=opts.choice("format", "chat", ("chat", "plain")) == "chat",
        max_tokens=opts.integer("max_tokens", 8192, minimum=1), think_tags=tags,
        config={"task_version": HLE_VERSION, "options": opts.spec()},
        judge_cache=opts.choice("judge_cache", "true", ("true", "false")) == "true",
    )
