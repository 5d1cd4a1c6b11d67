"""Pairwise LLM judging through any lmaudit backend (Arena-Hard style verdicts).

Every pair of answers to a prompt is judged twice, once in each order (the answer shown
first is "A"), to measure and cancel position bias. The judge ends its reply with one of
five verdicts, `[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]` (mirrored spellings
such as `[[A<B]]` are accepted); when a reply contains several, the last one counts, and a
reply with none is counted as unparseable and shown, never guessed. Verdict levels are
+2, +1, 0, -1, -2 from A's point of view.

As battles, a decisive verdict is a win for one side and `A=B` a tie; a strong verdict
(`>>`) counts `strong_weight` times (3 in Arena-Hard). Position consistency is the share of
prompt pairs judged in both orders whose two verdicts name the same winner (or both a tie).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from lmaudit.arena.battles import Battles, battles_from_frame
from lmaudit.core.backend import Backend, ProgressCallback
from lmaudit.core.types import GenerateRequest, GenerationParams, LmauditError, Message
from lmaudit.data.textio import json_lines

_VERDICT = re.compile(r"\[\[\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*\]\]")
JUDGE_SYSTEM = (
    "You are an impartial judge. You will see a user prompt and two answers, from "
    "Assistant A and Assistant B. Decide which answer is better for the user: judge "
    "correctness first, then helpfulness, relevance and concision. Do not let the order of "
    "the answers, their length or their formatting sway you. Explain briefly, then end "
    "with exactly one verdict label:\n"
    "[[A>>B]] A is significantly better; [[A>B]] A is slightly better; [[A=B]] a tie; "
    "[[B>A]] B is slightly better; [[B>>A]] B is significantly better."
)
JUDGE_TEMPLATE = (
    "<|User Prompt|>\n{prompt}\n\n<|The Start of Assistant A's Answer|>\n{answer_a}\n"
    "<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n"
    "{answer_b}\n<|The End of Assistant B's Answer|>"
)


DEFAULT_JUDGE_PARAMS = GenerationParams(max_tokens=1024, temperature=0.0)


def parse_verdict(text: str) -> int | None:
    """The last verdict label in `text` as a level from A's side (+2 .. -2), else None."""
    matches = [m for m in _VERDICT.finditer(text) if m.group(1) != m.group(3)]
    if not matches:
        return None
    left, relation, _ = matches[-1].groups()
    level = {">>": 2, ">": 1, "=": 0, "<": -1, "<<": -2}[relation]
    return level if left == "A" else -level


@dataclass(frozen=True)
class ModelOutputs:
    """One model's answers: prompt id -> (prompt, answer)."""

    model: str
    answers: Mapping[str, tuple[str, str]]


def read_outputs(path: str | Path) -> ModelOutputs:
    """JSONL with `id` (or `prompt_id`), `prompt` (or `instruction`), `output` (or
    `response`) and optionally `model` (or `generator`; default: the file name stem)."""
    path = Path(path)
    if not path.is_file():
        raise LmauditError(f"outputs file not found: {path}")
    answers: dict[str, tuple[str, str]] = {}
    names: set[str] = set()
    for number, record in json_lines(path):

        def field(*keys: str, rec: dict[str, object] = record, n: int = number) -> str:
            for key in keys:
                if isinstance(rec, dict) and rec.get(key) is not None:
                    return str(rec[key])
            raise LmauditError(f"{path}: line {n}: missing {' or '.join(keys)}")

        prompt_id = field("id", "prompt_id", "question_id")
        if prompt_id in answers:
            raise LmauditError(f"{path}: line {number}: duplicate id {prompt_id!r}")
        answers[prompt_id] = (field("prompt", "instruction"), field("output", "response"))
        for key in ("model", "generator"):
            if isinstance(record, dict) and record.get(key):
                names.add(str(record[key]))
                break
    if len(names) > 1:
        raise LmauditError(f"{path}: answers from several models ({', '.join(sorted(names))})")
    return ModelOutputs(names.pop() if names else path.stem, answers)


@dataclass(frozen=True)
class Judgment:
    """One judge call: `first` was shown as A, `second` as B. `level` from A's side."""

    prompt_id: str
    first: str
    second: str
    reply: str
    level: int | None


def judge_requests(
    pairs: Sequence[tuple[ModelOutputs, ModelOutputs]], params: GenerationParams
) -> tuple[list[tuple[str, str, str]], list[GenerateRequest]]:
    """Both orders of every shared prompt of every pair, as chat requests."""
    keys: list[tuple[str, str, str]] = []
    requests: list[GenerateRequest] = []
    for x, y in pairs:
        for prompt_id in sorted(set(x.answers) & set(y.answers)):
            prompt, answer_x = x.answers[prompt_id]
            _, answer_y = y.answers[prompt_id]
            for first, second, a, b in ((x, y, answer_x, answer_y), (y, x, answer_y, answer_x)):
                text = JUDGE_TEMPLATE.format(prompt=prompt, answer_a=a, answer_b=b)
                messages = (Message("system", JUDGE_SYSTEM), Message("user", text))
                requests.append(GenerateRequest(messages=messages, params=params))
                keys.append((prompt_id, first.model, second.model))
    return keys, requests


