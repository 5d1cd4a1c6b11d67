"""Reading GSM-Symbolic's published templates (Mirzadeh et al., 2024; apple/ml-gsm-symbolic).

A file is a JSON object; `question_annotated` holds the question with `{var, original}`
slots, then `#init:` (lines `- $x = range(2, 10)`, `- a, b = sample(names, 2)`; `$` marks a
numeric variable), `#conditions:` (one expression per `- ` line; optional) and
`#answer: <expression>`. Choices the format leaves open, and what we do:

- `#answer = expr` is read like `#answer: expr`; an answer wrapped in braces `{expr}` (the
  style of `answer_annotated`) is read as `expr`; `$name` inside expressions is `name`.
- Originals are stripped of surrounding spaces. A plain number is a number; for a `$`
  variable, number words or fractions become `Worded` values ("twice" is 2, "1/2" is 1/2).
- Variables with no slot (no original), such as a hidden `$ans`, get the first values of
  their domains that meet the conditions (see `sampler.original_instance`).
- Helpers and their semantics (`range` half-open, `numbers_within` inclusive, ...):
  `lmaudit.probes.templates.helpers`. Arithmetic is exact (see `evaluator`).
- `question` and `answer` hold the GSM8K item the template was made from. In the `p1` and
  `p2` folders that item is the unmodified one, not the harder templated question, so only
  `symbolic` templates are expected to reproduce it (`Template.reproduces_source`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from lmaudit.probes.templates.evaluator import TemplateError, compile_expression, unwrap
from lmaudit.probes.templates.model import (
    Assignment,
    Template,
    collect_originals,
    freeze,
    parse_question,
)
from lmaudit.probes.templates.originals import original_instance
from lmaudit.probes.templates.text import parse_number_phrase
from lmaudit.probes.templates.vocabularies import VOCABULARIES

_SECTION = re.compile(r"^#(init|conditions|answer)\b\s*[:=]?", re.MULTILINE)
_TARGET = re.compile(r"\$?\s*([A-Za-z_]\w*)")
_STRING_OR_DOLLAR = re.compile(r"""("[^"]*"|'[^']*')|\$(?=[A-Za-z_])""")
REQUIRED_FIELDS = ("question_annotated",)


def strip_dollar_marks(source: str) -> str:
    """`$x + 1` → `x + 1`, leaving `$` inside string literals alone."""
    return _STRING_OR_DOLLAR.sub(lambda m: m.group(1) or "", source)


def _lines(section: str, where: str) -> list[str]:
    lines = []
    for raw in section.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("-"):
            raise TemplateError(f"{where}: expected a '- ' line, got {line!r}")
        lines.append(line[1:].strip())
    return lines


def _assignment(line: str, where: str) -> Assignment:
    target_text, equals, source = line.partition("=")
    if not equals or source.startswith("="):
        raise TemplateError(f"{where}: #init line {line!r} is not `name = expression`")
    targets = []
    for piece in target_text.split(","):
        match = _TARGET.fullmatch(piece.strip())
        if match is None:
            raise TemplateError(f"{where}: bad #init target {piece.strip()!r} in {line!r}")
        targets.append(match.group(1))
    expression = compile_expression(strip_dollar_marks(source), where)
    return Assignment(tuple(targets), expression, "$" in target_text)


def _sections(annotated: str, where: str) -> tuple[str, dict[str, str]]:
    matches = list(_SECTION.finditer(annotated))
    if not matches:
        raise TemplateError(f"{where}: question_annotated has no #init section")
    sections: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(annotated)
        name = match.group(1)
        if name in sections:
            raise TemplateError(f"{where}: section #{name} appears twice")
        sections[name] = annotated[match.end() : end]
    for required in ("init", "answer"):
        if required not in sections:
            raise TemplateError(
                f"{where}: question_annotated has no #{required} section (GSM-Symbolic "
                "templates need '#init:' with '- name = expression' lines and '#answer: ...')"
            )
    return annotated[: matches[0].start()].rstrip(), sections


def _answer_source(text: str) -> str:
    source = text.strip().lstrip("=").strip()
    if source.startswith("{") and source.endswith("}"):
        source = source[1:-1]
    return strip_dollar_marks(source)


