"""MMLU-Pro (`mmlu_pro`): up to 10 options, 5-shot chain of thought, "The answer is (X)".

Layout of TIGER-Lab's reference evaluation for local models (`mmlu-pro-cot-v1`;
"N/A" options dropped; greedy, at most 2,048 new tokens, stopped at "Question:"):

    <the reference's one-sentence instruction for the category>\\n
    Question:\\n<q>\\nOptions:\\nA. <o1>\\nB. <o2>\\n...\\n<cot_content of example 1>\\n\\n
    ... (5 examples: the first five validation questions of the same category)
    Question:\\n<q>\\nOptions:\\nA. ...\\nAnswer: Let's think step by step.

Each example's `cot_content` begins "A: Let's think step by step." in the data; it is shown
as "Answer: Let's think step by step. ..." (the reference makes the same replacement).
Answers are extracted with the reference cascade (`mmlu_pro_letter` scorer,
`lmaudit.scoring.choice_letters`). Data: `TIGER-Lab/MMLU-Pro` test, few-shot pool its
validation split; or `data=FILE` (and `fewshot_data=FILE`, or `data=DIR` holding
`test.jsonl` and `validation.jsonl`) with the hub's columns {question_id, question,
options, answer, answer_index, cot_content, category}. Cluster: category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.tasks.fewshot import FewshotConfig
from lmaudit.tasks.prompting import resolve_choices
from lmaudit.tasks.reasoning import REASONING_OPTIONS, build_reasoning_task, reasoning_options
from lmaudit.tasks.registry import TaskOptions, register_task
from lmaudit.tasks.rows import RowFormat, RowPrepare

LETTERS = "ABCDEFGHIJ"
CATEGORIES = (
    "biology", "business", "chemistry", "computer science", "economics", "engineering",
    "health", "history", "law", "math", "other", "philosophy", "physics", "psychology",
)
DESCRIPTION = (  # the reference's one-sentence instruction, then one newline
    "The following are multiple choice questions (with answers) about {category}. Think "
    "step by step and then finish your answer with \"the answer is (X)\" where X is the "
    "correct letter choice.\n"
)
COT_OPENING = "Let's think step by step."


def _prepare(category: str) -> RowPrepare:
    def prepare(rows: list[dict[str, Any]], where: str) -> list[tuple[int, dict[str, Any]]]:
        kept = []
        for i, row in enumerate(rows):
            row_category = str(require_field(row, "category", source=where, row_index=i))
            if category != "all" and row_category != category:
                continue
            raw = require_field(row, "options", source=where, row_index=i)
            options = [o for o in resolve_choices(raw, source=where, row_index=i)[0]
                       if o != "N/A"]  # the reference drops "N/A" padding
            if not 2 <= len(options) <= len(LETTERS):
                raise LmauditError(f"{where}: row {i}: {len(options)} options (2 to 10 allowed)")
            answer = str(require_field(row, "answer", source=where, row_index=i)).strip()
            if answer not in LETTERS[: len(options)]:
                raise LmauditError(f"{where}: row {i}: answer {answer!r} is not an option letter")
            block = "".join(f"{LETTERS[k]}. {text}\n" for k, text in enumerate(options))
            kept.append((i, {
                **row,
                "question": str(require_field(row, "question", source=where, row_index=i)),
                "options_block": block,
                "answer": answer,
                "category": row_category,
                "lmaudit_id": str(row.get("question_id", i)),
            }))
        if not kept:
            raise LmauditError(f"{where}: no rows for category {category!r}")
        return kept

    return prepare


def cot_answer(fields: dict[str, Any]) -> str:
    """A few-shot example's reasoning after "Answer: Let's think step by step." (that
    opening is already in the example's prompt), whitespace kept as in the data, so the
    example reads exactly as the reference's (the task's target delimiter is empty)."""
    cot = str(fields.get("cot_content") or "")
    for opening in ("A: " + COT_OPENING, "Answer: " + COT_OPENING, COT_OPENING):
        if cot.startswith(opening):
            return cot[len(opening) :]
    return " " + cot


@register_task("mmlu_pro", "MMLU-Pro, 10-option questions in 14 categories (TIGER-Lab/MMLU-Pro"
               " test); 5-shot CoT, 'The answer is (X)'", task_type="generate")
def mmlu_pro(**options: str) -> Task:
    """MMLU-Pro with its reference 5-shot CoT layout (module docstring)."""
    opts = TaskOptions("mmlu_pro", options, {
        "category": "one of the 14 categories, or all (default)",
        "data": "local file or directory of rows with the hub's columns",
        "split": "evaluation split (default test)",
        "fewshot": "few-shot examples per category (default 5, from the validation split)",
        "fewshot_data": "file of few-shot rows (default: the validation split)",
        **REASONING_OPTIONS,
    })
    category = opts.text("category", "all") or "all"
    if category not in ("all", *CATEGORIES):
        raise LmauditError(f"task mmlu_pro: unknown category {category!r}; one of {CATEGORIES}")
    split = opts.text("split", "test") or "test"
    data = opts.text("data")
    source = DataSource(data, split) if data else DataSource("TIGER-Lab/MMLU-Pro", split)
    fewshot_data = opts.text("fewshot_data")
    n = opts.integer("fewshot", 5)
    pool: DataSource | None
    if fewshot_data:
        pool = DataSource(fewshot_data, "validation")
    elif not data:
        pool = DataSource("TIGER-Lab/MMLU-Pro", "validation")
    else:
        pool = DataSource(data, "validation") if Path(data).is_dir() else None
    if n and pool is None:
        raise LmauditError("task mmlu_pro: few-shot examples need fewshot_data=FILE (the "
                           "validation rows) or data=DIR with a validation file; or fewshot=0")
    row_format = RowFormat(
        "generate",
        prompt="Question:\n{question}\nOptions:\n{options_block}Answer: " + COT_OPENING,
        target="answer", id_field="lmaudit_id", cluster_field="category",
        description=DESCRIPTION,
    )
    return build_reasoning_task(
        "mmlu_pro" if category == "all" else f"mmlu_pro_{category.replace(' ', '_')}",
        row_format, source, origin="task mmlu_pro", scorer="mmlu_pro_letter",
        options=reasoning_options(opts, max_tokens=2048),
        stop=("Question:",),
        target_delimiter="",
        config={"task_version": "mmlu-pro-cot-v1", "options": opts.spec()},
        prepare=_prepare(category),
        fewshot=FewshotConfig(n, "validation", 0, "first_n", "category") if n else None,
        fewshot_source=pool,
        fewshot_prepare=_prepare(category),
        fewshot_answer=lambda s: cot_answer(dict(s.metadata.get("fields", {}))),
        references={"chance": 0.1},  # nominal: a few questions have fewer than 10 options
    )
