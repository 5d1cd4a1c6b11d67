"""lm-evaluation-harness answer filters and `exact_match`, as a lmaudit scorer.

Filters (one response in, one answer out; lm-eval 0.4 semantics):
- `regex` (`regex_pattern`, default `#### (\\-?[0-9\\.\\,]+)`; `group_select`, default 0;
  `fallback`, default `[invalid]`): `findall`, the `group_select`-th match; for a pattern
  with several groups the first non-empty group; stripped; the fallback when nothing
  matches (or every group is empty);
- `take_first` (one response per request here: the identity), `lowercase`, `uppercase`,
  `remove_whitespace` (strip both ends), `map` (`mapping_dict`, `default_value`: the
  response looked up whole; a missing key gives the default, as text).

`exact_match` (`ignore_case`, `ignore_punctuation`, `ignore_numbers`, `regexes_to_ignore`,
applied to answer and target in lm-eval's order: regexes, case, punctuation, digits).

A task without `filter_list` has lm-eval's single `none` filter (take the response as
is). Per-sample metric names: `exact_match` under `none`, else `exact_match,<filter>`,
as `lmaudit import lm-eval` names them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.scoring.registry import ScoreOutcome

Filter = Callable[[str], str]
DEFAULT_REGEX = r"#### (\-?[0-9\.\,]+)"


def regex_filter(pattern: str = DEFAULT_REGEX, group_select: int = 0,
                 fallback: str = "[invalid]") -> Filter:
    """lm-eval's `regex` filter for one response."""
    compiled = re.compile(pattern)

    def apply(response: str) -> str:
        matches = compiled.findall(response)
        if not matches:
            return fallback
        match = matches[group_select]
        if isinstance(match, tuple):
            groups = [m for m in match if m]
            if not groups:
                return fallback
            match = groups[0]
        return str(match).strip()

    return apply


def build_filter(spec: Mapping[str, Any]) -> Filter:
    """One filter from its lm-eval spec (`{function: regex, regex_pattern: ...}`)."""
    name = spec.get("function")
    if name == "regex":
        return regex_filter(str(spec.get("regex_pattern", DEFAULT_REGEX)),
                            int(spec.get("group_select", 0)),
                            str(spec.get("fallback", "[invalid]")))
    if name == "take_first":
        return lambda response: response
    if name == "lowercase":
        return str.lower
    if name == "uppercase":
        return str.upper
    if name == "remove_whitespace":
        return str.strip
    if name == "map":
        mapping = {str(k): v for k, v in (spec.get("mapping_dict") or {}).items()}
        default = spec.get("default_value")
        return lambda response: str(mapping.get(response, default))
    raise LmauditError(f"filter {name!r} is not supported yet (supported: regex, take_first, "
                       "lowercase, uppercase, remove_whitespace, map)")


@dataclass(frozen=True)
class FilterPipeline:
    """A named chain of filters."""

    name: str
    steps: tuple[Filter, ...]

    def __call__(self, response: str) -> str:
        for step in self.steps:
            response = step(response)
        return response


def pipelines(filter_list: Sequence[Mapping[str, Any]] | None) -> tuple[FilterPipeline, ...]:
    """The task's filter pipelines (lm-eval's single `none` pipeline when unset)."""
    if not filter_list:
        return (FilterPipeline("none", ()),)
    return tuple(FilterPipeline(str(f["name"]), tuple(build_filter(s) for s in f["filter"]))
                 for f in filter_list)


@dataclass(frozen=True)
class ExactMatch:
    """lm-eval's `exact_match` with its options."""

    ignore_case: bool = False
    ignore_punctuation: bool = False
    ignore_numbers: bool = False
    regexes_to_ignore: tuple[str, ...] = ()

    def normalize(self, text: str) -> str:
        for pattern in self.regexes_to_ignore:
            text = re.sub(pattern, "", text)
        if self.ignore_case:
            text = text.lower()
        if self.ignore_punctuation:
            text = text.translate(str.maketrans("", "", string.punctuation))
        if self.ignore_numbers:
            text = text.translate(str.maketrans("", "", string.digits))
        return text

    def __call__(self, answer: str, target: str) -> bool:
        return self.normalize(answer) == self.normalize(target)


def exact_match_from(metric_list: Sequence[Mapping[str, Any]] | None) -> ExactMatch:
    """The `exact_match` entry of a metric list (defaults when absent)."""
    for entry in metric_list or []:
        if entry.get("metric") == "exact_match":
            return ExactMatch(bool(entry.get("ignore_case", False)),
                              bool(entry.get("ignore_punctuation", False)),
                              bool(entry.get("ignore_numbers", False)),
                              tuple(entry.get("regexes_to_ignore") or ()))
    return ExactMatch()


def metric_name(pipeline: str) -> str:
    """The per-sample metric of `exact_match` under a filter pipeline."""
    return "exact_match" if pipeline == "none" else f"exact_match,{pipeline}"


@dataclass(frozen=True)
class LmEvalScorer:
    """Every filter pipeline, then `exact_match`; the first pipeline gives the verdict
    and the extracted answer."""

    filters: tuple[FilterPipeline, ...]
    match: ExactMatch = field(default_factory=ExactMatch)
    name: str = "lm-eval-exact-match"
    version: str = "lm-eval-0.4-v1"

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        metrics: dict[str, float] = {}
        answers = []
        for pipeline in self.filters:
            answer = pipeline(response)
            answers.append(answer)
            metrics[metric_name(pipeline.name)] = float(self.match(answer, target))
        first = metric_name(self.filters[0].name)
        return ScoreOutcome(metrics[first] == 1.0, answers[0], metrics)

    def metric_names(self) -> tuple[str, ...]:
        return tuple(metric_name(p.name) for p in self.filters)
