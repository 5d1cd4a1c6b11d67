"""Per-answer lengths and verdicts of a stored multi-sample run, for `stats.length`.

A run with several answers per problem keeps them in each row's `extra` (`answers`,
`answers_correct`, per answer `thinking` counts (`scoring.thinking`), and, since runs store
them, each answer's exact token counts `answers_completion_tokens` and
`answers_thinking_tokens` (`tasks.sampled`)). An answer's length is, by the first that
applies to the whole run:

- when the answers think: the backend's exact thinking tokens (budget forcing counts them;
  `answers_thinking_tokens`, or `reasoning_tokens_exact` in the thinking record), else the
  estimate `reasoning_tokens` (the thinking's character share of the answer's tokens);
- the answer's exact completion tokens (`answers_completion_tokens`);
- the problem's completion tokens prorated to each answer's characters (an estimate, for
  runs stored before per-answer counts; not for a thinking-budget sweep, whose row totals
  hold every budget's answers);
- its words.

A thinking-budget sweep stores the answers of its largest budget only (the headline), so
its lengths are those answers' and no other budget's (`largest_budget`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

THINKING_EXACT = "thinking tokens (exact: the backend's own count)"
REASONING = "reasoning tokens (estimated: the thinking's character share of each answer's tokens)"
COMPLETION_EXACT = "completion tokens (exact: each answer's own count)"
PRORATED = ("completion tokens (estimated: the problem's total prorated to each answer's "
            "characters; the run stored no per-answer counts)")
WORDS = "words of each answer"
UNITS = {THINKING_EXACT: "thinking tokens", REASONING: "reasoning tokens",
         COMPLETION_EXACT: "tokens", PRORATED: "tokens", WORDS: "words"}


def largest_budget(spec: Mapping[str, Any]) -> tuple[int, list[int]] | None:
    """(largest budget, all budgets) of a thinking-budget sweep in a task spec (top level
    or one mapping down, `thinking_budgets`); None when the run is no sweep."""
    scopes = [spec, *(v for v in spec.values() if isinstance(v, Mapping))]
    for scope in scopes:
        budgets = scope.get("thinking_budgets")
        if isinstance(budgets, list) and len(budgets) > 1:
            values = sorted(int(b) for b in budgets)
            return values[-1], values
    return None


def exact_counts(extra: Mapping[str, Any], key: str, n: int) -> list[float] | None:
    """`extra[key]` as n numbers (an answer's exact token counts), else None."""
    counts = extra.get(key)
    if not isinstance(counts, list) or len(counts) != n or any(
            not isinstance(c, int | float) or isinstance(c, bool) for c in counts):
        return None
    return [float(c) for c in counts]


def _exact_thinking(extra: Mapping[str, Any], n: int) -> list[float] | None:
    found = exact_counts(extra, "answers_thinking_tokens", n)
    if found is not None:
        return found
    thinking = extra.get("thinking") or []
    if len(thinking) == n and all(t.get("reasoning_tokens_exact") for t in thinking):
        return [float(t["reasoning_tokens"]) for t in thinking]
    return None


def numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    """A numeric column with missing values as 0 (None when the frame has no such column)."""
    if name not in frame.columns:
        return None
    return pd.to_numeric(frame[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def stored_extras(frame: pd.DataFrame) -> list[dict[str, Any]] | None:
    """Each row's `extra` when every row keeps its answers' verdicts (several answers per
    problem), else None."""
    if "extra" not in frame.columns:
        return None
    out = []
    for raw in frame["extra"].tolist():
        if not isinstance(raw, str) or "answers_correct" not in raw:
            return None
        out.append(json.loads(raw))
    return out


def answer_lengths(frame: pd.DataFrame, *, sweep: bool = False
                   ) -> tuple[list[str], list[float], list[int], str] | None:
    """(problem, length, correct, measure) per answer of a multi-sample run (module
    docstring); `sweep`: the run is a thinking-budget sweep (no prorating of its row
    totals). None when the rows do not keep several answers each."""
    extras = stored_extras(frame)
    if not extras or max(len(e["answers_correct"]) for e in extras) < 2:
        return None
    sizes = [len(e["answers_correct"]) for e in extras]
    thinking = all(len(e.get("thinking") or []) == n
                   and all(t.get("reasoning_tokens") is not None for t in e["thinking"])
                   for e, n in zip(extras, sizes, strict=True))
    thinking = thinking and any(t.get("thinking_chars") for e in extras for t in e["thinking"])
    completion = numeric_column(frame, "completion_tokens")
    exact: list[list[float] | None] = [None] * len(extras)
    if thinking:
        exact = [_exact_thinking(e, n) for e, n in zip(extras, sizes, strict=True)]
        measure = THINKING_EXACT if all(c is not None for c in exact) else REASONING
    else:
        exact = [exact_counts(e, "answers_completion_tokens", n)
                 for e, n in zip(extras, sizes, strict=True)]
        measure = (COMPLETION_EXACT if all(c is not None for c in exact)
                   else PRORATED if completion is not None and not sweep else WORDS)
    problems, lengths, correct = [], [], []
    for row, (sample_id, extra) in enumerate(zip(frame["sample_id"].tolist(), extras,
                                                 strict=True)):
        texts = [str(a) for a in extra.get("answers") or []]
        chars = sum(len(t) for t in texts)
        counts = exact[row]
        for i, right in enumerate(extra["answers_correct"]):
            if measure in (THINKING_EXACT, COMPLETION_EXACT) and counts is not None:
                length = counts[i]
            elif measure == REASONING:
                length = float(extra["thinking"][i]["reasoning_tokens"])
            elif measure == PRORATED and completion is not None:
                length = completion[row] * len(texts[i]) / chars if chars else 0.0
            else:
                length = float(len(texts[i].split())) if i < len(texts) else 0.0
            problems.append(str(sample_id))
            lengths.append(length)
            correct.append(int(bool(right)))
    return problems, lengths, correct, measure
