"""Per-answer lengths and verdicts of a stored multi-sample run, for `stats.length`.

A run with several answers per problem keeps them in each row's `extra` (`answers`,
`answers_correct`, and per answer `thinking` counts, `scoring.thinking`). An answer's
length is, by the first that applies to the whole run: its reasoning tokens (the thinking's
share of its completion tokens) when the answers think; the problem's completion tokens
prorated to each answer's characters; its words.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

REASONING = "reasoning tokens (thinking's share of each answer's tokens)"
PRORATED = "completion tokens (the problem's, prorated to each answer's characters)"
WORDS = "words of each answer"
UNITS = {REASONING: "reasoning tokens", PRORATED: "tokens", WORDS: "words"}


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


def answer_lengths(frame: pd.DataFrame) -> tuple[list[str], list[float], list[int], str] | None:
    """(problem, length, correct, measure) per answer of a multi-sample run (module
    docstring); None when the rows do not keep several answers each."""
    extras = stored_extras(frame)
    if not extras or max(len(e["answers_correct"]) for e in extras) < 2:
        return None
    thinking = all(len(e.get("thinking") or []) == len(e["answers_correct"])
                   and all(t.get("reasoning_tokens") is not None for t in e["thinking"])
                   for e in extras)
    thinking = thinking and any(t.get("thinking_chars") for e in extras for t in e["thinking"])
    completion = numeric_column(frame, "completion_tokens")
    measure = REASONING if thinking else PRORATED if completion is not None else WORDS
    problems, lengths, correct = [], [], []
    for row, (sample_id, extra) in enumerate(zip(frame["sample_id"].tolist(), extras,
                                                 strict=True)):
        texts = [str(a) for a in extra.get("answers") or []]
        chars = sum(len(t) for t in texts)
        for i, right in enumerate(extra["answers_correct"]):
            if measure == REASONING:
                length = float(extra["thinking"][i]["reasoning_tokens"])
            elif measure == PRORATED and completion is not None:
                length = completion[row] * len(texts[i]) / chars if chars else 0.0
            else:
                length = float(len(texts[i].split())) if i < len(texts) else 0.0
            problems.append(str(sample_id))
            lengths.append(length)
            correct.append(int(bool(right)))
    return problems, lengths, correct, measure
