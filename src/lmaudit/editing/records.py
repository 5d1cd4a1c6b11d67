"""Edit files: CounterFact and zsRE records as `EditCase`s.

CounterFact (ROME/MEMIT, EasyEdit): `requested_rewrite` {`prompt` with `{}` for the
subject, `subject`, `target_new` {`str`}, `target_true` {`str`}}, `paraphrase_prompts`,
`neighborhood_prompts` (strings, whose answer is the old `target_true`, or MEMIT's
{`prompt`, `target`} objects), optional `generation_prompts`.
zsRE (MEND/EasyEdit field names): `src` (the edit question), `alt` (the new answer),
`answers` (the old answers; the first is `target_true`), `rephrase` (string or list),
`loc` + `loc_ans` (an unrelated question and its answer), optional `subject`.
EasyEdit/KnowEdit: `prompt` (subject filled in), `target_new`, `ground_truth` (the old
answer), `rephrase_prompt` (or `rephrase`), `locality_prompt` + `locality_ground_truth` or
`locality` (lists of {`prompt`, `ground_truth`} by kind), optional `subject`.
All may carry `portability`: a list of {`prompt`, `ground_truth` | `answer` | `target`},
a mapping of such lists by kind (KnowEdit), or {`New Question`, `New Answer`}. Where an
answer is a list (of aliases, or KnowEdit's list of alias lists), the first is used.
Files are a JSON list or JSON lines; every error names the file, the row (1-based) and the
field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.data.textio import json_rows

_ANSWER_KEYS = ("ground_truth", "answer", "target")


@dataclass(frozen=True)
class Probe:
    """A prompt with its expected answer; `answer` None: the edit's old `target_true`
    (CounterFact neighbourhood prompts)."""

    prompt: str
    answer: str | None = None


@dataclass(frozen=True)
class EditCase:
    """One edit: the rewrite prompt (subject filled in), new and old targets, and the
    prompts that test it."""

    case_id: str
    shape: str  # counterfact | zsre
    prompt: str
    subject: str
    target_new: str
    target_true: str | None
    paraphrases: tuple[str, ...] = ()
    neighbourhood: tuple[Probe, ...] = ()
    portability: tuple[Probe, ...] = ()
    generation_prompts: tuple[str, ...] = ()


class _Row:
    """Typed field access that raises LmauditError naming file, row and field."""

    def __init__(self, where: str, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise LmauditError(f"{where}: expected an object, got {type(raw).__name__}")
        self.where, self.raw = where, raw

    def fail(self, field: str, message: str) -> LmauditError:
        return LmauditError(f"{self.where}: {field}: {message}")

    def text(self, value: Any, field: str) -> str:
        while isinstance(value, list) and value:  # KnowEdit: [["answer", "alias"], ...]
            value = value[0]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "missing or not a non-empty string")
        return value

    def texts(self, value: Any, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(field, "expected a list of strings")
        return tuple(self.text(v, f"{field}[{i}]") for i, v in enumerate(value))

    def target(self, value: Any, field: str) -> str:
        if isinstance(value, Mapping):
            return self.text(value.get("str"), f"{field}.str")
        return self.text(value, field)

    def probe(self, value: Any, field: str) -> Probe:
        if isinstance(value, str):
            return Probe(self.text(value, field))
        if not isinstance(value, Mapping):
            raise self.fail(field, "expected a prompt string or {prompt, target}")
        key = next((k for k in _ANSWER_KEYS if k in value), None)
        if key is None:
            raise self.fail(field, f"missing the answer ({' or '.join(_ANSWER_KEYS)})")
        return Probe(self.text(value.get("prompt"), f"{field}.prompt"),
                     self.text(value[key], f"{field}.{key}"))

    def probes(self, value: Any, field: str, answered: bool = False) -> tuple[Probe, ...]:
        if value is None:
            return ()
        if isinstance(value, Mapping) and "New Question" in value:
            return (Probe(self.text(value["New Question"], f"{field}.New Question"),
                          self.text(value.get("New Answer"), f"{field}.New Answer")),)
        if isinstance(value, Mapping) and "prompt" not in value:
            return tuple(p for kind, items in value.items()
                         for p in self.probes(items, f"{field}.{kind}", answered))
        if isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(field, "expected a list")
        probes = tuple(self.probe(v, f"{field}[{i}]") for i, v in enumerate(value))
        if answered and any(p.answer is None for p in probes):
            raise self.fail(field, "every prompt needs its answer")
        return probes


def _counterfact(row: _Row, index: int) -> EditCase:
    rewrite = row.raw.get("requested_rewrite")
    if isinstance(rewrite, list) and len(rewrite) == 1:
        rewrite = rewrite[0]
    if not isinstance(rewrite, Mapping):
        raise row.fail("requested_rewrite", "missing or not an object")
    template = row.text(rewrite.get("prompt"), "requested_rewrite.prompt")
    subject = row.text(rewrite.get("subject"), "requested_rewrite.subject")
    if "{}" not in template:
        raise row.fail("requested_rewrite.prompt", "must contain {} (the subject)")
    true = rewrite.get("target_true")
    return EditCase(
        case_id=str(row.raw.get("case_id", index)), shape="counterfact",
        prompt=template.replace("{}", subject), subject=subject,
        target_new=row.target(rewrite.get("target_new"), "requested_rewrite.target_new"),
        target_true=None if true is None else row.target(true,
                                                         "requested_rewrite.target_true"),
        paraphrases=row.texts(row.raw.get("paraphrase_prompts"), "paraphrase_prompts"),
        neighbourhood=row.probes(row.raw.get("neighborhood_prompts"), "neighborhood_prompts"),
        portability=row.probes(row.raw.get("portability"), "portability", answered=True),
        generation_prompts=row.texts(row.raw.get("generation_prompts"), "generation_prompts"),
    )


def _zsre(row: _Row, index: int) -> EditCase:
    raw = row.raw
    answers = raw.get("answers")
    true = None
    if answers not in (None, []):
        true = row.text(answers[0] if isinstance(answers, list) else answers, "answers[0]")
    loc: tuple[Probe, ...] = ()
    if raw.get("loc") is not None or raw.get("loc_ans") is not None:
        loc = (Probe(row.text(raw.get("loc"), "loc"), row.text(raw.get("loc_ans"), "loc_ans")),)
    return EditCase(
        case_id=str(raw.get("case_id", index)), shape="zsre",
        prompt=row.text(raw.get("src"), "src"), subject=str(raw.get("subject") or ""),
        target_new=row.text(raw.get("alt"), "alt"), target_true=true,
        paraphrases=row.texts(raw.get("rephrase"), "rephrase"), neighbourhood=loc,
        portability=row.probes(raw.get("portability"), "portability", answered=True),
    )


def _easyedit(row: _Row, index: int) -> EditCase:
    raw = row.raw
    true = raw.get("ground_truth")
    locality = row.probes(raw.get("locality"), "locality", answered=True)
    if raw.get("locality_prompt") is not None:
        locality += (Probe(row.text(raw["locality_prompt"], "locality_prompt"),
                           row.text(raw.get("locality_ground_truth"),
                                    "locality_ground_truth")),)
    return EditCase(
        case_id=str(raw.get("case_id", index)), shape="easyedit",
        prompt=row.text(raw.get("prompt"), "prompt"), subject=str(raw.get("subject") or ""),
        target_new=row.text(raw.get("target_new"), "target_new"),
        target_true=None if true in (None, "", []) else row.text(true, "ground_truth"),
        paraphrases=row.texts(raw.get("rephrase_prompt", raw.get("rephrase")),
                              "rephrase_prompt"),
        neighbourhood=locality,
        portability=row.probes(raw.get("portability"), "portability", answered=True),
    )


def parse_edit(raw: Any, where: str, index: int) -> EditCase:
    """One record of any shape: CounterFact when it has `requested_rewrite`, zsRE when it
    has `src`, EasyEdit/KnowEdit when it has `prompt` and `target_new`."""
    row = _Row(where, raw)
    if "requested_rewrite" in row.raw:
        return _counterfact(row, index)
    if "src" in row.raw:
        return _zsre(row, index)
    if "prompt" in row.raw and "target_new" in row.raw:
        return _easyedit(row, index)
    raise LmauditError(f"{where}: neither a CounterFact record (requested_rewrite), a zsRE "
                       "record (src, alt) nor an EasyEdit record (prompt, target_new)")


def read_edits(path: Path) -> list[EditCase]:
    """Every edit of a JSON list or JSON-lines file (module docstring)."""
    path = Path(path)
    rows = [(f"{path}: {where}", raw) for where, raw in json_rows(path)]
    edits = [parse_edit(raw, where, i) for i, (where, raw) in enumerate(rows)]
    if not edits:
        raise LmauditError(f"{path}: no edits")
    seen: set[str] = set()
    for edit in edits:
        if edit.case_id in seen:
            raise LmauditError(f"{path}: case_id {edit.case_id!r} appears more than once")
        seen.add(edit.case_id)
    return edits
