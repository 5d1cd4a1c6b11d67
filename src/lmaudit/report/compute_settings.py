"""The compute setting of a stored run and the cost-accuracy points it gives.

`run_setting` reads the task spec: N samples per problem (`samples_per_problem` of a
reasoning task, `sampling.samples` of `--samples`) and thinking budget, extension ("wait")
or effort (top level or one mapping down; an effort the backend ignored, manifest
`thinking_not_applied`, is labelled `(not applied)`). `variants` lists a run's points with the share
of the problem's prompt and completion cost each one spends (`report.compute`): the first
k of N answers' share of the completions is exact where the run stored each answer's
completion tokens (`answers_completion_tokens`), else prorated by characters (`exact`
False: an estimate, said in the section).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.report.compute_lengths import exact_counts, numeric_column, stored_extras
from lmaudit.stats.passk import k_values

# task spec keys that change a run's compute, and their short label
SETTING_KEYS = {"budget": "budget", "thinking_budget": "budget", "extend": "wait",
                "thinking_extend": "wait", "wait": "wait", "effort": "effort",
                "thinking_effort": "effort", "reasoning_effort": "effort"}
BUDGET_METRIC = re.compile(r"^(?P<metric>.+)@budget(?P<budget>\d+)$")


def run_setting(manifest: Mapping[str, Any]) -> tuple[str, int]:
    """(label, samples per problem) of a run's compute setting (module docstring)."""
    spec = manifest.get("task_spec") or {}
    sampling = spec.get("sampling")
    sampling = sampling if isinstance(sampling, Mapping) else {}
    n = int(spec.get("samples_per_problem") or sampling.get("samples") or 1)
    parts = [f"N={n}"] if n > 1 else []
    scopes = [spec, *(v for v in spec.values() if isinstance(v, Mapping))]
    for scope in scopes:
        for key, label in SETTING_KEYS.items():
            value = scope.get(key)
            if value not in (None, 0, "", False) and f"{label}={value}" not in parts:
                parts.append(f"{label}={value}")
    ignored = " ".join(str(n) for n in manifest.get("thinking_not_applied") or [])
    if "thinking_effort=" in ignored:  # the backend had no effort control (`check_thinking`)
        parts = [p + " (not applied)" if p.startswith("effort=") else p for p in parts]
    return " ".join(parts), n


def _completion_share(frame: pd.DataFrame, k: int, n: int,
                      total: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Per problem, the first k answers' share of its completion tokens, and whether every
    share is exact: their stored token counts over `total` (the row's completion tokens,
    default the N answers' sum), else their share of the N answers' characters (k / N
    where the answers are not stored)."""
    extras = stored_extras(frame)
    if extras is None:
        return np.full(len(frame), k / n), False
    shares, exact = [], True
    for row, extra in enumerate(extras):
        counts = exact_counts(extra, "answers_completion_tokens", n)
        if counts is not None:
            whole = sum(counts) if total is None else float(total[row])
            if whole > 0:
                shares.append(min(1.0, sum(counts[:k]) / whole))
                continue
        exact = False
        chars = [len(str(a)) for a in extra.get("answers") or []]
        chars_total = sum(chars)
        shares.append(sum(chars[:k]) / chars_total if len(chars) == n and chars_total > 0
                      else k / n)
    return np.asarray(shares, dtype=float), exact


@dataclass(frozen=True)
class Variant:
    """One point of a run: its setting, accuracy metric, answers per problem, and the
    factors its cost takes of the problem's prompt and completion cost (per problem)."""

    setting: str
    metric: str
    answers: int
    prompt: float
    completion: float | np.ndarray
    exact: bool = True  # the completion share is from stored counts (or all of it)


def _budget_shares(frame: pd.DataFrame, budgets: Sequence[int]) -> dict[int, np.ndarray]:
    """Per problem, each budget's share of the thinking tokens written under all budgets
    (`thinking_tokens@budget{B}`; equal shares where unknown)."""
    columns = {b: numeric_column(frame, f"thinking_tokens@budget{b}") for b in budgets}
    equal = np.full(len(frame), 1.0 / len(budgets))
    if any(c is None for c in columns.values()):
        return {b: equal for b in budgets}
    total = sum(c for c in columns.values() if c is not None)
    return {b: np.where(total > 0, c / np.where(total > 0, total, 1.0), equal)
            for b, c in columns.items() if c is not None}


def variants(manifest: Mapping[str, Any], results: Mapping[str, Any], frame: pd.DataFrame,
             headline: str) -> list[Variant]:
    """The points a run gives (module docstring): its headline metric for one answer per
    problem; per thinking budget B of a budget sweep, one answer's accuracy under B
    (`{metric}@budget{B}`; cost: 1 / (N × budgets) of the prompts and B's share of the
    thinking tokens / N of the completions, an estimate that splits the answer tokens like
    the thinking); for N answers, `maj@k` and `best_of_k:LABEL` over the first k (of the
    largest budget in a sweep)."""
    setting, n = run_setting(manifest)
    metrics = results.get("metrics") or {}
    found = [(m, BUDGET_METRIC.match(m)) for m in metrics]
    sweep = {name: int(match["budget"]) for name, match in found
             if match and not match["metric"].startswith("thinking_tokens")}
    budgets = sorted(set(sweep.values()))
    shares = _budget_shares(frame, budgets) if budgets else {}
    groups = max(1, len(budgets))
    rest = " ".join(p for p in setting.split() if not p.startswith(("N=", "budget=")))
    out = [Variant(" ".join(filter(None, [f"budget={b}", rest])), name, 1, 1 / (n * groups),
                    shares[b] / n, False) for name, b in sweep.items()]
    if n < 2 or not any(name.startswith("maj@") for name in metrics):
        return out or [Variant(setting, headline, n, 1.0, 1.0)]
    top = f"budget={budgets[-1]}" if budgets else ""
    completion = numeric_column(frame, "completion_tokens")
    for k in k_values(n):
        base = " ".join(filter(None, [f"N={k}", top, rest]))
        share: float | np.ndarray
        if budgets:  # the stored answers are the largest budget's
            share, exact = _completion_share(frame, k, n, completion)
            if not exact:
                share = shares[budgets[-1]] * k / n
        else:
            share, exact = _completion_share(frame, k, n) if k < n else (1.0, True)
        if f"maj@{k}" in metrics:
            out.append(Variant(base + (" vote" if k > 1 else ""), f"maj@{k}", k,
                                k / (n * groups), share, exact))
        out += [Variant(f"{base} best-of ({name.split(':', 1)[1]})", name, k,
                         k / (n * groups), share, exact)
                for name in metrics if name.startswith(f"best_of_{k}:") and k > 1]
    return out
