"""Built-in tasks: gsm8k, mmlu, perplexity, arith, arith_mc (and arc_agi, in its module).

Imported by `lmaudit.tasks.registry` on first lookup. Each factory takes the command-line
task options as strings and records them, with a task version, in the task spec.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.tasks import arc_agi as _arc_agi  # noqa: F401  (registers arc_agi)
from lmaudit.tasks import code_tasks as _code_tasks  # noqa: F401  (humaneval, mbpp)
from lmaudit.tasks import gpqa as _gpqa  # noqa: F401  (gpqa_diamond, _main, _extended)
from lmaudit.tasks import hle as _hle  # noqa: F401  (registers hle)
from lmaudit.tasks import json_format as _json_format  # noqa: F401  (registers json_format)
from lmaudit.tasks import lab_codes as _lab_codes  # noqa: F401  (registers lab_codes)
from lmaudit.tasks import lm_eval_mc as _lm_eval_mc  # noqa: F401  (hellaswag, truthfulqa)
from lmaudit.tasks import math_tasks as _math_tasks  # noqa: F401  (math, math500, aime24/25)
from lmaudit.tasks import mmlu_pro as _mmlu_pro  # noqa: F401  (registers mmlu_pro)
from lmaudit.tasks import safety as _safety  # noqa: F401  (advbench, harmbench, xstest, hex_phi)
from lmaudit.tasks import safety_lab as _safety_lab  # noqa: F401  (registers safety_lab)
from lmaudit.tasks import text_corpus as _text_corpus  # noqa: F401  (registers perplexity)
from lmaudit.tasks.fewshot import FewshotConfig, FewshotSelector
from lmaudit.tasks.generic import GenerateTask, MultipleChoiceTask
from lmaudit.tasks.prompting import resolve_choices
from lmaudit.tasks.registry import TaskOptions, register_task
from lmaudit.tasks.rows import RowFormat, RowPrepare, build_task

FEWSHOT_HELP = "number of few-shot examples (default 0)"
SEED_HELP = "seed of the few-shot draw (default 0)"

# --- GSM8K -------------------------------------------------------------------------------

# lm-eval's gsm8k stops at "Question:", "</s>", "<|im_end|>". We keep exactly those: adding
# "\n\n" would cut off models (chat models in particular) that put blank lines inside
# their reasoning, before the final answer; base models that finish an answer and start
# the next question are stopped by "Question:".
GSM8K_STOP = ("Question:", "</s>", "<|im_end|>")


@register_task(
    "gsm8k",
    "GSM8K grade-school math (openai/gsm8k test); numeric answer",
    task_type="generate",
)
def gsm8k(**options: str) -> Task:
    """lm-eval's gsm8k layout: prompt "Question: {question}\\nAnswer:", target the full
    solution (scored on its "#### N" number by the numeric scorer), 256 new tokens."""
    opts = TaskOptions(
        "gsm8k",
        options,
        {
            "data": "local file or directory (test/train files) of {question, answer} rows; "
            "default the hub dataset openai/gsm8k",
            "split": "evaluation split (default test)",
            "fewshot": FEWSHOT_HELP + ", drawn from the train split",
            "fewshot_seed": SEED_HELP,
            "fewshot_data": "file of few-shot examples (default: train split; for a local "
            "data file, the same file without the current problem)",
        },
    )
    split = opts.text("split", "test") or "test"
    data = opts.text("data")
    source = DataSource(data, split) if data else DataSource("openai/gsm8k", split, "main")
    fewshot_data = opts.text("fewshot_data")
    if fewshot_data:
        pool: DataSource | None = DataSource(fewshot_data, "train")
    elif not data:
        pool = DataSource("openai/gsm8k", "train", "main")
    else:
        pool = DataSource(data, "train") if Path(data).is_dir() else None
    n = opts.integer("fewshot", 0)
    return build_task(
        "gsm8k",
        RowFormat("generate", prompt="Question: {question}\nAnswer:", target="answer"),
        source,
        origin="task gsm8k",
        fewshot=FewshotConfig(n, pool.split if pool else split, opts.integer("fewshot_seed", 0)),
        fewshot_source=pool,
        config={"task_version": "gsm8k-v1", "options": opts.spec()},
        generate_options={"scorer": "numeric", "max_tokens": 256, "stop": GSM8K_STOP},
    )


# --- MMLU --------------------------------------------------------------------------------

MMLU_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics",
    "high_school_physics", "high_school_psychology", "high_school_statistics",
    "high_school_us_history", "high_school_world_history", "human_aging", "human_sexuality",
    "international_law", "jurisprudence", "logical_fallacies", "machine_learning", "management",
    "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios",
    "nutrition", "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy", "virology", "world_religions",
)
MMLU_PROMPT = (
    "{question}\nA. {choice_A}\nB. {choice_B}\nC. {choice_C}\nD. {choice_D}\nAnswer:"
)
MMLU_DESCRIPTION = (
    "The following are multiple choice questions (with answers) about {subject_name}.\n\n"
)


def _mmlu_prepare(subject: str) -> RowPrepare:
    """Rows of `subject` (all when "all"), question stripped (as lm-eval), choices as a
    list, ids `<subject>/<k>` (k counts within the subject, so ids agree across modes)."""

    def prepare(rows: list[dict[str, Any]], where: str) -> list[tuple[int, dict[str, Any]]]:
        counts: dict[str, int] = {}
        kept: list[tuple[int, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            row_subject = row.get("subject") or (subject if subject != "all" else None)
            if row_subject is None:
                require_field(row, "subject", source=where, row_index=i)
            if subject != "all" and row_subject != subject:
                continue
            question = require_field(row, "question", source=where, row_index=i)
            raw = require_field(row, "choices", source=where, row_index=i)
            choices, _ = resolve_choices(raw, source=where, row_index=i)
            if len(choices) != 4:
                raise LmauditError(f"{where}: row {i}: MMLU needs 4 choices, got {len(choices)}")
            k = counts[str(row_subject)] = counts.get(str(row_subject), -1) + 1
            kept.append((i, {
                **row,
                "question": str(question).strip(),
                "choices": list(choices),
                **{f"choice_{letter}": text for letter, text in zip("ABCD", choices, strict=True)},
                "subject": str(row_subject),
                "subject_name": str(row_subject).replace("_", " "),
                "lmaudit_id": f"{row_subject}/{k}",
            }))
        if not kept:
            raise LmauditError(f"{where}: no rows for subject {subject!r}")
        return kept

    return prepare


@register_task(
    "mmlu",
    "MMLU 4-option questions, 57 subjects (cais/mmlu test)",
    task_type="multiple_choice",
)
def mmlu(**options: str) -> Task:
    """lm-eval's mmlu layout: subject description, question and lettered options, the
    model scores " A" ... " D"; few-shot examples are the first n dev questions of the
    same subject (lm-eval's `first_n` sampler). Cluster: subject."""
    opts = TaskOptions(
        "mmlu",
        options,
        {
            "subject": "one of the 57 subjects, or all (default)",
            "data": "local file or directory (test/dev files) of {question, subject, "
            "choices, answer} rows; default the hub dataset cais/mmlu",
            "split": "evaluation split (default test)",
            "fewshot": FEWSHOT_HELP + " (at most 5: the dev split has 5 per subject)",
            "fewshot_data": "file of few-shot examples (default: dev split; for a local "
            "data file, the same file without the current question)",
        },
    )
    subject = opts.text("subject", "all") or "all"
    if subject not in ("all", *MMLU_SUBJECTS):
        import difflib

        close = difflib.get_close_matches(subject, MMLU_SUBJECTS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; see the cais/mmlu subjects"
        raise LmauditError(f"task mmlu: unknown subject {subject!r}{hint}")
    split = opts.text("split", "test") or "test"
    data = opts.text("data")
    source = DataSource(data, split) if data else DataSource("cais/mmlu", split, subject)
    fewshot_data = opts.text("fewshot_data")
    if fewshot_data:
        pool: DataSource | None = DataSource(fewshot_data, "dev")
    elif not data:
        pool = DataSource("cais/mmlu", "dev", subject)
    else:
        pool = DataSource(data, "dev") if Path(data).is_dir() else None
    fewshot = FewshotConfig(
        opts.integer("fewshot", 0), pool.split if pool else split, 0, "first_n", "subject"
    )
    row_format = RowFormat(
        "multiple_choice",
        prompt=MMLU_PROMPT,
        target="answer",
        choices=("A", "B", "C", "D"),
        id_field="lmaudit_id",
        cluster_field="subject",
        description=MMLU_DESCRIPTION,
    )
    return build_task(
        "mmlu" if subject == "all" else f"mmlu_{subject}",
        row_format,
        source,
        origin="task mmlu",
        fewshot=fewshot,
        fewshot_source=pool,
        prepare=_mmlu_prepare(subject),
        config={"task_version": "mmlu-v1", "options": opts.spec()},
    )


# --- arith -------------------------------------------------------------------------------

_ARITH_OPTIONS = {
    "split": "test (default), ref or train",
    "fewshot": FEWSHOT_HELP + ", drawn from the train split",
    "fewshot_seed": SEED_HELP,
}


def _arith_samples(split: str, *, multiple_choice: bool) -> list[Sample]:
    try:
        arith: Any = importlib.import_module("lmaudit.tasks.arith")
    except ImportError as error:
        raise LmauditError(f"the arith tasks need lmaudit.tasks.arith: {error}") from None

    samples: list[Sample] = []
    for item in arith.load_split(split):
        metadata = {
            "cluster": item.template_id,
            "fields": {"template_id": item.template_id, "instance": item.instance},
        }
        if multiple_choice:
            options, correct = arith.make_choices(item, k=4, seed=0)
            samples.append(Sample(
                item.id, arith.prompt_for(item), int(correct),
                choices=tuple(str(o) for o in options), metadata=metadata,
            ))
        else:
            samples.append(Sample(item.id, arith.prompt_for(item), item.answer, metadata=metadata))
    return samples


def _arith_task(name: str, options: dict[str, str], *, multiple_choice: bool) -> Task:
    opts = TaskOptions(name, options, _ARITH_OPTIONS)
    split = opts.choice("split", "test", ("test", "ref", "train"))
    fewshot = FewshotConfig(opts.integer("fewshot", 0), "train", opts.integer("fewshot_seed", 0))
    selector = None
    if fewshot.n > 0:
        selector = FewshotSelector(
            fewshot,
            lambda: _arith_samples("train", multiple_choice=multiple_choice),
            exclude_self=split == "train",
            pool_name="arith train split",
        )
    kwargs: dict[str, Any] = dict(
        fewshot=selector, config={"task_version": f"{name}-v1", "split": split,
                                  "options": opts.spec()},
    )

    def load() -> list[Sample]:
        return _arith_samples(split, multiple_choice=multiple_choice)

    if multiple_choice:
        return MultipleChoiceTask(name, load, **kwargs)
    return GenerateTask(name, load, scorer="numeric", max_tokens=16, stop=("\n",), **kwargs)


@register_task(
    "arith",
    "templated arithmetic word problems; numeric answer",
    task_type="generate",
)
def arith_task(**options: str) -> Task:
    """Greedy answer, stopped at the first newline, at most 16 tokens; cluster: template."""
    return _arith_task("arith", options, multiple_choice=False)


@register_task(
    "arith_mc",
    "the arith problems as 4-option multiple choice",
    task_type="multiple_choice",
)
def arith_mc_task(**options: str) -> Task:
    """Options from `arith.make_choices(item, k=4, seed=0)`; cluster: template."""
    return _arith_task("arith_mc", options, multiple_choice=True)
