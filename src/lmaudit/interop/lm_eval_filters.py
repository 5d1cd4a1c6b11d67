"""lm-evaluation-harness filter pipelines and `exact_match`, as a lmaudit scorer.

The filters themselves are in `lmaudit.interop.lm_eval_filter_steps`. A pipeline starts
from the document's one response (as a one-item list) and its answer is the first item
left after its steps, as text (what lm-eval's `exact_match` compares).

`exact_match` (`ignore_case`, `ignore_punctuation`, `ignore_numbers`, `regexes_to_ignore`,
applied to answer and target in lm-eval's order: regexes, case, punctuation, digits).

A task without `filter_list` has lm-eval's single `none` filter (take the response as
is). Per-sample metric names: `exact_match` under `none`, else `exact_match,<filter>`,
as `lmaudit import lm-eval` names them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.interop.lm_eval_filter_steps import Step, build_filter
from lmaudit.scoring.registry import ScoreOutcome


@dataclass(frozen=True)
class FilterPipeline:
    """A named chain of filter steps."""

    name: str
    steps: tuple[Step, ...]

    def __call__(self, response: str, doc: Mapping[str, Any] | None = None) -> str:
        """The pipeline's answer for one response of a document."""
        responses: list[Any] = [response]
        for step in self.steps:
            responses = step(responses, doc or {})
        return "" if not responses else str(responses[0])


def pipelines(filter_list: Sequence[Mapping[str, Any]] | None) -> tuple[FilterPipeline, ...]:
    """The task's filter pipelines (lm-eval's single `none` pipeline when unset)."""
    if not filter_list:
        return (FilterPipeline("none", ()),)
    built = []
    for entry in filter_list:
        if "name" not in entry or not isinstance(entry.get("filter"), list):
            raise LmauditError("filter_list: each entry needs a `name` and a `filter` list")
        built.append(FilterPipeline(str(entry["name"]),
                                    tuple(build_filter(s) for s in entry["filter"])))
    return tuple(built)


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
    and the extracted answer. `doc` is the lm-eval document (`multi_choice_regex` reads
    its `choices`; `custom` filters get it)."""

    filters: tuple[FilterPipeline, ...]
    match: ExactMatch = field(default_factory=ExactMatch)
    name: str = "lm-eval-exact-match"
    version: str = "lm-eval-0.4-v2"

    def __call__(self, response: str, target: str,
                 doc: Mapping[str, Any] | None = None) -> ScoreOutcome:
        metrics: dict[str, float] = {}
        answers = []
        for pipeline in self.filters:
            answer = pipeline(response, doc)
            answers.append(answer)
            metrics[metric_name(pipeline.name)] = float(self.match(answer, target))
        first = metric_name(self.filters[0].name)
        return ScoreOutcome(metrics[first] == 1.0, answers[0], metrics)

    def metric_names(self) -> tuple[str, ...]:
        return tuple(metric_name(p.name) for p in self.filters)
