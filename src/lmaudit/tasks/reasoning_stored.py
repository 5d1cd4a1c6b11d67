"""`lmaudit score` for reasoning tasks: stored answers, one or several per problem.

A responses file (JSONL) holds per line a `response` string, or `responses` (a list of
strings: several samples of one problem), and says which problem it answers:

- with a `target`, the line is self-contained (no dataset is read): `id` (default: the
  line number), optional `prompt` and `cluster`; GPQA answers from another harness carry
  the letter *their* option order made correct;
- without a `target`, `id` (the task's sample id) or the exact `prompt` joins it to the
  task's data (`--task-option data=PATH` for a local copy).

Lines with the same `id` are several answers to one problem, in file order, or in the
order of their `sample_index` (an int per line) when every line of the problem has one.
`verifier_score` (a number, or a list with one per answer; higher is better, e.g. a reward
model's score or the mean token log-probability) adds `best_of_k` when every line has it.
`token_logprobs` (a list of numbers for one `response`, a list of such lists for
`responses`; natural log) feeds the `self` verifier of `lmaudit score --verifier`, which
also runs a judge, a reward model or the oracle on stored answers (`best_of_k:LABEL`).
Every problem
must have the same number k of answers: with k > 1 the metrics are avg@k and `pass_at_k`
(the task's `samples` option may be left at 1; it then becomes k). Thinking segments are
removed before extraction, as in a live run; `completion_tokens` (an int, or a list with
one per answer) feeds the reasoning-token estimate. Errors name the file and line. When
every line carries its target, the task's samples become the stored problems (its spec
then describes them, and no dataset is read).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmaudit.core.types import LmauditError, Sample, SampleRecord

if TYPE_CHECKING:
    from lmaudit.core.task import Task
    from lmaudit.tasks.reasoning import ReasoningTask

LogProbs = tuple[float, ...] | None


def _answers(row: dict[str, Any], where: str) -> list[str]:
    if "responses" in row:
        texts = row["responses"]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise LmauditError(f"{where}: `responses` must be a non-empty list of strings")
        return list(texts)
    text = row.get("response")
    if not isinstance(text, str):
        raise LmauditError(f"{where}: needs a `response` string or a `responses` list")
    return [text]


def _tokens(row: dict[str, Any], n: int, where: str) -> list[int]:
    raw = row.get("completion_tokens", 0)
    values = raw if isinstance(raw, list) else [raw] * n
    if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in values):
        raise LmauditError(f"{where}: `completion_tokens` must be an int or {n} ints")
    return list(values)


def _scores(row: dict[str, Any], n: int, where: str) -> list[float] | None:
    raw = row.get("verifier_score")
    if raw is None:
        return None
    values = raw if isinstance(raw, list) else [raw] * n
    if len(values) != n or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   for v in values):
        raise LmauditError(f"{where}: `verifier_score` must be a number or {n} numbers")
    return [float(v) for v in values]


def _logprobs(row: dict[str, Any], n: int, where: str) -> list[LogProbs]:
    raw = row.get("token_logprobs")
    if raw is None:
        return [None] * n
    values = raw if n > 1 or "responses" in row else [raw]
    if not isinstance(values, list) or len(values) != n or not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                    for x in v) for v in values
    ):
        raise LmauditError(f"{where}: `token_logprobs` must be a list of numbers per answer "
                           f"({n} answer(s))")
    return [tuple(float(x) for x in v) for v in values]


def _sample_order(lines: list[tuple[Any, ...]], where: str) -> list[tuple[Any, ...]]:
    """A problem's lines in `sample_index` order when every line has one (file order else)."""
    indices = [line[0] for line in lines]
    if any(i is None for i in indices):
        return lines
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices) or \
            len(set(indices)) != len(indices):
        raise LmauditError(f"{where}: `sample_index` must be distinct ints within a problem")
    return sorted(lines, key=lambda line: int(line[0]))


