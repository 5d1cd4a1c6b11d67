"""lm-evaluation-harness 0.4.13 filters, one step each (semantics written from its
documented behaviour; no code taken from it).

A step maps one document's responses (a list: lm-eval keeps every repeat of a request)
and the document to the new list of responses. lmaudit sends one greedy request per
document, so the list starts with one response; the filters still keep lm-eval's list
semantics (`take_first_k`, `majority_vote`) so that a pipeline means what it means there.

- `regex` (`regex_pattern`, default `#### (\\-?[0-9\\.\\,]+)`; `group_select`, default 0;
  `fallback`, default `[invalid]`): per response, `re.findall`, the `group_select`-th match;
  for a pattern with several groups the first non-empty group; stripped; the fallback when
  nothing matches (or every group is empty).
- `take_first`: the first response only; `take_first_k` (`k`): the first k (lm-eval
  refuses fewer than k responses, and so does lmaudit).
- `majority_vote`: the most frequent response (ties: the one seen first).
- `lowercase`, `uppercase`, `remove_whitespace` (strip both ends).
- `map` (`mapping_dict`, `default_value`): each response looked up whole.
- `multi_choice_regex` (the `regex` options and `ignore_case`, `ignore_punctuation`,
  `regexes_to_ignore`; the document's `choices` field): the regex; else a choice's text
  in the normalized response gives its letter `(A)`, `(B)`, ...; else `: X` with X one of
  the choices' letters gives `(X)`; else the fallback.
- `format_span`: named-entity answers (`person: ...`, `loc: ...`) to lm-eval's
  `label: entity $ label: entity` form.
- `custom` (`filter_fn`, a `!function` hook: trusted code only): called as lm-eval calls
  it, `filter_fn([responses], [document])`, and its first item taken.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from lmaudit.core.types import LmauditError

Step = Callable[[list[Any], Mapping[str, Any]], list[Any]]
DEFAULT_REGEX = r"#### (\-?[0-9\.\,]+)"
SUPPORTED = ("regex", "take_first", "take_first_k", "majority_vote", "lowercase", "uppercase",
             "remove_whitespace", "map", "multi_choice_regex", "format_span", "custom")


def _match(compiled: re.Pattern[str], text: Any, group_select: int) -> str | None:
    """The `group_select`-th findall match (for several groups the first non-empty one),
    stripped; None when nothing matches or every group is empty."""
    matches = compiled.findall(text if isinstance(text, str) else "")
    if not matches:
        return None
    match = matches[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), None)
        if match is None:
            return None
    return str(match).strip()


def regex_filter(pattern: str = DEFAULT_REGEX, group_select: int = 0,
                 fallback: str = "[invalid]") -> Callable[[str], str]:
    """lm-eval's `regex` filter for one response."""
    compiled = re.compile(pattern)

    def apply(response: str) -> str:
        found = _match(compiled, response, group_select)
        return fallback if found is None else found

    return apply


@cache
def _punctuation_table() -> dict[int, None]:
    """Every Unicode punctuation code point (category P*), mapped to deletion."""
    return dict.fromkeys(i for i in range(sys.maxunicode)
                         if unicodedata.category(chr(i)).startswith("P"))


def multi_choice_regex(pattern: str = DEFAULT_REGEX, group_select: int = 0,
                       fallback: str = "[invalid]", ignore_case: bool = False,
                       ignore_punctuation: bool = False,
                       regexes_to_ignore: tuple[str, ...] = ()) -> Callable[[str, Any], str]:
    """lm-eval's `multi_choice_regex` for one response and its document's choices."""
    compiled = re.compile(pattern)

    def normalize(text: str) -> str:
        for ignored in regexes_to_ignore:
            text = re.sub(ignored, "", text)
        if ignore_case:
            text = text.lower()
        if ignore_punctuation:
            text = text.translate(_punctuation_table())
        return text

    def apply(response: str, choices: Any) -> str:
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        by_text = {normalize(str(c).strip()): f"({letter})"
                   for c, letter in zip(choices, letters, strict=True)}
        # longest choice first: a choice that prefixes another cannot shadow it
        by_text_regex = re.compile("|".join(sorted((re.escape(t) for t in by_text),
                                                   key=len, reverse=True)))
        letter_regex = re.compile(rf":[\s]*({'|'.join(letters)})")
        answer = _match(compiled, response, group_select) or ""
        if not answer:
            found = _match(by_text_regex, normalize(response), group_select) or ""
            answer = by_text.get(found, found)
        if not answer:
            letter = _match(letter_regex, response, group_select)
            answer = f"({letter})" if letter else ""
        return answer or fallback

    return apply


