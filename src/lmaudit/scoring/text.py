"""String scorers: exact match and containment, after whitespace normalization.

Normalization (`text-v1`): strip both ends and collapse every run of whitespace (spaces,
tabs, newlines) to one space. Comparison is case-sensitive; the `_ci` variants compare
`str.casefold()` forms instead. Each scorer has one metric, `acc` (0/1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmaudit.core.types import LmauditError
from lmaudit.scoring.registry import ScoreOutcome, Scorer, register_scorer

TEXT_VERSION = "text-v1"

_WHITESPACE_RE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    """`text` stripped, with each whitespace run collapsed to a single space."""
    return _WHITESPACE_RE.sub(" ", text).strip()


@dataclass(frozen=True)
class ExactMatchScorer:
    """Correct when the normalized response equals the normalized target.

    `extracted` is the normalized response (None when it is empty).
    """

    case_sensitive: bool = True

    @property
    def name(self) -> str:
        return "exact" if self.case_sensitive else "exact_ci"

    @property
    def version(self) -> str:
        return f"exact-{TEXT_VERSION}" + ("" if self.case_sensitive else "-casefold")

    def metric_names(self) -> tuple[str, ...]:
        return ("acc",)

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        answer, expected = normalize_whitespace(response), normalize_whitespace(target)
        if not self.case_sensitive:
            correct = answer.casefold() == expected.casefold()
        else:
            correct = answer == expected
        return ScoreOutcome(correct, answer or None, {"acc": float(correct)})


@dataclass(frozen=True)
class ContainsScorer:
    """Correct when the normalized target occurs in the normalized response.

    An empty target is a data error (it would be found in every response): LmauditError.
    `extracted` is the normalized target when found, else None.
    """

    case_sensitive: bool = True

    @property
    def name(self) -> str:
        return "contains" if self.case_sensitive else "contains_ci"

    @property
    def version(self) -> str:
        return f"contains-{TEXT_VERSION}" + ("" if self.case_sensitive else "-casefold")

    def metric_names(self) -> tuple[str, ...]:
        return ("acc",)

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        answer, expected = normalize_whitespace(response), normalize_whitespace(target)
        if not expected:
            raise LmauditError("contains scorer: the target is empty")
        if not self.case_sensitive:
            correct = expected.casefold() in answer.casefold()
        else:
            correct = expected in answer
        return ScoreOutcome(correct, expected if correct else None, {"acc": float(correct)})


@register_scorer("exact")
def _exact_scorer() -> Scorer:
    return ExactMatchScorer()


@register_scorer("exact_ci")
def _exact_ci_scorer() -> Scorer:
    return ExactMatchScorer(case_sensitive=False)


@register_scorer("contains")
def _contains_scorer() -> Scorer:
    return ContainsScorer()


@register_scorer("contains_ci")
def _contains_ci_scorer() -> Scorer:
    return ContainsScorer(case_sensitive=False)
