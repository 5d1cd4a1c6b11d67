"""GPQA (`gpqa_diamond`, `gpqa_main`, `gpqa_extended`): zero-shot chain of thought.

Data: `Idavidrein/gpqa` (gated: accept its terms on the hub and log in), config
`gpqa_<subset>`, split `train`; or `--task-option data=FILE` with the same columns
(`Question`, `Correct Answer`, `Incorrect Answer 1..3`, `Record ID`, optional
`High-level domain`).

Option order (`gpqa-shuffle-v1`): each item's four options are shuffled by
`random.Random(f"{shuffle_seed}/{Record ID}")` (string seeds are hashed deterministically),
so the correct option's place varies from item to item, does not depend on the order or
subset of rows, and is recorded per sample (`fields.shuffle_seed`, `fields.permutation`:
the original index of each shown option, 0 = the correct answer). The answer format
follows openai simple-evals (the response ends with "Answer: LETTER"; `gpqa_letter`
scorer, `lmaudit.scoring.choice_letters`); the instruction wording is lmaudit's own.

Reference lines (`task.references()`, the audit suites' shape): chance 0.25; human
accuracy from Rein et al. 2023, "GPQA" (arXiv:2311.12022): experts 0.65 (0.74 discounting
mistakes the experts acknowledged afterwards) and skilled non-experts with web access
0.34, the paper's headline figures, for every subset. `task.notes()` says where they come
from and, for diamond (which was *selected* by expert agreement), the per-subset figures
81.3% / about 22% as secondary sources cite the paper's table (not re-checked here).
"""

from __future__ import annotations

import random
from typing import Any

from lmaudit.core.task import Task
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.tasks.reasoning import REASONING_OPTIONS, build_reasoning_task, reasoning_options
from lmaudit.tasks.registry import TaskOptions, register_task
from lmaudit.tasks.rows import RowFormat, RowPrepare

SUBSETS = ("diamond", "main", "extended")
LETTERS = "ABCD"
SHUFFLE_VERSION = "gpqa-shuffle-v1"
GPQA_PROMPT = (
    "Answer the multiple-choice question below. Reason step by step, then give your final "
    "choice on the last line, written as 'Answer: X' where X is one of A, B, C or D.\n\n"
    "{question}\n\nA) {choice_A}\nB) {choice_B}\nC) {choice_C}\nD) {choice_D}"
)
SMALL_NOTE = (
    "GPQA diamond has {n} questions: one question is worth {step:.1f} points, so differences "
    "of a few points between models are within the interval; samples=N averages N answers "
    "per question."
)
HUMAN = {"expert": 0.65, "expert_discounting_clear_mistakes": 0.74, "non_expert": 0.34}
SOURCE_NOTE = (
    "Human baselines (Rein et al. 2023, arXiv:2311.12022, headline figures): experts 65% "
    "(74% discounting mistakes they acknowledged), skilled non-experts with web access 34%."
)
DIAMOND_NOTE = (
    "On the diamond subset secondary sources cite the paper's per-subset table as 81.3% "
    "expert and about 22% non-expert; diamond was selected by expert agreement, so its "
    "expert figure is biased upward (not re-checked against the paper here)."
)


def gpqa_references(subset: str) -> dict[str, Any]:
    """Chance level and published human baselines, in the audit suites' shape
    (`{"chance": p, "human": {label: p}}`); provenance goes into the task's notes. The
    headline figures serve every subset."""
    return {"chance": 0.25, "human": dict(HUMAN)}


def shuffled_options(
    correct: str, incorrect: list[str], *, seed: str
) -> tuple[list[str], list[int], int]:
    """(options in shown order, original index of each, position of the correct one)."""
    originals = [correct, *incorrect]
    permutation = list(range(len(originals)))
    random.Random(seed).shuffle(permutation)
    return [originals[i] for i in permutation], permutation, permutation.index(0)


def _prepare(shuffle_seed: int) -> RowPrepare:
    def prepare(rows: list[dict[str, Any]], where: str) -> list[tuple[int, dict[str, Any]]]:
        kept = []
        for i, row in enumerate(rows):
            def get(name: str, _row: dict[str, Any] = row, _i: int = i) -> str:
                return str(require_field(_row, name, source=where, row_index=_i)).strip()

            record_id = get("Record ID")
            incorrect = [get(f"Incorrect Answer {k}") for k in (1, 2, 3)]
            seed = f"{shuffle_seed}/{record_id}"
            options, permutation, correct = shuffled_options(
                get("Correct Answer"), incorrect, seed=seed
            )
            kept.append((i, {
                **row,
                "question": get("Question"),
                **{f"choice_{letter}": text for letter, text in zip(LETTERS, options,
                                                                     strict=True)},
                "answer_letter": LETTERS[correct],
                "shuffle_seed": seed,
                "permutation": permutation,
                "lmaudit_id": record_id,
            }))
        return kept

    return prepare


def _gpqa(subset: str, options: dict[str, str]) -> Task:
    name = f"gpqa_{subset}"
    opts = TaskOptions(name, options, {
        "data": "local file of rows with the hub's columns (default Idavidrein/gpqa, gated)",
        "split": "split (default train, the only one on the hub)",
        "shuffle_seed": "seed of the per-item option shuffle (default 0)",
        **REASONING_OPTIONS,
    })
    split = opts.text("split", "train") or "train"
    data = opts.text("data")
    source = DataSource(data, split) if data else DataSource("Idavidrein/gpqa", split, name)
    shuffle_seed = opts.integer("shuffle_seed", 0)
    row_format = RowFormat("generate", prompt=GPQA_PROMPT, target="answer_letter",
                           id_field="lmaudit_id")
    return build_reasoning_task(
        name, row_format, source, origin=f"task {name}", scorer="gpqa_letter",
        options=reasoning_options(opts, max_tokens=4096),
        config={"task_version": f"{name}-v1", "options": opts.spec(),
                "shuffle": {"version": SHUFFLE_VERSION, "seed": shuffle_seed}},
        prepare=_prepare(shuffle_seed),
        references=gpqa_references(subset),
        notes=(SOURCE_NOTE, SMALL_NOTE, DIAMOND_NOTE) if subset == "diamond"
        else (SOURCE_NOTE,),
    )


@register_task("gpqa_diamond", "GPQA diamond, 198 graduate science questions (gated "
               "Idavidrein/gpqa); zero-shot CoT, shuffled options", task_type="generate")
def gpqa_diamond(**options: str) -> Task:
    """The 198-question subset on which experts agreed and non-experts failed."""
    return _gpqa("diamond", options)


@register_task("gpqa_main", "GPQA main, 448 questions; zero-shot CoT, shuffled options",
               task_type="generate")
def gpqa_main(**options: str) -> Task:
    """The 448-question main set."""
    return _gpqa("main", options)


@register_task("gpqa_extended", "GPQA extended, 546 questions; zero-shot CoT, shuffled "
               "options", task_type="generate")
def gpqa_extended(**options: str) -> Task:
    """All 546 questions."""
    return _gpqa("extended", options)
