"""lmaudit's own template format (YAML), one template per file.

```yaml
id: rates-01                 # unique; letters, digits, '-', '_'
topic: rates                 # free text (the arith library uses rates, percentages,
                             #   fractions, money, time, counting)
question: "{name} reads {pages} pages a day. How many pages does {name} read in {days} days?"
variables:                   # drawn in this order; later ones may use earlier ones
  name: {vocab: names}       # one element of a vocabulary
  pages: {int: [5, 40]}      # an integer from 5 to 40, BOTH ENDS INCLUDED
  days: {int: [2, 12, 2]}    # 2, 4, ..., 12 (inclusive, step 2)
  fruit: {choices: [apples, pears]}
  part: {words: [half, a third]}  # number phrases: rendered as written, valued 1/2, 1/3
  total: {expr: "pages * days"}   # derived from earlier variables
  price: {int: [150, 900, 25], decimals: 2}   # rendered with 2 decimals (optional)
conditions: ["name != friend", "divides(total, 4)"]   # all must hold (rejection sampling)
answer: "pages * days"       # restricted-evaluator expression
original: {name: Maya, pages: 12, days: 6}   # original values of the drawn variables
variants:
  p1:                        # one step harder: own question and answer; may add
    question: "..."          #   variables, conditions and originals (base ones are kept)
    variables: {skip: {int: [1, 3]}}
    conditions: ["skip < days"]
    answer: "pages * (days - skip)"
    original: {skip: 1}
  noop:                      # an irrelevant clause; the answer is the base answer
    clause: "{friend} keeps a list of {extra} favourite authors."
    insert: before_question  # before_question (default): just before the question's last
                             #   sentence; after_first: after the first sentence
    variables: {extra: {int: [3, 9]}}
    original: {extra: 5}
```

`{var}` slots have no inline originals (they are under `original`); the expressions are
those of `evaluator` with the helpers of `helpers`. A variant is a Template of its own with
id `<id>/p1` or `<id>/noop`. Variables under `expr` are derived, so they need no original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from lmaudit.probes.templates.evaluator import TemplateError, compile_expression
from lmaudit.probes.templates.model import Assignment, Template, freeze, parse_question
from lmaudit.probes.templates.text import parse_number_phrase
from lmaudit.probes.templates.vocabularies import VOCABULARIES

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_NAME = re.compile(r"[A-Za-z_]\w*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
TOP_FIELDS = frozenset(
    {"id", "topic", "question", "variables", "conditions", "answer", "original", "variants"}
)
P1_FIELDS = frozenset({"question", "variables", "conditions", "answer", "original"})
NOOP_FIELDS = frozenset({"clause", "insert", "variables", "conditions", "original"})
INSERT_POSITIONS = ("before_question", "after_first")
DOMAIN_KINDS = ("int", "vocab", "choices", "words", "expr")


def _fail(where: str, message: str) -> TemplateError:
    return TemplateError(f"{where}: {message}")


def _text(record: Mapping[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"field {key!r} must be non-empty text")
    return value.strip()


def _check_fields(record: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(record) - allowed)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(map(repr, unknown))}")


def _domain_source(name: str, spec: Any, where: str) -> tuple[str, int | None]:
    """The expression that draws variable `name`, and its fixed decimals."""
    if not isinstance(spec, Mapping):
        raise _fail(where, f"variable {name!r} needs a mapping such as {{int: [1, 9]}}")
    kinds = [k for k in DOMAIN_KINDS if k in spec]
    extra = set(spec) - {*DOMAIN_KINDS, "decimals"}
    if len(kinds) != 1 or extra:
        raise _fail(where, f"variable {name!r} needs exactly one of {', '.join(DOMAIN_KINDS)}")
    decimals = spec.get("decimals")
    if decimals is not None and (not isinstance(decimals, int) or not 0 <= decimals <= 6):
        raise _fail(where, f"variable {name!r}: decimals must be an integer 0..6")
    kind, value = kinds[0], spec[kinds[0]]
    if kind == "int":
        if (
            not isinstance(value, list)
            or len(value) not in (2, 3)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise _fail(where, f"variable {name!r}: int needs [low, high] or [low, high, step]")
        low, high, step = (*value, 1) if len(value) == 2 else value
        if step <= 0 or high < low:
            raise _fail(where, f"variable {name!r}: int range [{low}, {high}] step {step}")
        return f"range({low}, {high + 1}, {step})", decimals
    if kind == "vocab":
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise _fail(where, f"variable {name!r}: vocab must be a vocabulary name")
        return value, decimals
    if kind == "choices":
        if not isinstance(value, list) or not value or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            raise _fail(where, f"variable {name!r}: choices must be a list of texts or integers")
        return repr(list(value)), decimals
    if kind == "words":
        return _words_source(name, value, where), decimals
    if not isinstance(value, str):
        raise _fail(where, f"variable {name!r}: expr must be an expression text")
    return value, decimals


def _words_source(name: str, phrases: Any, where: str) -> str:
    """`[half, a third]` → `[("half", 1/2), ("a third", 1/3)]`: worded numbers."""
    if not isinstance(phrases, list) or not phrases:
        raise _fail(where, f"variable {name!r}: words must be a list of number phrases")
    pairs = []
    for phrase in phrases:
        value = parse_number_phrase(phrase) if isinstance(phrase, str) else None
        if value is None:
            raise _fail(where, f"variable {name!r}: {phrase!r} is not a number phrase")
        number = Fraction(value)
        pairs.append(f"({phrase!r}, {number.numerator}/{number.denominator})")
    return "[" + ", ".join(pairs) + "]"


def _assignments(
    variables: Any, where: str
) -> tuple[list[Assignment], dict[str, int], set[str]]:
    if variables is None:
        return [], {}, set()
    if not isinstance(variables, Mapping):
        raise _fail(where, "variables must be a mapping of name to domain")
    assignments, decimals, derived = [], {}, set()
    for name, spec in variables.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or "__" in name:
            raise _fail(where, f"bad variable name {name!r}")
        source, places = _domain_source(name, spec, where)
        expression = compile_expression(source, f"{where}: variable {name!r}")
        numeric = "int" in spec or "words" in spec
        assignments.append(Assignment((name,), expression, numeric=numeric))
        if places is not None:
            decimals[name] = places
        if "expr" in spec:
            derived.add(name)
    return assignments, decimals, derived


def _conditions(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise _fail(where, "conditions must be a list of expression texts")
    return [compile_expression(c, where) for c in raw]


def _originals(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in raw.values()
    ):
        raise _fail(where, "original must map variable names to texts or integers")
    return dict(raw)


def insert_clause(question: str, clause: str, position: str) -> str:
    """`question` with `clause` inserted: before its last sentence, or after its first."""
    sentences = _SENTENCE_END.split(question.strip())
    if len(sentences) < 2:
        raise TemplateError(f"cannot insert a clause into one-sentence question {question!r}")
    at = len(sentences) - 1 if position == "before_question" else 1
    return " ".join([*sentences[:at], clause.strip(), *sentences[at:]])


class _Builder:
    def __init__(self, record: Mapping[str, Any], where: str, vocabularies: Any) -> None:
        self.where = where
        self.vocabularies = vocabularies
        self.id = _text(record, "id", where)
        if not _ID.fullmatch(self.id):
            raise _fail(where, f"id {self.id!r} may hold only letters, digits, '-' and '_'")
        topic = record.get("topic")
        self.topic = topic if isinstance(topic, str) else None

    def build(
        self,
        suffix: str,
        question: str,
        parts: list[Mapping[str, Any]],
        answer: str,
    ) -> Template:
        """A Template from the base record plus variant parts (later parts add to earlier)."""
        where = f"{self.where} ({suffix or 'base'})"
        assignments: list[Assignment] = []
        decimals: dict[str, int] = {}
        conditions: list[Any] = []
        originals: dict[str, Any] = {}
        derived: set[str] = set()
        for part in parts:
            more, places, derived_here = _assignments(part.get("variables"), where)
            assignments += more
            decimals |= places
            derived |= derived_here
            conditions += _conditions(part.get("conditions"), where)
            originals |= _originals(part.get("original"), where)
        names = {t for a in assignments for t in a.targets}
        missing = sorted(names - derived - set(originals))
        unknown = sorted(set(originals) - names)
        if missing or unknown:
            problem = f"no original for {missing}" if missing else f"original for unknown {unknown}"
            raise _fail(where, problem)
        parsed = parse_question(question)
        unknown_slots = sorted({p.name for p in parsed if not isinstance(p, str)} - names)
        if unknown_slots:
            raise _fail(where, f"slot {{{unknown_slots[0]}}} is not a variable")
        return Template(
            id=f"{self.id}/{suffix}" if suffix else self.id,
            question=parsed,
            assignments=tuple(assignments),
            conditions=tuple(conditions),
            answer=compile_expression(answer, where),
            originals=freeze(originals),
            decimals=freeze(decimals),
            vocabularies=self.vocabularies,
            family="lmaudit",
            topic=self.topic,
            path=self.where,
        )


def parse_lmaudit_template(
    record: Any,
    where: str = "<template>",
    vocabularies: Mapping[str, tuple[Any, ...]] = VOCABULARIES,
) -> Template:
    """A Template (with its `p1`/`noop` variants) from one parsed YAML document."""
    if not isinstance(record, Mapping):
        raise _fail(where, "a template must be a mapping")
    _check_fields(record, TOP_FIELDS, where)
    builder = _Builder(record, where, vocabularies)
    question, answer = _text(record, "question", where), _text(record, "answer", where)
    base = builder.build("", question, [record], answer)
    variants_raw = record.get("variants") or {}
    if not isinstance(variants_raw, Mapping) or set(variants_raw) - {"p1", "noop"}:
        raise _fail(where, "variants may hold only 'p1' and 'noop'")
    variants: dict[str, Template] = {}
    p1 = variants_raw.get("p1")
    if p1 is not None:
        if not isinstance(p1, Mapping):
            raise _fail(where, "variant p1 must be a mapping")
        _check_fields(p1, P1_FIELDS, f"{where} (p1)")
        variants["p1"] = builder.build(
            "p1", _text(p1, "question", f"{where} (p1)"), [record, p1],
            _text(p1, "answer", f"{where} (p1)"),
        )
    noop = variants_raw.get("noop")
    if noop is not None:
        if not isinstance(noop, Mapping):
            raise _fail(where, "variant noop must be a mapping")
        _check_fields(noop, NOOP_FIELDS, f"{where} (noop)")
        position = noop.get("insert", "before_question")
        if position not in INSERT_POSITIONS:
            raise _fail(where, f"noop insert must be one of {', '.join(INSERT_POSITIONS)}")
        clause = _text(noop, "clause", f"{where} (noop)")
        variants["noop"] = builder.build(
            "noop", insert_clause(question, clause, position), [record, noop], answer
        )
    return _with_variants(base, variants)


def _with_variants(base: Template, variants: Mapping[str, Template]) -> Template:
    return replace(base, variants=freeze(variants))


def _one_line(error: Exception) -> str:
    """An error's text on one line (YAML errors span several)."""
    return " ".join(str(error).split())