def final_answer(solution: str) -> str | None:
    """The text after the last `####` of a GSM8K solution, without thousands separators."""
    if "####" not in solution:
        return None
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def parse_gsm_symbolic(
    record: Mapping[str, Any],
    template_id: str,
    family: str = "symbolic",
    vocabularies: Mapping[str, tuple[Any, ...]] = VOCABULARIES,
    path: str | None = None,
) -> Template:
    """A Template from one GSM-Symbolic record (`family`: "symbolic", "p1" or "p2")."""
    where = path or template_id
    for name in REQUIRED_FIELDS:
        if not isinstance(record.get(name), str):
            raise TemplateError(f"{where}: field {name!r} is missing or not text")
    question_text, sections = _sections(record["question_annotated"], where)
    assignments = tuple(_assignment(line, where) for line in _lines(sections["init"], where))
    conditions = tuple(
        compile_expression(strip_dollar_marks(line), where)
        for line in _lines(sections.get("conditions", ""), where)
    )
    question = parse_question(question_text)
    numeric = frozenset(t for a in assignments if a.numeric for t in a.targets)
    originals, decimals, notes = collect_originals(question, numeric)
    answer = record.get("answer")
    return Template(
        id=template_id,
        question=question,
        assignments=assignments,
        conditions=conditions,
        answer=compile_expression(_answer_source(sections["answer"]), where),
        originals=freeze(originals),
        decimals=freeze(decimals),
        vocabularies=vocabularies,
        family=f"gsm-symbolic/{family}",
        path=path,
        source_question=record.get("question"),
        source_answer=final_answer(answer) if isinstance(answer, str) else None,
        reproduces_source=family == "symbolic",
        notes=notes,
    )


def load_gsm_symbolic_file(path: Path, vocabularies: Mapping[str, tuple[Any, ...]]) -> Template:
    """Read one GSM-Symbolic JSON file; the id is `gsm-symbolic/<folder>/<stem>`."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TemplateError(f"{path}: cannot read JSON: {error}") from None
    except RecursionError:
        raise TemplateError(f"{path}: cannot read JSON: nested too deeply") from None
    if not isinstance(record, dict):
        raise TemplateError(f"{path}: expected a JSON object")
    family = path.parent.name
    return parse_gsm_symbolic(
        record, f"gsm-symbolic/{family}/{path.stem}", family, vocabularies, str(path)
    )


@dataclass(frozen=True)
class Conformance:
    """How a template's original values compare with the item it was made from.

    `question_matches`/`answer_matches` are None where not applicable (p1/p2 templates, or no
    source). `problems` lists every mismatch or error in words.
    """

    template_id: str
    question_matches: bool | None
    answer_matches: bool | None
    conditions_hold: bool | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _first_difference(expected: str, got: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    start, end = max(0, index - 20), index + 25
    return f"at char {index}: expected {expected[start:end]!r}, got {got[start:end]!r}"


def _same_number(expected: str, got: str) -> bool:
    want = parse_number_phrase(expected)
    have = parse_number_phrase(got)
    return want is not None and have is not None and Fraction(unwrap(want)) == Fraction(have)


def check_conformance(template: Template) -> Conformance:
    """Instantiate the originals and compare with the source question and answer."""
    try:
        original = original_instance(template)
    except TemplateError as error:
        return Conformance(template.id, None, None, None, (f"originals: {error}",))
    problems = []
    if not original.conditions_hold:
        problems.append("original values do not meet the conditions")
    question_ok = answer_ok = None
    if template.reproduces_source and template.source_question is not None:
        question_ok = original.question == template.source_question
        if not question_ok:
            problems.append(
                "question differs " + _first_difference(template.source_question, original.question)
            )
    if template.reproduces_source and template.source_answer is not None:
        answer_ok = _same_number(template.source_answer, original.answer)
        if not answer_ok:
            problems.append(f"answer {original.answer} != {template.source_answer}")
    return Conformance(
        template.id, question_ok, answer_ok, original.conditions_hold, tuple(problems)
    )
