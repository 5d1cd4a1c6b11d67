"""Competition math: `math` (MATH), `math500`, `aime24`, `aime25`.

Prompt (zero-shot, the convention of the DeepSeek-R1 and Qwen2.5-Math evaluations):
"{problem}\\nPlease reason step by step, and put your final answer within \\boxed{}."
Scored by the `math` scorer (`lmaudit.scoring.math`: strict = last `\\boxed{}`, flexible =
box or final-answer line, math-verify equivalence); extraction failures are metrics.
Thinking segments are removed before extraction and several samples per problem are
supported (`lmaudit.tasks.reasoning`; `--task-option samples=8` reports avg@8 and pass@8).

Data (hub default, or `--task-option data=FILE` of the same shape):
- math: `EleutherAI/hendrycks_math`, one config per subject (`subject=all` concatenates
  the seven), rows {problem, level, type, solution}; the target is the solution's last
  boxed answer. Ids `<subject>/<k>`.
- math500: `HuggingFaceH4/MATH-500` test, rows {problem, solution, answer, subject, level,
  unique_id}; the target is `answer`; ids `unique_id`.
- aime24: `HuggingFaceH4/aime_2024` train, rows {id, problem, solution, answer, ...};
  `Maxwell-Jia/AIME_2024`'s capitalised fields {ID, Problem, Solution, Answer} also read.
- aime25: `yentinglin/aime_2025` train, rows {id, problem, answer, ...}; opencompass's
  {question, answer} rows also read (ids: row number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.scoring.math import gold_answer
from lmaudit.tasks.fewshot import FewshotConfig
from lmaudit.tasks.reasoning import REASONING_OPTIONS, build_reasoning_task, reasoning_options
from lmaudit.tasks.registry import TaskOptions, register_task
from lmaudit.tasks.rows import RowFormat, RowPrepare

MATH_PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
MATH_SUBJECTS = (
    "algebra", "counting_and_probability", "geometry", "intermediate_algebra",
    "number_theory", "prealgebra", "precalculus",
)
MAX_TOKENS = 4096
AIME_NOTE = (
    "AIME has {n} problems: one problem moves the score by {step:.1f} points and the 95% "
    "interval is wide; samples=N (avg@N) removes sampling noise, not the between-problem "
    "uncertainty."
)


@dataclass
class ConcatSource:
    """Several hub configs read as one source (MATH's seven subjects)."""

    parts: tuple[DataSource, ...]
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = [row for part in self.parts for row in part.rows()]
        return self._rows

    def label(self) -> str:
        return "+".join(part.label() for part in self.parts)

    def describe(self, *, hash_files: bool = True) -> dict[str, Any]:
        return {"parts": [part.describe(hash_files=hash_files) for part in self.parts]}

    def same_as(self, other: Any) -> bool:
        return isinstance(other, ConcatSource) and self.parts == other.parts


def _field(row: dict[str, Any], names: tuple[str, ...], where: str, i: int) -> Any:
    for name in names:
        if name in row:
            return require_field(row, name, source=where, row_index=i)
    return require_field(row, names[0], source=where, row_index=i)


def _prepare(kind: str, subject: str = "all") -> RowPrepare:
    """Rows in one shape {problem, answer, lmaudit_id, subject} for every math dataset."""

    def prepare(rows: list[dict[str, Any]], where: str) -> list[tuple[int, dict[str, Any]]]:
        counts: dict[str, int] = {}
        kept: list[tuple[int, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            problem = _field(row, ("problem", "Problem", "question"), where, i)
            if kind == "math":
                row_subject = str(row.get("type", subject)).lower().replace(" & ", "_and_")
                row_subject = row_subject.replace(" ", "_")
                if subject != "all" and row_subject != subject:
                    continue
                solution = str(require_field(row, "solution", source=where, row_index=i))
                answer = gold_answer(solution)
                k = counts[row_subject] = counts.get(row_subject, -1) + 1
                sample_id = f"{row_subject}/{k}"
            else:
                answer = str(_field(row, ("answer", "Answer"), where, i)).strip()
                row_subject = str(row.get("subject", kind))
                raw_id = next((row[n] for n in ("unique_id", "id", "ID") if row.get(n)), None)
                sample_id = str(raw_id) if raw_id is not None else str(i)
            if not answer:
                raise LmauditError(f"{where}: row {i}: no answer")
            kept.append((i, {**row, "problem": str(problem), "answer": answer,
                             "lmaudit_id": sample_id, "subject": row_subject}))
        if not kept:
            raise LmauditError(f"{where}: no rows for subject {subject!r}")
        return kept

    return prepare


def _math_family(
    name: str, options: dict[str, str], *, hub: tuple[str, str, str | None],
    references: dict[str, Any], note: str | None = None, subjects: bool = False,
) -> Task:
    allowed = {
        "data": "local file or directory of rows in the dataset's shape (default: the hub)",
        "split": f"evaluation split (default {hub[1]})",
        "fewshot": "few-shot examples (default 0), from fewshot_data or the same split",
        "fewshot_data": "file of few-shot examples (rows of the same shape)",
        **REASONING_OPTIONS,
    }
    if subjects:
        allowed["subject"] = "one of " + ", ".join(MATH_SUBJECTS) + ", or all (default)"
    opts = TaskOptions(name, options, allowed)
    subject = opts.text("subject", "all") or "all"
    if subject not in ("all", *MATH_SUBJECTS):
        raise LmauditError(f"task {name}: unknown subject {subject!r}")
    split = opts.text("split", hub[1]) or hub[1]
    data = opts.text("data")
    source: Any
    if data:
        source = DataSource(data, split)
    elif subjects:
        chosen = MATH_SUBJECTS if subject == "all" else (subject,)
        source = ConcatSource(tuple(DataSource(hub[0], split, s) for s in chosen))
    else:
        source = DataSource(hub[0], split, hub[2])
    fewshot_data = opts.text("fewshot_data")
    n = opts.integer("fewshot", 0)
    prepare = _prepare("math" if subjects else name, subject)
    rows = RowFormat("generate", prompt=MATH_PROMPT, target="answer", id_field="lmaudit_id")
    return build_reasoning_task(
        name if subject == "all" else f"{name}_{subject}",
        rows,
        source,
        origin=f"task {name}",
        scorer="math",
        options=reasoning_options(opts, max_tokens=MAX_TOKENS),
        config={"task_version": f"{name}-v1", "options": opts.spec()},
        prepare=prepare,
        fewshot=FewshotConfig(n, None, 0) if n else None,
        fewshot_source=DataSource(fewshot_data, "train") if fewshot_data else None,
        fewshot_answer=lambda s: str(s.metadata["fields"].get("solution", s.target)),
        references=references,
        notes=(note,) if note else (),
    )


@register_task("math", "MATH competition problems (EleutherAI/hendrycks_math test); "
               "boxed answer, math-verify equivalence", task_type="generate")
def math_task(**options: str) -> Task:
    """MATH, 5,000 test problems over seven subjects (`subject=...` for one)."""
    return _math_family("math", options, hub=("EleutherAI/hendrycks_math", "test", None),
                        references={"chance": 0.0}, subjects=True)


@register_task("math500", "MATH-500 (HuggingFaceH4/MATH-500); boxed answer, math-verify",
               task_type="generate")
def math500_task(**options: str) -> Task:
    """The 500-problem MATH subset of "Let's Verify Step by Step"."""
    return _math_family("math500", options, hub=("HuggingFaceH4/MATH-500", "test", None),
                        references={"chance": 0.0})


@register_task("aime24", "AIME 2024, 30 problems (HuggingFaceH4/aime_2024); integer answers",
               task_type="generate")
def aime24_task(**options: str) -> Task:
    """AIME 2024 I and II; answers are integers 0-999 (chance about 0.001)."""
    return _math_family("aime24", options, hub=("HuggingFaceH4/aime_2024", "train", None),
                        references={"chance": 0.001}, note=AIME_NOTE)


@register_task("aime25", "AIME 2025, 30 problems (yentinglin/aime_2025); integer answers",
               task_type="generate")
def aime25_task(**options: str) -> Task:
    """AIME 2025 I and II; answers are integers 0-999 (chance about 0.001)."""
    return _math_family("aime25", options, hub=("yentinglin/aime_2025", "train", None),
                        references={"chance": 0.001}, note=AIME_NOTE)
