"""The `arith` benchmark: instances of lmaudit's own 40 arithmetic word-problem templates.

Data: `tasks/data/arith/*.yaml` (format in `lmaudit.probes.templates.format`). The three
splits are instances of the SAME templates with disjoint instance indices, and no question
text appears twice across or within splits:

- `test` (5 per template, 200): instance 0 is the template's original, then 1, 2, ...;
  this is the split a contaminated lab model memorizes;
- `ref` (5 per template, 200): indices from 1,000: same-distribution unseen items, for
  loss-gap tests;
- `train` (80 per template, 3,200): indices from 2,000: a language-model corpus.

An index whose question repeats an earlier one is skipped (the next index is used), so
`ArithItem.instance` is the instance actually drawn: `instantiate(template, item.instance)`
reproduces the item. Items are ordered instance-major (every template's first item, then
every template's second, ...), so `load_split(split, n)` is a prefix that covers templates
evenly. Ids read `arith-<split>-<template number, 3 digits>-<position within the template
in that split, 2 digits>`; the template number is its 1-based position in file order.
`reinstantiate(item, seed)` draws the same template at indices from 10,000,000 (never
used by a split), skipping any question that a split holds.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates import Template, instantiate, load_template_dir
from lmaudit.probes.templates.evaluator import Scope, Worded, normalise
from lmaudit.probes.templates.helpers import make_functions
from lmaudit.probes.templates.model import Instance
from lmaudit.probes.templates.sampler import as_worded

DATA_DIR = Path(__file__).resolve().parent / "data" / "arith"
SPLITS = ("train", "test", "ref")
PER_TEMPLATE: Mapping[str, int] = {"test": 5, "ref": 5, "train": 80}
FIRST_INDEX: Mapping[str, int] = {"test": 0, "ref": 1000, "train": 2000}
SPLIT_ORDER = ("test", "ref", "train")  # earlier splits claim question texts first
REINSTANCE_BASE = 10_000_000
SMALL_OFFSETS = (1, -1, 2, -2, 3, -3, 5, -5, 10, -10)


@dataclass(frozen=True)
class ArithItem:
    """One arith problem; `answer` is the canonical integer string."""

    id: str
    question: str
    answer: str
    template_id: str
    instance: int
    variables: Mapping[str, Any] = field(compare=False, hash=False)


def load_templates() -> list[Template]:
    """The arith template library, in file order (raises LmauditError if a file is broken)."""
    return list(_library())


@lru_cache(maxsize=1)
def _library() -> tuple[Template, ...]:
    templates, failures = load_template_dir(DATA_DIR)
    if failures:
        path, reason = failures[0]
        raise LmauditError(f"arith template library is broken: {path}: {reason}")
    return tuple(templates)


@lru_cache(maxsize=1)
def _by_id() -> Mapping[str, tuple[int, Template]]:
    return {t.id: (number, t) for number, t in enumerate(_library(), start=1)}


def _item(split: str, number: int, position: int, instance: Instance) -> ArithItem:
    return ArithItem(
        id=f"arith-{split}-{number:03d}-{position:02d}",
        question=instance.question,
        answer=instance.answer,
        template_id=instance.template_id,
        instance=instance.instance,
        variables=instance.plain_variables(),
    )


@lru_cache(maxsize=len(SPLITS))
def _split(split: str) -> tuple[ArithItem, ...]:
    earlier = SPLIT_ORDER[: SPLIT_ORDER.index(split)]
    taken = {item.question for name in earlier for item in _split(name)}
    per_template: list[list[ArithItem]] = []
    for number, template in enumerate(_library(), start=1):
        items: list[ArithItem] = []
        index = FIRST_INDEX[split]
        while len(items) < PER_TEMPLATE[split]:
            instance = instantiate(template, index)
            index += 1
            if instance.question in taken:
                continue
            taken.add(instance.question)
            items.append(_item(split, number, len(items), instance))
        per_template.append(items)
    return tuple(items[k] for k in range(PER_TEMPLATE[split]) for items in per_template)


def load_split(split: str, n: int | None = None) -> list[ArithItem]:
    """The first `n` items (all when None, or when n exceeds the split) of a split."""
    if split not in SPLITS:
        raise LmauditError(f"unknown arith split {split!r}; choose one of {', '.join(SPLITS)}")
    if n is not None and n < 0:
        raise LmauditError(f"arith: n must be non-negative, got {n}")
    items = _split(split)
    return list(items if n is None else items[:n])


def format_document(item: ArithItem) -> str:
    """Training text for a language model: `Question: ...\\nAnswer: <integer>`."""
    return f"Question: {item.question}\nAnswer: {item.answer}"


def prompt_for(item: ArithItem) -> str:
    """The prompt whose continuation is ` <answer>`: `Question: ...\\nAnswer:`."""
    return f"Question: {item.question}\nAnswer:"


def _template_of(item: ArithItem) -> tuple[int, Template]:
    try:
        return _by_id()[item.template_id]
    except KeyError:
        raise LmauditError(f"arith: unknown template id {item.template_id!r}") from None


@lru_cache(maxsize=1)
def _all_questions() -> frozenset[str]:
    return frozenset(item.question for split in SPLITS for item in _split(split))


def reinstantiate(item: ArithItem, seed: int) -> ArithItem:
    """The same template with fresh names and numbers: a question no split contains.

    Deterministic in (item, seed); different test items get different fresh versions.
    """
    number, template = _template_of(item)
    taken = _all_questions()
    index = REINSTANCE_BASE + item.instance * 10_000 + seed * 100
    while True:
        instance = instantiate(template, index)
        if instance.question not in taken and instance.question != item.question:
            break
        index += 1
    fresh = _item("re", number, 0, instance)
    return ArithItem(
        f"{item.id}-r{seed}", fresh.question, fresh.answer, fresh.template_id,
        fresh.instance, fresh.variables,
    )


def _restore(domain: Any, value: Any) -> Any:
    """A plain variable value back in template form (a worded number's text → Worded)."""
    if isinstance(value, str) and isinstance(domain, list | tuple):
        for candidate in map(as_worded, domain):
            if isinstance(candidate, Worded) and candidate.text == value:
                return candidate
    return value


def _answer_with(
    template: Template, variables: Mapping[str, Any], name: str | None = None, delta: int = 0
) -> tuple[int | None, list[tuple[str, int]]]:
    """The answer with variable `name` moved by `delta` (derived variables recomputed) if it
    is an integer, and the (name, step) of every drawn integer-range variable."""
    env: dict[str, Any] = dict(template.vocabularies)
    scope = Scope(env, make_functions(random.Random(0)))
    steps: list[tuple[str, int]] = []
    try:
        for assignment in template.assignments:
            target = assignment.targets[0]
            computed = assignment.expression.evaluate(scope)
            if not isinstance(computed, list | tuple | range):
                env[target] = computed
                continue
            env[target] = _restore(computed, variables.get(target))
            if isinstance(computed, range) and isinstance(env[target], int):
                steps.append((target, computed.step))
                if target == name:
                    env[target] += delta
        value = normalise(template.answer.evaluate(scope))
    except LmauditError:
        return None, steps
    integral = isinstance(value, int) and not isinstance(value, bool)
    return (value if integral else None), steps


def _step_answers(template: Template, variables: Mapping[str, Any]) -> list[int]:
    """Answers with one drawn integer variable moved one step of its range up or down."""
    _, steps = _answer_with(template, variables)
    answers = []
    for name, step in steps:
        for delta in (step, -step):
            value, _ = _answer_with(template, variables, name, delta)
            if value is not None:
                answers.append(value)
    return answers


def make_choices(item: ArithItem, k: int = 4, seed: int = 0) -> tuple[tuple[str, ...], int]:
    """`k` numeric options (one correct) and the correct option's index; deterministic.

    Distractors come from: the answer with one variable moved one step of its range
    ("off by one step"), small offsets (±1, ±2, ±3, ±5, ±10), double and half the answer.
    Non-positive values are excluded when the answer is positive.
    """
    if k < 2:
        raise LmauditError(f"make_choices needs k >= 2, got {k}")
    answer = int(Fraction(item.answer))
    _, template = _template_of(item)
    pool: list[int] = _step_answers(template, item.variables)
    pool += [answer + d for d in SMALL_OFFSETS] + [answer * 2]
    if answer % 2 == 0:
        pool.append(answer // 2)
    distinct = [v for v in dict.fromkeys(pool) if v != answer and (answer <= 0 or v > 0)]
    digest = hashlib.sha256(f"{item.id}\x00{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    rng.shuffle(distinct)
    options = distinct[: k - 1]
    extra = answer + 11
    while len(options) < k - 1:
        if extra not in options and extra != answer:
            options.append(extra)
        extra += 1
    correct = rng.randrange(k)
    options.insert(correct, answer)
    return tuple(str(v) for v in options), correct