NER_LABELS = (("person", "PER"), ("location", "LOC"), ("organization", "ORG"),
              ("counties", "LOC"), ("places", "LOC"), ("people", "PER"), ("persons", "PER"),
              ("company", "ORG"), ("country", "LOC"), ("continent", "LOC"), ("time", "DATE"),
              ("date", "DATE"), ("per", "PER"), ("loc", "LOC"), ("org", "ORG"))


def format_span(response: str) -> str:
    """lm-eval's `format_span`: lower-case, rename labels before a colon (in NER_LABELS
    order), `$$` to `$`, trailing `$` dropped; then each `LABEL: a, b` (LABEL one of PER,
    LOC, ORG, DATE; newlines read as `$`) becomes `label: a $ label: b`, `none` left out."""
    text = response.lower()
    for word, label in NER_LABELS:
        text = re.sub(rf"\b{re.escape(word)}\s*:", f"{label}:", text)
    text = text.replace("$$", "$").rstrip("$")
    text = text.replace("\n", "$").strip()
    entities = [f"{label.lower()}: {entity.strip()}"
                for label, values in re.findall(r"\b(PER|LOC|ORG|DATE):\s*([^$]+)", text)
                for entity in values.split(",") if entity.strip().lower() != "none"]
    return " $ ".join(entities)


def _each(function: Callable[[Any], Any]) -> Step:
    return lambda responses, doc: [function(r) for r in responses]


def _take_first_k(k: int) -> Step:
    def apply(responses: list[Any], doc: Mapping[str, Any]) -> list[Any]:
        if len(responses) < k:
            raise LmauditError(f"filter take_first_k: k={k} needs {k} responses per document, "
                               f"got {len(responses)} (lmaudit sends one greedy request)")
        return responses[:k]

    return apply


def _majority_vote(responses: list[Any], doc: Mapping[str, Any]) -> list[Any]:
    return [Counter(responses).most_common(1)[0][0]] if responses else []


def _choices(doc: Mapping[str, Any]) -> Any:
    if "choices" not in doc:
        raise LmauditError("filter multi_choice_regex: the document has no `choices` field")
    return doc["choices"]


def _custom(function: Any) -> Step:
    if not callable(function):
        raise LmauditError("filter custom: filter_fn must be a `!function` hook")

    def apply(responses: list[Any], doc: Mapping[str, Any]) -> list[Any]:
        result = next(iter(function([responses], [doc])))
        return list(result) if isinstance(result, list | tuple) else [result]

    return apply


def build_filter(spec: Mapping[str, Any]) -> Step:
    """One step from its lm-eval spec (`{function: regex, regex_pattern: ...}`)."""
    name = spec.get("function")
    regex_options = (str(spec.get("regex_pattern", DEFAULT_REGEX)),
                     int(spec.get("group_select", 0)), str(spec.get("fallback", "[invalid]")))
    if name == "regex":
        return _each(regex_filter(*regex_options))
    if name == "multi_choice_regex":
        pick = multi_choice_regex(*regex_options, bool(spec.get("ignore_case", False)),
                                  bool(spec.get("ignore_punctuation", False)),
                                  tuple(spec.get("regexes_to_ignore") or ()))
        return lambda responses, doc: [pick(r, _choices(doc)) for r in responses]
    if name == "take_first":
        return lambda responses, doc: responses[:1]
    if name == "take_first_k":
        return _take_first_k(int(spec["k"]))
    if name == "majority_vote":
        return _majority_vote
    if name == "lowercase":
        return _each(lambda response: response.lower())
    if name == "uppercase":
        return _each(lambda response: response.upper())
    if name == "remove_whitespace":
        return _each(lambda response: response.strip())
    if name == "map":
        mapping = dict(spec.get("mapping_dict") or {})
        default = spec.get("default_value")
        return _each(lambda response: mapping.get(response, default))
    if name == "format_span":
        return _each(format_span)
    if name == "custom":
        return _custom(spec.get("filter_fn"))
    raise LmauditError(f"filter {name!r} is not supported yet (supported: "
                       f"{', '.join(SUPPORTED)})")
