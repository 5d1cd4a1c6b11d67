"""The change matrix of a before/after audit: every task × every model against the baseline.

For each task and each model other than the baseline, `stats.paired.compare_runs` gives
model − baseline on the task's headline metric over the items both runs scored (clustered
where the task has clusters). The p-value is `report.comparison.paired_test`'s: McNemar's
exact test for 0/1 metrics on independent items, else the (clustered) paired t test; a
ratio-of-sums metric (the perplexity task's bits per byte) gets a paired bootstrap of its
difference and a normal p from the bootstrap standard error. Holm adjusts all cells of the
matrix together (one family). Per model, the gains of each role's tasks and of the target
vs the other tasks are averaged as independent estimates (`stats.change`), the two
coordinates of the learning-vs-forgetting plot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from lmaudit.report.change_model import ROLES, ChangeCell, ModelChange, RoleChange, Tradeoff
from lmaudit.report.comparison import RunForComparison, paired_test
from lmaudit.report.fmt import is_share
from lmaudit.stats import StatsInputError, compare_runs, ratio_estimate
from lmaudit.stats.change import (
    mean_of_independent,
    normal_p_value,
    oriented,
    paired_ratio_difference,
)
from lmaudit.stats.multiple import holm_adjust

# Ratio-of-sums headline metrics (the perplexity task): per-sample numerator, denominator
# and transform (`stats.intervals.RATIO_TRANSFORMS`).
RATIO_COLUMNS = {"bits_per_byte": ("nll", "n_bytes", "bits"),
                 "byte_perplexity": ("nll", "n_bytes", "exp"),
                 "word_perplexity": ("nll", "n_words", "exp"),
                 "token_perplexity": ("nll", "n_tokens", "exp")}


def _ratio_cell(base: RunForComparison, run: RunForComparison, metric: str, role: str,
                higher: bool) -> ChangeCell | str:
    """A ratio metric's cell: paired bootstrap of the difference over the shared items."""
    num, den, transform = RATIO_COLUMNS[metric]
    columns = ["sample_id", num, den]
    if any(c not in f.columns for f in (base.frame, run.frame) for c in columns):
        return f"{base.task} · {run.model}: not compared (no per-sample {num}, {den})"
    keep = [*columns, *(["cluster"] if "cluster" in base.frame.columns else [])]
    a = base.frame[keep].assign(sample_id=base.frame["sample_id"].astype(str))
    b = run.frame[columns].assign(sample_id=run.frame["sample_id"].astype(str))
    joined = a.merge(b, on="sample_id", suffixes=("_a", "_b")).dropna(
        subset=[f"{c}_{x}" for c in (num, den) for x in "ab"])
    if joined.empty:
        return f"{base.task} · {run.model}: not compared (no shared samples)"
    clusters = None
    if "cluster" in joined.columns and joined["cluster"].notna().all():
        clusters = joined["cluster"].astype(str).to_numpy()
    num_a, den_a, num_b, den_b = (joined[f"{c}_{x}"].to_numpy(dtype=float)
                                  for x in "ab" for c in (num, den))
    difference = paired_ratio_difference(num_a, den_a, num_b, den_b, transform,
                                         clusters=clusters)
    means = [ratio_estimate(n, d, transform, clusters=clusters)
             for n, d in ((num_a, den_a), (num_b, den_b))]
    return ChangeCell(run.model, base.task, role, metric, higher, len(joined), means[0],
                      means[1], difference, oriented(difference, higher), "paired bootstrap",
                      normal_p_value(difference.value, difference.stderr), math.nan)


def _cell(base: RunForComparison, run: RunForComparison, role: str, higher: bool
          ) -> ChangeCell | str:
    metric = base.primary
    if metric is None:
        return f"{base.task}: the baseline run has no headline metric"
    if metric in RATIO_COLUMNS and metric not in base.frame.columns:
        return _ratio_cell(base, run, metric, role, higher)
    try:
        result = compare_runs(base.frame, run.frame, metric)
    except StatsInputError as error:
        return f"{base.task} · {run.model}: not compared ({error})"
    test, p = paired_test(result)
    return ChangeCell(run.model, base.task, role, metric, higher, result.n_shared,
                      result.mean_a, result.mean_b, result.difference,
                      oriented(result.difference, higher), test, p, math.nan)


def _tradeoff(model: str, cells: Sequence[ChangeCell]) -> Tradeoff | None:
    target = [c for c in cells if c.role == "target"]
    other = [c for c in cells if c.role != "target"]
    if not target or not other:
        return None
    return Tradeoff(model, mean_of_independent([c.gain for c in target]),
                    mean_of_independent([c.gain for c in other]),
                    tuple(c.task for c in target), tuple(c.task for c in other))


def model_change(
    runs: Sequence[RunForComparison],
    baseline: str,
    roles: Mapping[str, str],
    higher_is_better: Mapping[str, bool],
    models: Sequence[str] = (),
) -> ModelChange:
    """The change matrix (module docstring). `roles`: task → role (default `general`);
    `higher_is_better`: task → direction of its headline metric (default True);
    `models`: the order of the models (default: as they appear in `runs`)."""
    order = list(dict.fromkeys([*models, *(r.model for r in runs)]))
    others = [m for m in order if m != baseline]
    tasks = list(dict.fromkeys(r.task for r in runs))
    by_key = {(r.model, r.task): r for r in runs}
    notes: list[str] = []
    cells: list[ChangeCell] = []
    for task in tasks:
        base = by_key.get((baseline, task))
        if base is None:
            notes.append(f"{task}: no finished run of the baseline {baseline}; not compared")
            continue
        for model in others:
            run = by_key.get((model, task))
            if run is None:
                notes.append(f"{task} · {model}: no finished run; not compared")
                continue
            cell = _cell(base, run, roles.get(task, "general"),
                         higher_is_better.get(task, True))
            if isinstance(cell, str):
                notes.append(cell)
            else:
                cells.append(cell)
    holm = holm_adjust([c.p_value for c in cells])
    cells = [replace(c, p_holm=h) for c, h in zip(cells, holm, strict=True)]
    role_changes: list[RoleChange] = []
    tradeoffs: list[Tradeoff] = []
    for model in others:
        mine = [c for c in cells if c.model == model]
        for role in ROLES:
            of_role = [c for c in mine if c.role == role]
            if of_role:
                role_changes.append(RoleChange(model, role, tuple(c.task for c in of_role),
                                               mean_of_independent([c.gain for c in of_role])))
        point = _tradeoff(model, mine)
        if point is not None:
            tradeoffs.append(point)
    share = {c.task: is_share(c.metric, c.baseline_mean) for c in cells}
    shares = ", ".join(t for t in share if share[t])
    others_units = ", ".join(t for t in share if not share[t])
    if shares and others_units:
        notes.append("the mean gains by role and the learning-vs-forgetting points average "
                     f"shares ({shares}) with other units ({others_units}): read them per task")
    if cells and not any(c.role == "target" for c in cells):
        notes.append("no task has the role target (suite `role: target` or --target TASK): "
                     "no learning-vs-forgetting plot")
    return ModelChange(
        baseline=baseline, models=tuple(others), tasks=tuple(tasks),
        roles=tuple((t, roles.get(t, "general")) for t in tasks), cells=tuple(cells),
        role_changes=tuple(role_changes), tradeoffs=tuple(tradeoffs),
        n_tests=sum(math.isfinite(c.p_value) for c in cells), notes=tuple(notes),
    )