def _read_yaml(path: Path) -> Any:
    """The YAML document in `path`, or a one-line TemplateError naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TemplateError(f"{path}: cannot read YAML: {_one_line(error)}") from None
    except RecursionError:
        raise TemplateError(f"{path}: cannot read YAML: nested too deeply") from None


def load_lmaudit_file(path: Path, vocabularies: Mapping[str, tuple[Any, ...]]) -> Template:
    """Read one YAML template file."""
    record = _read_yaml(path)
    return parse_lmaudit_template(record, str(path), vocabularies)


def load_vocabulary_file(path: Path) -> dict[str, tuple[Any, ...]]:
    """A `vocabularies.yaml` file: a mapping of name to a list of texts or integers."""
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise TemplateError(f"{path}: expected a mapping of vocabulary name to list")
    vocabularies: dict[str, tuple[Any, ...]] = {}
    for name, items in data.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise TemplateError(f"{path}: bad vocabulary name {name!r}")
        if not isinstance(items, list) or not items or not all(
            isinstance(i, str | int) and not isinstance(i, bool) for i in items
        ):
            raise TemplateError(f"{path}: vocabulary {name!r} must be a non-empty list")
        if len(set(items)) != len(items):
            raise TemplateError(f"{path}: vocabulary {name!r} has duplicate entries")
        vocabularies[name] = tuple(items)
    return vocabularies
