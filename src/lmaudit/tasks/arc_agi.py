"""ARC-AGI: one sample per test input of each task file, two attempts, exact-grid scoring.

Prompt (`arc-prompt-v1`), grids in `grid_to_text` form (one line per row, digits 0-9):

    Find the rule that maps each input grid to its output grid, then apply it to the
    test input. Grids are rows of digits 0-9, one row per line.

    Example 1
    Input:
    <grid>
    Output:
    <grid>

    ... (every train pair) ...

    Test
    Input:
    <grid>
    Output:

Generation stops at a blank line ("\\n\\n"). Attempt 1 is greedy, attempt 2 samples at
temperature 0.7 with a fixed seed; the sample passes if either attempt's first grid equals
the expected grid (scorer `arc_grid`). Cluster: the task id (a task's test inputs share one
rule).

Token budget (`arc-budget-v1`), computed without looking at the expected output: with
chars(g) = rows x (cols + 1), the budget is max(largest train output, chars(test input) x
the largest train ratio chars(output) / chars(input)), capped at 930 (a 30 x 30 grid),
plus 32 tokens of slack. A token covers at least one character of a grid's text, so a
model that writes the grid directly fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.textio import JsonProblem, parse_json, read_text
from lmaudit.tasks.generic import GenerateTask
from lmaudit.tasks.registry import TaskOptions, register_task

PROMPT_VERSION = "arc-prompt-v1"
BUDGET_VERSION = "arc-budget-v1"
INSTRUCTION = (
    "Find the rule that maps each input grid to its output grid, then apply it to the "
    "test input. Grids are rows of digits 0-9, one row per line."
)
MAX_GRID_CHARS = 30 * 31
BUDGET_SLACK = 32

Grid = Sequence[Sequence[int]]


def grid_chars(grid: Grid) -> int:
    """Characters of a grid's text form: rows x (cols + 1), newlines included."""
    return len(grid) * (len(grid[0]) + 1)


def token_budget(train: Sequence[tuple[Grid, Grid]], test_input: Grid) -> int:
    """`arc-budget-v1` (module docstring): uses the train pairs and the test input only."""
    largest = max(grid_chars(out) for _, out in train)
    ratio = max(grid_chars(out) / grid_chars(inp) for inp, out in train)
    estimate = max(largest, math.ceil(grid_chars(test_input) * ratio))
    return min(estimate, MAX_GRID_CHARS) + BUDGET_SLACK


def arc_prompt(train: Sequence[tuple[Grid, Grid]], test_input: Grid) -> str:
    """The `arc-prompt-v1` prompt (module docstring)."""
    from lmaudit.scoring.grids import grid_to_text

    parts = [INSTRUCTION]
    for number, (inp, out) in enumerate(train, start=1):
        parts.append(
            f"Example {number}\nInput:\n{grid_to_text(inp)}\nOutput:\n{grid_to_text(out)}"
        )
    parts.append(f"Test\nInput:\n{grid_to_text(test_input)}\nOutput:\n")
    return "\n\n".join(parts)


def _pairs(task: Any, key: str, file: Path, *, need_output: bool) -> list[tuple[Any, Any]]:
    pairs = task.get(key) if isinstance(task, dict) else None
    if not isinstance(pairs, list) or not pairs:
        raise LmauditError(f"{file}: expected a non-empty list under {key!r}")
    result = []
    for k, pair in enumerate(pairs):
        if not isinstance(pair, dict) or "input" not in pair:
            raise LmauditError(f"{file}: {key}[{k}]: expected an object with 'input'")
        if need_output and "output" not in pair:
            raise LmauditError(f"{file}: {key}[{k}]: missing 'output' (hidden test answers?)")
        result.append((pair["input"], pair.get("output")))
    return result


def arc_samples(files: Sequence[Path]) -> list[Sample]:
    """One sample per test input of each task file, id `<task>-<k>` (k from 0)."""
    from lmaudit.scoring.grids import grid_to_text

    samples: list[Sample] = []
    for file in files:
        try:
            task = parse_json(read_text(file))
        except JsonProblem as problem:
            raise LmauditError(f"{file}: {problem}") from None
        train = _pairs(task, "train", file, need_output=True)
        tests = _pairs(task, "test", file, need_output=True)
        task_id = file.stem
        for k, (test_input, test_output) in enumerate(tests):
            try:
                prompt = arc_prompt(train, test_input)
                target = grid_to_text(test_output)
            except LmauditError as error:
                raise LmauditError(f"{file}: test {k}: {error}") from None
            samples.append(Sample(
                f"{task_id}-{k}",
                prompt,
                target,
                metadata={
                    "cluster": task_id,
                    "max_tokens": token_budget(train, test_input),
                    "fields": {"task": task_id, "test_index": k},
                },
            ))
    return samples


def task_files(data: str, only: Sequence[str] = ()) -> list[Path]:
    """The task files of a directory (sorted) or a single file, optionally a subset."""
    path = Path(data).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise LmauditError(f"{path}: no ARC task files (*.json)")
    else:
        raise LmauditError(f"{path}: no such file or directory")
    if only:
        by_id = {f.stem: f for f in files}
        missing = [t for t in only if t not in by_id]
        if missing:
            raise LmauditError(f"{path}: no task file for {', '.join(missing)}")
        files = [by_id[t] for t in only]
    return files


@register_task(
    "arc_agi",
    "ARC-AGI grid puzzles, 2 attempts, exact grid (needs data=DIR)",
    task_type="generate",
)
def arc_agi(**options: str) -> Task:
    opts = TaskOptions(
        "arc_agi",
        options,
        {
            "data": "directory of ARC task JSON files (required), e.g. ARC-AGI/data/evaluation",
            "tasks": "comma-separated task ids to keep (default: all)",
            "attempts": "attempts per test input (default 2)",
        },
    )
    data = opts.text("data")
    if not data:
        raise LmauditError(
            "task arc_agi needs --task-option data=DIR, a directory of ARC task JSON files "
            "(e.g. the evaluation/ folder of github.com/fchollet/ARC-AGI data/)"
        )
    only = [t.strip() for t in (opts.text("tasks") or "").split(",") if t.strip()]
    files = task_files(data, only)
    attempts = opts.integer("attempts", 2, minimum=1)
    from lmaudit.data.loading import combined_sha256

    def data_spec(load: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"path": str(Path(data).resolve()), "n_files": len(files)}
        if load:
            info["sha256"] = combined_sha256(files)
        return info

    return GenerateTask(
        "arc_agi",
        lambda: arc_samples(files),
        scorer="arc_grid",
        max_tokens=MAX_GRID_CHARS + BUDGET_SLACK,
        stop=("\n\n",),
        attempts=attempts,
        sample_temperature=0.7,
        sample_seed=0,
        config={
            "task_version": "arc_agi-v1",
            "prompt_version": PROMPT_VERSION,
            "budget_version": BUDGET_VERSION,
            "options": opts.spec(),
        },
        data_spec=data_spec,
    )
