"""Competition-math answers (MATH, AIME): extraction and equivalence by `math-verify`.

Extraction (`math-extract-v1`):
- strict: the content of the last `\\boxed{...}` or `\\fbox{...}` (balanced braces; also the
  brace-less `\\boxed 5`); None when the response has none.
- flexible: the strict answer when there is one, else the text after the last final-answer
  marker ("final answer is", "answer is", "Answer:"; case-insensitive) up to the end of its
  line, with "I hope it is correct", surrounding `$` and a trailing period removed
  (Minerva's "Final Answer: The final answer is $X$. I hope it is correct." gives X); None
  when neither exists.

Comparison (`math_equal`): both answers go to `math_verify.parse` as inline LaTeX (`$...$`)
and `math_verify.verify(gold, prediction)` decides (sympy underneath): fractions, radicals,
pi, intervals (open/closed ends matter), sets and unordered solution lists ("1, 2" equals
"2, 1" and "x=1, x=2"), matrices, degrees and `\\text{}` units, thousands separators,
percent, `\\text{(B)}` letters. Equality is exact for integers and rationals; floats agree
to math-verify's 6-digit rounding. When math-verify parses nothing from either side, the
two answers must be equal strings after `normalize_answer`. `math-verify` bounds each
parse/verify at 5 s with SIGALRM, which only works in the main thread: elsewhere there is
no time limit.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from lmaudit.scoring.registry import (
    STRICT_FLEXIBLE_METRICS,
    ScoreOutcome,
    Scorer,
    register_scorer,
    strict_flexible_outcome,
)

EXTRACT_VERSION = "math-extract-v1"

_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_MARKER_RE = re.compile(r"(?:final answer is|answer is|answer\s*:)", re.IGNORECASE)
_HOPE_RE = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")


def _verifier_version() -> str:
    try:
        return metadata.version("math-verify")
    except metadata.PackageNotFoundError:  # pragma: no cover - declared dependency
        return "missing"


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (or `\\boxed X`), else None."""
    matches = list(_BOXED_RE.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    start = match.end()
    if match.group(1) is None:  # "\boxed 5": the next whitespace-free token
        token = re.match(r"\s*([^\s$]+)", text[start:])
        return token.group(1).rstrip(".") if token else None
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                content = text[start:index].strip()
                return content or None
    return None  # unbalanced: the box was never closed


def _strip_answer(text: str) -> str:
    text = _HOPE_RE.sub("", text.strip()).strip()
    text = text.rstrip(".").strip()
    if text.startswith("$") and text.endswith("$") and len(text) > 1:
        text = text.strip("$").strip()
    return text.rstrip(".").strip()


def answer_line(text: str) -> str | None:
    """The answer after the last final-answer marker, to the end of its line (rules above)."""
    matches = list(_MARKER_RE.finditer(text))
    for match in reversed(matches):
        line = text[match.end() :].split("\n", 1)[0]
        answer = _strip_answer(line.lstrip(" :"))
        if answer:
            return answer
    return None


def extract_strict(text: str) -> str | None:
    """The last boxed answer, else None."""
    return last_boxed(text)


def extract_flexible(text: str) -> str | None:
    """The last boxed answer, else the final-answer line, else None."""
    return last_boxed(text) or answer_line(text)


def gold_answer(target: str) -> str:
    """A target as an answer: a full solution's last boxed answer, else the target itself."""
    boxed = last_boxed(target)
    return boxed if boxed is not None else _strip_answer(target)


def normalize_answer(text: str) -> str:
    """Fallback string form: `\\text{}`-style wrappers unwrapped, `\\left`/`\\right`, `$`,
    `\\!`, `\\,` and all whitespace removed, `\\dfrac`/`\\tfrac` written `\\frac`."""
    text = _TEXT_WRAP_RE.sub(r"\1", text)
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("$", ""),
                     ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac")):
        text = text.replace(old, new)
    return re.sub(r"\s+", "", text).rstrip(".")


def _timeout() -> int:
    return 5 if threading.current_thread() is threading.main_thread() else 0


def _parse(answer: str) -> list[Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    return list(parse(f"${answer}$", configs, parsing_timeout=_timeout()))


def math_equal(prediction: str, gold: str) -> bool:
    """True when `prediction` is mathematically equal to `gold` (rules in the docstring)."""
    if not prediction.strip() or not gold.strip():
        return False
    from math_verify import verify

    parsed_gold, parsed_pred = _parse(gold), _parse(prediction)
    if parsed_gold and parsed_pred:
        return bool(verify(parsed_gold, parsed_pred, timeout_seconds=_timeout()))
    return normalize_answer(prediction) == normalize_answer(gold)


@dataclass(frozen=True)
class MathScorer:
    """Boxed (strict) and answer-line (flexible) extraction, `math_equal` comparison.

    The target is a bare answer or a full solution (its last boxed answer). Metrics (0/1):
    `acc_strict`, `acc_flexible`, `extract_fail_strict`, `extract_fail_flexible`. The primary
    verdict is `acc_flexible`; `extracted` is the flexible answer."""

    @property
    def name(self) -> str:
        return "math"

    @property
    def version(self) -> str:
        return f"math-v1/{EXTRACT_VERSION}/math-verify-{_verifier_version()}"

    def metric_names(self) -> tuple[str, ...]:
        return STRICT_FLEXIBLE_METRICS

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        gold = gold_answer(target)
        strict = extract_strict(response)
        flexible = extract_flexible(response)
        strict_ok = strict is not None and math_equal(strict, gold)
        if flexible == strict:
            flexible_ok = strict_ok
        else:
            flexible_ok = flexible is not None and math_equal(flexible, gold)
        return strict_flexible_outcome(strict, flexible, strict_ok, flexible_ok)


@register_scorer("math")
def _math_scorer() -> Scorer:
    return MathScorer()
