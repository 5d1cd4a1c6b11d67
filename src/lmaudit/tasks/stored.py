"""Grading stored responses with a task's own scoring (`lmaudit score` for any task).

A responses file (JSONL) holds one object per answered sample with a `response` string
and the sample it answers: `id` (the task's sample id) or, without `id`, `prompt` (the
sample's own prompt text, matched exactly, as the IFEval authors join their files).
Each response is scored by `task.score(sample, [Generation(response)])`, the same code a
live run uses, so a stored answer and a generated one get the same verdict.

A task whose stored files have another shape (several completions per problem, other
field names) implements `score_stored(rows, source=...)` (the `StoredScoringTask`
protocol) and is used instead of the default join.

Every problem is one line naming the file and line: a row without a response or a join
key, an id or prompt the task does not have, a sample answered twice; and, after
reading, the samples left without any response (a partial file would silently score a
subset).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lmaudit.core.task import Task
from lmaudit.core.types import Generation, LmauditError, Sample, SampleRecord
from lmaudit.data.textio import json_lines


@runtime_checkable
class StoredScoringTask(Protocol):
    """A task that reads its own stored-response files."""

    def score_stored(
        self, rows: Sequence[dict[str, Any]], *, source: Path
    ) -> list[SampleRecord]: ...


def read_stored_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, each with its line number under `_line`."""
    if not path.is_file():
        raise LmauditError(f"{path}: no such responses file")
    rows: list[dict[str, Any]] = []
    for line_no, row in json_lines(path):
        if not isinstance(row, dict):
            raise LmauditError(f"{path}: line {line_no}: expected a JSON object")
        rows.append({**row, "_line": line_no})
    if not rows:
        raise LmauditError(f"{path}: no responses in file")
    return rows


def join_rows(
    samples: Sequence[Sample], rows: Sequence[dict[str, Any]], *, source: Path
) -> list[tuple[Sample, str]]:
    """(sample, response text) per row, in file order; errors as in the module docstring."""
    by_id = {s.id: s for s in samples}
    by_prompt: dict[str, Sample] = {}
    repeated_prompts: set[str] = set()
    for sample in samples:
        if sample.input in by_prompt:
            repeated_prompts.add(sample.input)
        by_prompt[sample.input] = sample
    answered: dict[str, int] = {}
    pairs: list[tuple[Sample, str]] = []
    for row in rows:
        where = f"{source}: line {row['_line']}"
        response = row.get("response")
        if not isinstance(response, str):
            raise LmauditError(f"{where}: `response` must be a string (got {response!r:.40})")
        if row.get("id") is not None:
            by_key = by_id.get(str(row["id"]))
            if by_key is None:
                raise LmauditError(f"{where}: id {row['id']!r} is not a sample of the task")
            sample = by_key
        elif isinstance(row.get("prompt"), str):
            prompt = row["prompt"]
            if prompt in repeated_prompts:
                raise LmauditError(f"{where}: several samples share this prompt; give an `id`")
            found = by_prompt.get(prompt)
            if found is None:
                raise LmauditError(
                    f"{where}: prompt {prompt[:60]!r}... is not among the task's "
                    f"{len(samples)} prompts (prompts are matched exactly)"
                )
            sample = found
        else:
            raise LmauditError(f"{where}: needs `id` or `prompt` to say which sample it answers")
        if sample.id in answered:
            raise LmauditError(
                f"{where}: sample {sample.id} was already answered on line {answered[sample.id]}"
            )
        answered[sample.id] = row["_line"]
        pairs.append((sample, response))
    missing = [s.id for s in samples if s.id not in answered]
    if missing:
        raise LmauditError(
            f"{source}: {len(missing)} of the task's {len(samples)} samples have no response "
            f"(first: id {missing[0]}); use a data file with only the answered samples"
        )
    return pairs


def score_stored_responses(
    task: Task, rows: Sequence[dict[str, Any]], *, source: Path
) -> list[SampleRecord]:
    """Records of every stored response, scored by the task (module docstring)."""
    if isinstance(task, StoredScoringTask):
        return task.score_stored(rows, source=source)
    records = []
    for sample, text in join_rows(task.samples(), rows, source=source):
        try:
            records.append(task.score(sample, [Generation(text)]))
        except (ValueError, TypeError) as error:
            raise LmauditError(
                f"task {task.name}: cannot score one stored response per sample ({error})"
            ) from None
    return records
