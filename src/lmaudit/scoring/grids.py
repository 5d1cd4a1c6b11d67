"""ARC-AGI grids: text rendering, parsing from model responses, and an exact-grid scorer.

A grid is a non-empty rectangular list of rows of cell values 0-9 (ARC colours). Its text
form has one row per line, the digits concatenated: [[0, 1, 2], [3, 4, 0]] -> "012\\n340".

Parsing rules (`grid-v1`): a *digit row* is a line whose content, after dropping surrounding
brackets, commas and pipes, is digits optionally separated by spaces, tabs, commas or pipes
("012", "0 1 2", "[0, 1, 2],", "| 0 | 1 | 2 |"); each digit is one cell. JSON-style grids
written on one line ("[[0,1],[2,3]]") are split into rows first. A *block* is a maximal run
of consecutive digit rows; a block whose rows all have the same width is a grid. Any other
line (text, blank, code fence) ends a block. Non-rectangular blocks are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.core.types import LmauditError
from lmaudit.scoring.registry import ScoreOutcome, Scorer, register_scorer

GRID_VERSION = "grid-v1"

Grid = list[list[int]]

_ROW_BOUNDARY_RE = re.compile(r"\]\s*,\s*\[")
_ROW_CONTENT_RE = re.compile(r"[0-9](?:[ \t,|]*[0-9])*")
_ROW_EDGES = "[](),| \t\r"


def grid_to_text(grid: Sequence[Sequence[int]]) -> str:
    """One line per row, digits concatenated. LmauditError for a non-ARC grid."""
    if not grid or not grid[0]:
        raise LmauditError("grid is empty")
    width = len(grid[0])
    for index, row in enumerate(grid):
        if len(row) != width:
            raise LmauditError(f"grid row {index} has {len(row)} cells, expected {width}")
        for cell in row:
            if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell <= 9:
                raise LmauditError(f"grid row {index} holds {cell!r}; cells must be ints 0-9")
    return "\n".join("".join(str(cell) for cell in row) for row in grid)


def _digit_row(line: str) -> list[int] | None:
    content = line.strip(_ROW_EDGES)
    if not _ROW_CONTENT_RE.fullmatch(content):
        return None
    return [int(char) for char in content if char.isdigit()]


def parse_grids(text: str) -> list[Grid]:
    """Every rectangular block of digit rows in `text`, in order of appearance."""
    grids: list[Grid] = []
    block: list[list[int]] = []
    lines = _ROW_BOUNDARY_RE.sub("]\n[", text).splitlines()
    for line in [*lines, ""]:  # the sentinel closes the last block
        row = _digit_row(line)
        if row is not None:
            block.append(row)
            continue
        if block and all(len(r) == len(block[0]) for r in block):
            grids.append(block)
        block = []
    return grids


def parse_grid(text: str) -> Grid | None:
    """The first rectangular block of digit rows in `text`, None if there is none."""
    grids = parse_grids(text)
    return grids[0] if grids else None


@dataclass(frozen=True)
class ArcGridScorer:
    """Correct when the first grid parsed from the response equals the target grid exactly.

    The target is a grid's text form (or any text `parse_grid` reads); an unreadable target
    raises LmauditError. `extracted` is the parsed grid's text form. Metric: `acc` (0/1).
    One response per call: ARC's two attempts are combined by the task.
    """

    @property
    def name(self) -> str:
        return "arc_grid"

    @property
    def version(self) -> str:
        return f"arc_grid-{GRID_VERSION}"

    def metric_names(self) -> tuple[str, ...]:
        return ("acc",)

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        expected = parse_grid(target)
        if expected is None:
            shown = target if len(target) <= 60 else target[:57] + "..."
            raise LmauditError(f"ARC target is not a grid: {shown!r}")
        answer = parse_grid(response)
        correct = answer == expected
        extracted = None if answer is None else grid_to_text(answer)
        return ScoreOutcome(correct, extracted, {"acc": float(correct)})


@register_scorer("arc_grid")
def _arc_grid_scorer() -> Scorer:
    return ArcGridScorer()
