"""Answer letters of chain-of-thought multiple choice (GPQA, MMLU-Pro).

Two reference extraction rules (`letters-v1`); the target is the correct option's letter.

- `answer_colon` (openai simple-evals, GPQA): the first match of
  `Answer <spaces> : <spaces> $?LETTER$?`, case-insensitive on "Answer" *and* on the letter
  (a lower-case letter is kept as written and so never equals an upper-case target, as in
  the reference).
- `answer_is` (TIGER-Lab MMLU-Pro): a cascade: the first `answer is (X)` / `answer is X`
  (case-sensitive), else the last `answer: X` / `Answer: X` on the first line that has one,
  else the last standalone capital letter of the allowed range anywhere in the text.
  The reference's first step alone is reported as the strict variant.

A flexible variant for both: the last occurrence of any of `Answer: X`, `answer is (X)`,
`\\boxed{X}` (letter upper-cased), else nothing. Metrics (0/1): `acc` (the reference rule),
`acc_flexible`, `extract_fail` and `extract_fail_flexible`; the `answer_is` scorer adds
`acc_strict` / `extract_fail_strict` (its first step alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmaudit.scoring.registry import ScoreOutcome, Scorer, register_scorer

LETTERS_VERSION = "letters-v1"
STYLES = ("answer_colon", "answer_is")


def _range(letters: str) -> str:
    return f"[{letters[0]}-{letters[-1]}]"


def extract_answer_colon(text: str, letters: str = "ABCD") -> str | None:
    """simple-evals' rule: the first "Answer: X" (see the module docstring)."""
    match = re.search(rf"(?i)Answer[ \t]*:[ \t]*\$?({_range(letters)})\$?", text)
    return match.group(1) if match else None


def extract_answer_is_strict(text: str, letters: str = "ABCDEFGHIJ") -> str | None:
    """MMLU-Pro's first step: the first "answer is (X)"."""
    match = re.search(rf"answer is \(?({_range(letters)})\)?", text)
    return match.group(1) if match else None


def extract_answer_is(text: str, letters: str = "ABCDEFGHIJ") -> str | None:
    """MMLU-Pro's cascade (see the module docstring)."""
    found = extract_answer_is_strict(text, letters)
    if found:
        return found
    match = re.search(rf".*[aA]nswer:\s*({_range(letters)})", text)
    if match:
        return match.group(1)
    match = re.search(rf"\b{_range(letters)}\b(?!.*\b{_range(letters)}\b)", text, re.DOTALL)
    return match.group(0) if match else None


def extract_flexible(text: str, letters: str) -> str | None:
    """The last "Answer: X", "answer is (X)" or "\\boxed{X}", upper-cased."""
    either_case = f"[{letters}{letters.lower()}]"
    pattern = (
        rf"(?i)(?:answer[ \t]*(?:is|:)[ \t]*[*$(\\{{]*|\\boxed\{{(?:\\text\{{)?)"
        rf"\(?({either_case})(?![A-Za-z])"
    )
    matches = list(re.finditer(pattern, text))
    return matches[-1].group(1).upper() if matches else None


@dataclass(frozen=True)
class ChoiceLetterScorer:
    """Scores a chain-of-thought answer against the correct letter (rules above)."""

    style: str = "answer_colon"
    letters: str = "ABCD"

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        if not self.letters.isalpha() or not self.letters.isupper():
            raise ValueError(f"letters must be upper-case letters, got {self.letters!r}")

    @property
    def name(self) -> str:
        return "gpqa_letter" if self.style == "answer_colon" else "mmlu_pro_letter"

    @property
    def version(self) -> str:
        return f"{LETTERS_VERSION}/{self.style}/{self.letters}"

    def metric_names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = ("acc", "acc_flexible", "extract_fail", "extract_fail_flexible")
        if self.style == "answer_is":
            names += ("acc_strict", "extract_fail_strict")
        return names

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        expected = target.strip().strip("()").upper()
        if self.style == "answer_colon":
            answer = extract_answer_colon(response, self.letters)
        else:
            answer = extract_answer_is(response, self.letters)
        flexible = extract_flexible(response, self.letters)
        metrics = {
            "acc": float(answer == expected),
            "acc_flexible": float(flexible == expected),
            "extract_fail": float(answer is None),
            "extract_fail_flexible": float(flexible is None),
        }
        extractions = {"acc": answer, "acc_flexible": flexible}
        if self.style == "answer_is":
            strict = extract_answer_is_strict(response, self.letters)
            metrics["acc_strict"] = float(strict == expected)
            metrics["extract_fail_strict"] = float(strict is None)
            extractions["acc_strict"] = strict
        return ScoreOutcome(answer == expected, answer, metrics, extractions)


@register_scorer("gpqa_letter")
def _gpqa_letter() -> Scorer:
    return ChoiceLetterScorer("answer_colon", "ABCD")


@register_scorer("mmlu_pro_letter")
def _mmlu_pro_letter() -> Scorer:
    return ChoiceLetterScorer("answer_is", "ABCDEFGHIJ")
