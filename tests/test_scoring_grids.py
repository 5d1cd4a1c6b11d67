"""ARC grids: text form, parsing from model responses, and the exact-grid scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.scoring import get_scorer, grid_to_text, parse_grid, parse_grids

ARC_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "arc_agi"

GRID = [[0, 1, 2], [3, 4, 0]]


def test_grid_to_text() -> None:
    assert grid_to_text(GRID) == "012\n340"
    assert grid_to_text([[7]]) == "7"


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ([], "empty"),
        ([[]], "empty"),
        ([[1, 2], [3]], "row 1 has 1 cells, expected 2"),
        ([[1, 10]], "cells must be ints 0-9"),
        ([[1, -1]], "cells must be ints 0-9"),
        ([[True, 0]], "cells must be ints 0-9"),
        ([["1", 0]], "cells must be ints 0-9"),
    ],
)
def test_grid_to_text_rejects_non_arc_grids(grid: list[list[int]], message: str) -> None:
    with pytest.raises(LmauditError, match=message):
        grid_to_text(grid)


@pytest.mark.parametrize(
    "text",
    [
        "012\n340",
        "Here is the output grid:\n\n012\n340\n\nI hope this helps.",
        "```\n012\n340\n```",
        "0 1 2\n3 4 0",
        "  0  1  2  \n\t3 4 0",
        "[[0, 1, 2], [3, 4, 0]]",
        "Answer: \n[[0,1,2],\n [3,4,0]]",
        "[0, 1, 2],\n[3, 4, 0]",
        "| 0 | 1 | 2 |\n| 3 | 4 | 0 |",
        "0,1,2\r\n3,4,0\r\n",
    ],
)
def test_parse_grid_tolerates_formats(text: str) -> None:
    assert parse_grid(text) == GRID


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the first rectangular block wins
        ("012\n340\n\n55\n55", GRID),
        # a non-rectangular block is skipped; the next rectangular one is taken
        ("12\n345\n\n01\n23", [[0, 1], [2, 3]]),
        # prose lines with digits are not digit rows
        ("Step 1: copy the grid.\n2.\n89\n98", [[8, 9], [9, 8]]),
        # a 1x1 grid
        ("The answer is\n7\n", [[7]]),
        ("no grid here", None),
        ("", None),
        ("12\n345", None),
        ("row 1: 012\nrow 2: 340", None),
    ],
)
def test_parse_grid_block_rules(text: str, expected: list[list[int]] | None) -> None:
    assert parse_grid(text) == expected


def test_parse_grids_returns_every_block_in_order() -> None:
    text = "Input:\n00\n00\nOutput:\n11\n11\n"
    assert parse_grids(text) == [[[0, 0], [0, 0]], [[1, 1], [1, 1]]]


def test_arc_grid_scorer() -> None:
    scorer = get_scorer("arc_grid")
    assert scorer.metric_names() == ("acc",)
    right = scorer("The output is:\n0 1 2\n3 4 0\n", "012\n340")
    assert right.correct and right.extracted == "012\n340" and right.metrics["acc"] == 1.0
    wrong_cell = scorer("012\n341", "012\n340")
    assert not wrong_cell.correct and wrong_cell.extracted == "012\n341"
    wrong_shape = scorer("0120\n3400", "012\n340")
    assert not wrong_shape.correct
    transposed = scorer("03\n14\n20", "012\n340")
    assert not transposed.correct
    missing = scorer("I am not sure.", "012\n340")
    assert not missing.correct and missing.extracted is None and missing.metrics["acc"] == 0.0
    with pytest.raises(LmauditError, match="ARC target is not a grid"):
        scorer("012", "not a grid")


def test_real_arc_grids_round_trip() -> None:
    """Every grid of ARC-AGI-1 (training + evaluation) survives text and JSON round trips."""
    if not ARC_DIR.is_dir():
        pytest.skip(f"ARC-AGI data not found at {ARC_DIR} (../shared/external is absent)")
    files = sorted(ARC_DIR.glob("*/*.json"))
    assert len(files) == 800
    count = 0
    for path in files:
        task = json.loads(path.read_text())
        for pair in task["train"] + task["test"]:
            for key in ("input", "output"):
                grid = pair[key]
                assert parse_grid(grid_to_text(grid)) == grid, path.name
                assert parse_grid(f"Output:\n{json.dumps(grid)}\nDone.") == grid, path.name
                count += 1
    assert count > 6000
