"""The 25 IFEval instruction types: ids, argument checking, and one verdict per response.

`build_instruction(instruction_id, kwargs)` validates the arguments once (missing,
unknown or wrongly typed arguments are a `LmauditError` naming the instruction) and
returns an `Instruction`, whose `follows(response)` is the checker's verdict on the text
as given. Arguments whose value is None are dropped first, and so are empty strings and
lists under names the checker does not take: the Hugging Face copy of IFEval
(`google/IFEval`) stores every argument name for every instruction, empty where unused.
The reference instead draws random values for missing arguments; here a missing argument
is an error, so a verdict never depends on chance.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.scoring.ifeval import content, layout

Checker = Callable[..., bool]

CHECKERS: Mapping[str, Checker] = {
    "keywords:existence": content.keyword_existence,
    "keywords:frequency": content.keyword_frequency,
    "keywords:forbidden_words": content.forbidden_words,
    "keywords:letter_frequency": content.letter_frequency,
    "language:response_language": content.response_language,
    "length_constraints:number_sentences": content.number_sentences,
    "length_constraints:number_paragraphs": content.number_paragraphs,
    "length_constraints:number_words": content.number_words,
    "length_constraints:nth_paragraph_first_word": content.nth_paragraph_first_word,
    "detectable_content:number_placeholders": content.number_placeholders,
    "detectable_content:postscript": content.postscript,
    "detectable_format:number_bullet_lists": layout.number_bullet_lists,
    "detectable_format:constrained_response": layout.constrained_response,
    "detectable_format:number_highlighted_sections": layout.number_highlighted_sections,
    "detectable_format:multiple_sections": layout.multiple_sections,
    "detectable_format:json_format": layout.json_format,
    "detectable_format:title": layout.title,
    "combination:two_responses": layout.two_responses,
    "combination:repeat_prompt": layout.repeat_prompt,
    "startend:end_checker": layout.end_checker,
    "change_case:capital_word_frequency": layout.capital_word_frequency,
    "change_case:english_capital": layout.english_capital,
    "change_case:english_lowercase": layout.english_lowercase,
    "punctuation:no_comma": content.no_comma,
    "startend:quotation": layout.quotation,
}
INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(CHECKERS))

# Argument name -> accepted Python types (JSON numbers may arrive as floats; lists of
# words as lists). Every argument of every checker is listed here.
_ARG_TYPES: Mapping[str, tuple[type, ...]] = {
    "keywords": (list, tuple),
    "forbidden_words": (list, tuple),
    "keyword": (str,),
    "letter": (str,),
    "language": (str,),
    "relation": (str,),
    "let_relation": (str,),
    "capital_relation": (str,),
    "first_word": (str,),
    "postscript_marker": (str,),
    "section_spliter": (str,),
    "end_phrase": (str,),
    "prompt_to_repeat": (str,),
    "frequency": (int, float),
    "let_frequency": (int, float),
    "capital_frequency": (int, float),
    "num_sentences": (int, float),
    "num_paragraphs": (int, float),
    "nth_paragraph": (int, float),
    "num_words": (int, float),
    "num_placeholders": (int, float),
    "num_bullets": (int, float),
    "num_highlights": (int, float),
    "num_sections": (int, float),
}


def argument_names(instruction_id: str) -> tuple[str, ...]:
    """The keyword arguments the checker of `instruction_id` needs, in signature order."""
    checker = _checker(instruction_id)
    return tuple(
        name
        for name, param in inspect.signature(checker).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    )


def _checker(instruction_id: str) -> Checker:
    checker = CHECKERS.get(instruction_id)
    if checker is None:
        raise LmauditError(
            f"unknown IFEval instruction {instruction_id!r}; known: {', '.join(INSTRUCTION_IDS)}"
        )
    return checker


@dataclass(frozen=True)
class Instruction:
    """One instruction of one prompt: its id, its validated arguments, its checker."""

    id: str
    kwargs: Mapping[str, Any]
    checker: Checker = field(repr=False, compare=False)

    @property
    def group(self) -> str:
        """The id's family before the colon, e.g. "keywords"."""
        return self.id.split(":", 1)[0]

    def follows(self, response: str) -> bool:
        """The checker's verdict on `response` exactly as given (no stripping, no
        variants: `lmaudit.scoring.ifeval.evaluate` applies the strict and loose rules)."""
        return bool(self.checker(response, **self.kwargs))


def build_instruction(instruction_id: str, kwargs: Mapping[str, Any] | None) -> Instruction:
    """An `Instruction` with its arguments checked; unused empty arguments dropped
    (module docstring)."""
    checker = _checker(instruction_id)
    needed = argument_names(instruction_id)
    given = {
        k: v
        for k, v in dict(kwargs or {}).items()
        if v is not None and (k in needed or v not in ("", [], ()))
    }
    unknown = sorted(set(given) - set(needed))
    if unknown:
        raise LmauditError(
            f"IFEval instruction {instruction_id}: unexpected argument {unknown[0]!r} "
            f"(takes {', '.join(needed) or 'no arguments'})"
        )
    missing = [name for name in needed if name not in given]
    if missing:
        raise LmauditError(f"IFEval instruction {instruction_id}: missing argument {missing[0]!r}")
    for name, value in given.items():
        allowed = _ARG_TYPES[name]
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise LmauditError(
                f"IFEval instruction {instruction_id}: argument {name}={value!r} has the "
                f"wrong type ({type(value).__name__})"
            )
        if name.endswith("relation") and value not in content.RELATIONS:
            raise LmauditError(
                f"IFEval instruction {instruction_id}: {name} must be one of "
                f"{', '.join(content.RELATIONS)}, got {value!r}"
            )
    return Instruction(instruction_id, given, checker)
