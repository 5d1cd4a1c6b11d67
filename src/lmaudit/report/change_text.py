"""The terminal block of a before/after audit: the change matrix, role means, trade-offs."""

from __future__ import annotations

from lmaudit.report import fmt
from lmaudit.report.change_model import ChangeCell, ModelChange
from lmaudit.report.table import text_table
from lmaudit.stats import Estimate


def change_value(estimate: Estimate, share: bool) -> str:
    """A signed difference with its interval: points for shares, else the metric's unit."""
    if share:
        return f"{fmt.points(estimate.value)} {fmt.points_interval(estimate)}"
    return f"{estimate.value:+.4f} {fmt.interval(estimate, False)}"


def cell_share(cell: ChangeCell) -> bool:
    return fmt.is_share(cell.metric, cell.baseline_mean)


def cell_text(cell: ChangeCell | None) -> str:
    """`+12.0 [+4.1, +19.9] *` (the star: significant after Holm); `n/a` when missing."""
    if cell is None:
        return "n/a"
    return change_value(cell.difference, cell_share(cell)) + (" *" if cell.significant else "")


def change_text(change: ModelChange) -> str:
    """The whole block (differences are model − baseline; shares in points)."""
    significant = sum(c.significant for c in change.cells)
    lines = [f"model change vs baseline {change.baseline}: {change.n_tests} paired tests, "
             f"{significant} significant after Holm (alpha 0.05, marked *)"]
    rows = []
    for task in change.tasks:
        base = next((c for c in change.cells if c.task == task), None)
        share = base is not None and cell_share(base)
        rows.append([task, change.role_of(task), base.metric if base else "?",
                     fmt.number(base.baseline_mean.value, share) if base else "n/a",
                     *(cell_text(change.cell(m, task)) for m in change.models)])
    lines.append(text_table(["task", "role", "metric", "baseline", *change.models], rows))
    if change.role_changes:
        lines.append("mean gain by role (positive = better; mean of independent tasks):")
        for model in change.models:
            parts = [f"{r.role} {change_value(r.gain, _role_share(change, r.tasks))}"
                     for r in change.role_changes if r.model == model]
            if parts:
                lines.append(f"  {model}: " + " · ".join(parts))
    for t in change.tradeoffs:
        share = _role_share(change, t.target_tasks + t.other_tasks)
        lines.append(f"learning vs forgetting · {t.model}: target "
                     f"{change_value(t.target_gain, share)}, elsewhere "
                     f"{change_value(t.elsewhere_gain, share)}")
    lines += [f"  note: {n}" for n in change.notes]
    return "\n".join(lines)


def _role_share(change: ModelChange, tasks: tuple[str, ...]) -> bool:
    cells = [c for c in change.cells if c.task in tasks]
    return bool(cells) and all(cell_share(c) for c in cells)
