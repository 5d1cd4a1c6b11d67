"""The one in-memory template shape that both file formats (GSM-Symbolic JSON, our YAML) parse into.

A template is a question with `{var}` slots, an ordered list of assignments (`#init`:
`$x = range(2, 10)`, `a, b = sample(names, 2)`), conditions, an answer expression and the
original values of its variables. The `$` mark of GSM-Symbolic says a variable is numeric;
it changes how its original text is read (`"twice"` → `Worded("twice", 2)`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from lmaudit.probes.templates.evaluator import Expression, Worded
from lmaudit.probes.templates.text import decimals_of, parse_number_phrase, render_value

_SLOT = re.compile(r"\{\s*([A-Za-z_]\w*)\s*(?:,([^{}]*))?\}")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Slot:
    """A `{name}` or `{name, original}` placeholder in a question.

    A slot whose original starts with a capital letter renders its value with a capital
    first letter (a sentence start such as "{c3,Yellow} cards ...").
    """

    name: str
    original: str | None = None

    @property
    def capitalized(self) -> bool:
        return self.original is not None and self.original[:1].isupper()


@dataclass(frozen=True)
class Assignment:
    """One `#init` line: `targets = expression` (`numeric`: the line carried a `$` mark)."""

    targets: tuple[str, ...]
    expression: Expression
    numeric: bool = False


@dataclass(frozen=True)
class Template:
    """A parsed template. `variants` maps a variant name ("p1", "noop") to its own Template.

    `originals`: original values by variable (numbers exact; number words as `Worded`).
    `decimals`: fixed decimal places per variable when rendering (money-like originals).
    `source_question`/`source_answer`: the item the template was made from, when known;
    `reproduces_source` says whether the template with its originals should give exactly
    that question and answer (true for GSM-Symbolic `symbolic`, false for `p1`/`p2`, whose
    files hold the unmodified GSM8K item beside a harder template). `notes`: annotation
    slips found while parsing (they do not stop the template from being used).
    """

    id: str
    question: tuple[str | Slot, ...]
    assignments: tuple[Assignment, ...]
    conditions: tuple[Expression, ...]
    answer: Expression
    originals: Mapping[str, Any] = field(default_factory=dict)
    decimals: Mapping[str, int] = field(default_factory=dict)
    vocabularies: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    family: str = "lmaudit"
    topic: str | None = None
    path: str | None = None
    source_question: str | None = None
    source_answer: str | None = None
    reproduces_source: bool = False
    notes: tuple[str, ...] = ()
    variants: Mapping[str, Template] = field(default_factory=dict)

    @property
    def variables(self) -> tuple[str, ...]:
        """Assigned variable names in definition order (later redefinitions keep first place)."""
        seen: dict[str, None] = {}
        for assignment in self.assignments:
            for name in assignment.targets:
                seen.setdefault(name, None)
        return tuple(seen)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.question if isinstance(p, Slot)))


@dataclass(frozen=True)
class Instance:
    """One instantiation. `instance` 0 is the original; `conditions_hold` is always true for
    sampled instances and says, for the original, whether its values meet the conditions."""

    template_id: str
    instance: int
    variables: Mapping[str, Any]
    question: str
    answer: str
    conditions_hold: bool = True

    def plain_variables(self) -> dict[str, Any]:
        """JSON-safe variables: Worded → text, non-integer Fraction → its rendered text."""
        return {name: plain_value(value) for name, value in self.variables.items()}


def plain_value(value: Any) -> Any:
    """A JSON-safe form of a template value."""
    if isinstance(value, Worded):
        return value.text
    if isinstance(value, Fraction):
        return render_value(value)
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


def parse_question(text: str) -> tuple[str | Slot, ...]:
    """Split question text into literal strings and slots; originals are stripped."""
    parts: list[str | Slot] = []
    position = 0
    for match in _SLOT.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        original = match.group(2)
        parts.append(Slot(match.group(1), None if original is None else original.strip()))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def read_original(text: str, numeric: bool) -> Any:
    """An original's value: a plain number → int/Fraction; for a `$` variable, number words
    → Worded(text, value); anything else stays text."""
    if _PLAIN_NUMBER.fullmatch(text):
        value = parse_number_phrase(text)
        return text if value is None else value  # None: too long to be read as a number
    if numeric:
        value = parse_number_phrase(text)
        if value is not None:
            return Worded(text, value)
    return text


def collect_originals(
    question: tuple[str | Slot, ...], numeric: frozenset[str]
) -> tuple[dict[str, Any], dict[str, int], tuple[str, ...]]:
    """Original values, fixed decimals and annotation notes from the slots of a question.

    A variable's first slot gives its original; a later slot with a different original is
    kept as a note (an annotation slip such as "Garrett"/"Garret"), except that a capital
    first letter alone ("oats"/"Oats") is a sentence start, not a conflict: the lower-case
    form is the value, and capitalised slots render it capitalised.
    """
    originals: dict[str, Any] = {}
    texts: dict[str, str] = {}
    decimals: dict[str, int] = {}
    notes: list[str] = []
    for part in question:
        if not isinstance(part, Slot) or part.original is None:
            continue
        if part.name in texts:
            first = texts[part.name]
            if part.original != first and capitalize_first(part.original) == first:
                texts[part.name] = part.original  # "Bagel" began a sentence; "bagel" is the word
                originals[part.name] = read_original(part.original, part.name in numeric)
            elif part.original != first and part.original != capitalize_first(first):
                notes.append(
                    f"slot {part.name!r} has two originals ({first!r} and {part.original!r})"
                )
            continue
        texts[part.name] = part.original
        originals[part.name] = read_original(part.original, part.name in numeric)
        places = decimals_of(part.original)
        if places is not None:
            decimals[part.name] = places
    return originals, decimals, tuple(notes)


def capitalize_first(text: str) -> str:
    """`text` with its first character upper-cased ("oats" → "Oats")."""
    return text[:1].upper() + text[1:]


def freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))