def run_judge(
    backend: Backend,
    outputs: Sequence[ModelOutputs],
    *,
    baseline: str | None = None,
    params: GenerationParams = DEFAULT_JUDGE_PARAMS,
    progress: ProgressCallback | None = None,
) -> tuple[Judgment, ...]:
    """Judge every pair of models (or every model against `baseline`) in both orders."""
    names = [o.model for o in outputs]
    if len(set(names)) != len(names):
        raise LmauditError(f"two outputs files name the same model: {names}")
    if len(outputs) < 2:
        raise LmauditError("judging needs the outputs of at least two models")
    by_name = {o.model: o for o in outputs}
    if baseline is not None:
        if baseline not in by_name:
            raise LmauditError(f"baseline {baseline!r} is not among the models {names}")
        pairs = [(by_name[baseline], o) for o in outputs if o.model != baseline]
    else:
        pairs = list(combinations(outputs, 2))
    keys, requests = judge_requests(pairs, params)
    if not requests:
        raise LmauditError("the outputs files share no prompt ids")
    replies = backend.generate(requests, progress)
    return tuple(
        Judgment(pid, first, second, g.text, parse_verdict(g.text))
        for (pid, first, second), g in zip(keys, replies, strict=True)
    )


def judgments_to_battles(
    judgments: Sequence[Judgment], *, strong_weight: int = 3, judge: str = "llm-judge"
) -> Battles:
    """Parsed judgments as battles (shown-first model as model_a); unparseable ones drop out."""
    rows = [
        {
            "model_a": j.first,
            "model_b": j.second,
            "winner": "tie" if j.level == 0 else "model_a" if (j.level or 0) > 0 else "model_b",
            "count": strong_weight if abs(j.level or 0) == 2 else 1,
            "prompt_id": j.prompt_id,
            "judge": judge,
        }
        for j in judgments
        if j.level is not None
    ]
    if not rows:
        raise LmauditError("no judge reply could be parsed; nothing to rate")
    frame = pd.DataFrame(rows)
    return battles_from_frame(
        frame, source="<judge>", locations=[f"judgment {i + 1}" for i in range(len(rows))]
    )


def paired_levels(judgments: Sequence[Judgment]) -> pd.DataFrame:
    """One row per (prompt, unordered pair): levels of both orders from model x's side."""
    rows: dict[tuple[str, str, str], dict[str, object]] = {}
    for j in judgments:
        x, y = sorted((j.first, j.second))
        level = None if j.level is None else (j.level if j.first == x else -j.level)
        slot = "x_first" if j.first == x else "y_first"
        rows.setdefault((j.prompt_id, x, y), {"x_first": None, "y_first": None})[slot] = level
    return pd.DataFrame(
        [{"prompt_id": p, "model_x": x, "model_y": y, **v} for (p, x, y), v in rows.items()]
    )


@dataclass(frozen=True)
class JudgeSummary:
    n_judgments: int
    n_unparseable: int
    unparseable_examples: tuple[str, ...]
    position_consistency: float
    n_consistency_pairs: int
    first_position_win_rate: float
    verdict_counts: Mapping[str, int]


def summarize_judgments(judgments: Sequence[Judgment], examples: int = 3) -> JudgeSummary:
    """Counts, unparseable replies, position consistency and position bias."""
    bad = [j for j in judgments if j.level is None]
    labels = {2: "A>>B", 1: "A>B", 0: "A=B", -1: "B>A", -2: "B>>A"}
    counts = {label: sum(j.level == level for j in judgments) for level, label in labels.items()}
    paired = paired_levels(judgments)
    both = paired.dropna(subset=["x_first", "y_first"])
    agree = np.sign(both["x_first"].astype(float)) == np.sign(both["y_first"].astype(float))
    decisive = [j.level for j in judgments if j.level]
    return JudgeSummary(
        n_judgments=len(judgments),
        n_unparseable=len(bad),
        unparseable_examples=tuple(j.reply[-200:] for j in bad[:examples]),
        position_consistency=float(agree.mean()) if len(both) else float("nan"),
        n_consistency_pairs=len(both),
        first_position_win_rate=float(np.mean([lv > 0 for lv in decisive]))
        if decisive
        else float("nan"),
        verdict_counts=counts,
    )
