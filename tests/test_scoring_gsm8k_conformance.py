"""Conformance of the numeric scorer with the GSM8K authors' own grading.

`example_model_solutions.jsonl` (openai/grade-school-math) holds, for each of the 1,319 test
problems, four model solutions (GPT-3 6B and 175B, each fine-tuned or with verification),
each with the authors' `is_correct` label. We score every solution (5,276) with the numeric
scorer and measure how often our verdict equals the authors' label, per set and overall.

File format, read before writing this test:
- rows are in the same order as `test.jsonl` (the questions match row by row); the answer
  we score against is `test.jsonl`'s "#### x" answer, read by `parse_gsm8k_target`.
- the solutions (and the row's own `ground_truth`) end with "A: x", not "#### x": the paper's
  sampling format. The authors' released grader reads the number right after the final-answer
  marker and compares it, commas removed, with the reference. That is our *strict* mode with
  the marker "A:" instead of "####", so the scorer here is `NumericScorer(strict_marker="A:")`.
  With the default "####" marker strict extraction fails on every solution (pinned below).

Measured (strict-v1 / flexible-v1): agreement 1.0000 in every set, in both modes: 0
disagreements out of 5,276. The expected disagreement sets are pinned as empty: any change
of the extraction rules that makes a disagreement appear fails this test (then bump the
version and document the new disagreement here).

Why flexible agrees too although it reads "the last number anywhere": in every solution that
has an "A:" line, that line is the last line, so the last number is the marker's number.
The 11 solutions without an "A:" line are generations cut off mid-sentence (or, once, the bare
answer "25"); the authors marked all 11 incorrect, and the last number in each of them is
indeed wrong, so flexible disagrees with strict only in extraction success, not in verdicts.
These rows are pinned in STRICT_EXTRACTION_FAILURES.

Where "first marker" and "last marker" differ: in two solutions "A:" also occurs in prose
("Publisher A: 5000 cents", "Job A: $15 * 2000"). The authors' grader takes the first match
of its marker pattern, our strict mode the last marker. Both readings are wrong answers
there and both solutions are labelled incorrect, so this choice does not change agreement;
the rows are pinned in MARKER_IN_PROSE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lmaudit.scoring import NumericScorer, extract_strict, parse_gsm8k_target
from lmaudit.scoring.numeric import find_numbers

GSM8K_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "gsm8k"
SOLUTION_SETS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
MARKER = "A:"

# Authors' label counts (is_correct == True) per set, as read from the file.
AUTHORS_CORRECT = {
    "6b_finetuning": 286,
    "6b_verification": 515,
    "175b_finetuning": 458,
    "175b_verification": 742,
}
# (set, row) where our verdict differs from the authors' label. Measured: none.
EXPECTED_DISAGREEMENTS: dict[str, frozenset[tuple[str, int]]] = {
    "strict": frozenset(),
    "flexible": frozenset(),
}
# Solutions with no "A:" line (truncated generations, and row 852's bare "25").
STRICT_EXTRACTION_FAILURES = {
    "6b_finetuning": [150, 593, 633, 936],
    "6b_verification": [1264],
    "175b_finetuning": [5, 48, 150, 162, 756],
    "175b_verification": [852],
}
# Solutions where the first and the last "A:" give different numbers.
MARKER_IN_PROSE = {("6b_finetuning", 199), ("6b_verification", 331)}


@dataclass(frozen=True)
class Graded:
    solution_set: str
    row: int
    label: bool
    strict_correct: bool
    flexible_correct: bool
    strict_failed: bool
    solution: str
    target: str


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def graded() -> Iterator[list[Graded]]:
    if not (GSM8K_DIR / "example_model_solutions.jsonl").is_file():
        pytest.skip(f"GSM8K data not found at {GSM8K_DIR} (../shared/external is absent)")
    rows = _read_jsonl(GSM8K_DIR / "example_model_solutions.jsonl")
    problems = _read_jsonl(GSM8K_DIR / "test.jsonl")
    assert len(rows) == len(problems) == 1319
    scorer = NumericScorer(strict_marker=MARKER)
    out = []
    for index, (row, problem) in enumerate(zip(rows, problems, strict=True)):
        assert row["question"] == problem["question"], f"row {index} is not aligned"
        target = problem["answer"]
        # the row's own ground truth ("... A: 18") carries the same answer
        assert extract_strict(row["ground_truth"], marker=MARKER) == parse_gsm8k_target(target)
        for solution_set in SOLUTION_SETS:
            entry = row[solution_set]
            outcome = scorer(entry["solution"], target)
            out.append(
                Graded(
                    solution_set=solution_set,
                    row=index,
                    label=bool(entry["is_correct"]),
                    strict_correct=outcome.metrics["acc_strict"] == 1.0,
                    flexible_correct=outcome.metrics["acc_flexible"] == 1.0,
                    strict_failed=outcome.metrics["extract_fail_strict"] == 1.0,
                    solution=entry["solution"],
                    target=parse_gsm8k_target(target),
                )
            )
    yield out


def _disagreements(graded: list[Graded], mode: str) -> set[tuple[str, int]]:
    return {
        (g.solution_set, g.row)
        for g in graded
        if (g.strict_correct if mode == "strict" else g.flexible_correct) != g.label
    }


def test_agreement_with_authors_labels(graded: list[Graded]) -> None:
    assert len(graded) == 4 * 1319
    print("\nGSM8K example_model_solutions: agreement with the authors' is_correct labels")
    for mode in ("strict", "flexible"):
        disagreements = _disagreements(graded, mode)
        for solution_set in (*SOLUTION_SETS, "overall"):
            members = [g for g in graded if solution_set in ("overall", g.solution_set)]
            wrong = sum((g.solution_set, g.row) in disagreements for g in members)
            agreement = 1 - wrong / len(members)
            print(f"  {mode:8s} {solution_set:18s} {agreement:.4f} ({wrong}/{len(members)} differ)")
        for solution_set, row in sorted(disagreements):
            print(f"  {mode} disagreement: {solution_set} row {row}")
        # strict is the authors' own convention; flexible must not be worse here either
        assert 1 - len(disagreements) / len(graded) >= 0.99
        assert disagreements == EXPECTED_DISAGREEMENTS[mode]


def test_accuracy_per_set_equals_authors(graded: list[Graded]) -> None:
    for solution_set, expected in AUTHORS_CORRECT.items():
        members = [g for g in graded if g.solution_set == solution_set]
        assert sum(g.label for g in members) == expected
        assert sum(g.strict_correct for g in members) == expected
        assert sum(g.flexible_correct for g in members) == expected


def test_strict_extraction_failures_are_pinned(graded: list[Graded]) -> None:
    for solution_set, rows in STRICT_EXTRACTION_FAILURES.items():
        failed = [g for g in graded if g.solution_set == solution_set and g.strict_failed]
        assert [g.row for g in failed] == rows
        # all are labelled incorrect, and flexible (which always finds a number in them)
        # judges them incorrect too
        assert not any(g.label or g.flexible_correct for g in failed)


def test_marker_in_prose_rows(graded: list[Graded]) -> None:
    found = set()
    for g in graded:
        if g.solution.count(MARKER) < 2:
            continue
        after_first = g.solution.split(MARKER, 1)[1].split("\n", 1)[0]
        numbers_after_first = find_numbers(after_first)
        first = numbers_after_first[0] if numbers_after_first else None
        last = extract_strict(g.solution, marker=MARKER)
        if first != last:
            found.add((g.solution_set, g.row))
            assert not g.label and not g.strict_correct
    assert found == MARKER_IN_PROSE


def test_default_gsm8k_marker_finds_nothing_in_this_format(graded: list[Graded]) -> None:
    """The solutions use "A:", so the default "####" strict mode extracts nothing at all;
    rewriting the final "A:" line to "#### " restores exactly the same verdicts."""
    default = NumericScorer()
    sample = [g for g in graded if g.row < 100]
    for g in sample:
        assert default(g.solution, "0").metrics["extract_fail_strict"] == 1.0
        head, sep, tail = g.solution.rpartition("\n" + MARKER)
        rewritten = f"{head}\n####{tail}" if sep else g.solution
        outcome = default(rewritten, g.target)
        assert (outcome.metrics["acc_strict"] == 1.0) == g.strict_correct