def score_stored_answers(
    task: ReasoningTask, rows: Sequence[dict[str, Any]], *, source: Path
) -> list[SampleRecord]:
    """One record per problem (rules in the module docstring)."""
    from lmaudit.tasks.reasoning import score_answers

    groups: dict[str, list[Any]] = {}  # key -> [first row, answers, tokens, where, lines]
    for row in rows:
        where = f"{source}: line {row['_line']}"
        texts = _answers(row, where)
        tokens = _tokens(row, len(texts), where)
        scores = _scores(row, len(texts), where)
        if row.get("id") is not None:
            key = f"id:{row['id']}"
        elif isinstance(row.get("prompt"), str) and "target" not in row:
            key = f"prompt:{row['prompt']}"
        else:
            key = f"line:{row['_line']}"
        group = groups.setdefault(key, [row, [], [], where, [], []])
        if "target" in row and str(row["target"]) != str(group[0].get("target")):
            raise LmauditError(f"{where}: id {row.get('id')!r} has another target on "
                               f"line {group[0]['_line']}")
        group[4].append((row.get("sample_index"), texts, tokens, scores,
                         _logprobs(row, len(texts), where)))
    for group in groups.values():
        lines = _sample_order(group[4], group[3])
        group[1] = [t for line in lines for t in line[1]]
        group[2] = [t for line in lines for t in line[2]]
        group[5] = [lp for line in lines for lp in line[4]]
        scored = [line[3] for line in lines]
        group[4] = (None if any(s is None for s in scored)
                    else [v for line_scores in scored for v in line_scores or []])
    counts = {len(g[1]) for g in groups.values()}
    if len(counts) > 1:
        raise LmauditError(
            f"{source}: every problem needs the same number of answers (avg@k); found "
            f"{sorted(counts)}"
        )
    k = counts.pop()
    if task.verifiers and k < 2:
        raise LmauditError(f"{source}: --verifier picks the best of several answers per "
                           "problem; every problem here has one")
    task.verifier_scores = k > 1 and all(g[4] is not None for g in groups.values())
    if task.n_answers == 1 and k > 1:
        task.n_answers = k
    elif k != task.n_answers:
        raise LmauditError(f"{source}: {k} answers per problem, but samples={task.n_answers}")
    by_id: dict[str, Sample] | None = None
    by_prompt: dict[str, Sample] = {}
    records: list[SampleRecord] = []
    stored: list[Sample] = []
    for first, texts, tokens, where, scores, logprobs in groups.values():
        if "target" in first:
            if first["target"] is None:
                raise LmauditError(f"{where}: `target` is null")
            sample_id = str(first.get("id", first["_line"]))
            cluster = first.get("cluster")
            metadata = {} if cluster is None else {"cluster": str(cluster)}
            sample = Sample(sample_id, str(first.get("prompt", "")), str(first["target"]),
                            metadata=metadata)
            prompt: str | None = sample.input
            stored.append(sample)
        else:
            if by_id is None:
                by_id = {s.id: s for s in task.samples()}
                by_prompt = {s.input: s for s in by_id.values()}
            found = (by_id.get(str(first["id"])) if first.get("id") is not None
                     else by_prompt.get(str(first.get("prompt"))))
            if found is None:
                raise LmauditError(f"{where}: no `target`, and its id or prompt is not a "
                                   f"sample of task {task.name}")
            sample, prompt = found, None
        answers = [(text, count, "stop") for text, count in zip(texts, tokens, strict=True)]
        try:
            records.append(score_answers(task, sample, answers, prompt=prompt,
                                         scores=scores if task.verifier_scores else None,
                                         token_logprobs=logprobs))
        except LmauditError as error:
            raise LmauditError(f"{where}: {error}") from None
    if len(stored) == len(records):  # self-contained: the task describes these problems
        task.use_samples(stored)
    return records


def stored_sampling_task(task: Task) -> ReasoningTask:
    """A task that scores stored multi-sample answers (this module's rules) with `task`'s
    answer scorer and samples (for ids without a target), keeping no thinking tags: how
    `lmaudit score` reads several answers per problem for any task with a scorer."""
    from lmaudit.scoring import Scorer
    from lmaudit.tasks.reasoning import ReasoningTask

    scorer = getattr(task, "scorer", None)
    if not isinstance(scorer, Scorer):
        raise LmauditError(f"task {task.name}: stored samples need a task with an answer scorer")
    stored = ReasoningTask(task.name, task.samples, scorer=scorer.name, think_tags=None)
    stored.scorer = scorer  # the task's own (configured) scorer
    return stored
