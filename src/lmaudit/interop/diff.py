"""Why two runs' scores differ, sample by sample.

Samples are aligned by id, or, when the two runs share fewer than half of their ids (an
imported log beside a native run), by a content hash of the prompt with its whitespace
collapsed. For every aligned sample whose score differs, the diff names the first stage at
which the two runs part, in pipeline order:

1. `prompt`: the prompt text (the first differing character is shown with context);
2. `tokens`: the prompt's token ids or count, when both runs stored them;
3. `target`: the reference answer;
4. `response`: the raw response (or, for log-likelihood runs, the per-choice scores,
   equal within `LOGPROB_TOLERANCE` nats);
5. `extracted`: the answer extracted from the same response;
6. `comparison`: same extracted answer, different verdict.

The summary attributes the score gap (mean of B − mean of A over the aligned samples) to
those causes: each cause's share is the sum of its samples' score differences divided by
the number of aligned samples, so the shares add up to the gap exactly. Samples with the
same score whose stored parts still differ are counted by the same causes
(`same_score_differences`): two runs that agree are ones where that is empty too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from lmaudit.core.store import Run
from lmaudit.core.types import LmauditError

Cause = Literal["prompt", "tokens", "target", "response", "extracted", "comparison"]
CAUSES: tuple[Cause, ...] = ("prompt", "tokens", "target", "response", "extracted", "comparison")
LOGPROB_TOLERANCE = 1e-4
CONTEXT_CHARS = 20
TOKEN_KEYS = ("prompt_token_ids", "tokens", "input_tokens")


@dataclass(frozen=True)
class SampleDiff:
    """One aligned sample whose score differs: where the runs first part and how."""

    key: str
    sample_id_a: str
    sample_id_b: str
    score_a: float
    score_b: float
    cause: Cause
    detail: str


@dataclass(frozen=True)
class CauseShare:
    """How many differing samples a cause explains and its share of the gap (B − A)."""

    cause: Cause
    count: int
    gap: float


@dataclass(frozen=True)
class RunDiff:
    """The diff of two runs on one per-sample metric."""

    metric: str
    aligned_by: Literal["id", "content"]
    n_aligned: int
    n_only_a: int
    n_only_b: int
    mean_a: float
    mean_b: float
    samples: tuple[SampleDiff, ...]
    causes: tuple[CauseShare, ...]
    same_score_differences: tuple[CauseShare, ...] = ()

    @property
    def gap(self) -> float:
        """Mean of B minus mean of A over the aligned samples."""
        return self.mean_b - self.mean_a

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the gap included)."""
        return {**asdict(self), "gap": self.gap}


def first_difference(a: str, b: str, context: int = CONTEXT_CHARS) -> str:
    """Where two strings first differ: the character offset and `context` characters
    either side in each, escaped as in a Python string (so whitespace is visible) and
    bracketed; "" when equal."""
    if a == b:
        return ""
    index = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                 min(len(a), len(b)))
    start = max(0, index - context)

    def window(text: str) -> str:
        prefix = "…" if start > 0 else ""
        suffix = "…" if index + context < len(text) else ""
        return prefix + repr(text[start:index + context])[1:-1] + suffix

    return f"char {index}: A [{window(a)}] vs B [{window(b)}]"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _extra(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get("extra")
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _tokens(row: Mapping[str, Any]) -> Any:
    """The prompt's token ids when stored, else its token count, else None."""
    extra = _extra(row)
    for key in TOKEN_KEYS:
        if extra.get(key) is not None:
            return list(extra[key])
    count = row.get("prompt_tokens")
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return None
    return int(count)


def _logprobs(row: Mapping[str, Any]) -> list[float] | None:
    value = row.get("choice_logprobs")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return [float(x) for x in value]


def _response_differs(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    if _text(a.get("response")) != _text(b.get("response")):
        return first_difference(_text(a.get("response")), _text(b.get("response")))
    la, lb = _logprobs(a), _logprobs(b)
    if la is not None and lb is not None:
        if len(la) != len(lb):
            return f"{len(la)} vs {len(lb)} choice log-likelihoods"
        for i, (x, y) in enumerate(zip(la, lb, strict=True)):
            if abs(x - y) > LOGPROB_TOLERANCE:
                return f"choice {i} log-likelihood {x:.6g} vs {y:.6g}"
    return ""


def locate(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[Cause, str]:
    """The first stage at which two sample rows part, with a detail line."""
    prompt = first_difference(_text(a.get("prompt")), _text(b.get("prompt")))
    if prompt:
        return "prompt", prompt
    ta, tb = _tokens(a), _tokens(b)
    if ta is not None and tb is not None and ta != tb:
        if isinstance(ta, int) or isinstance(tb, int):
            return "tokens", f"{ta} vs {tb} prompt tokens"
        index = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y),
                     min(len(ta), len(tb)))
        return "tokens", f"token {index}: {ta[index:index + 3]} vs {tb[index:index + 3]}"
    if _text(a.get("target")) != _text(b.get("target")):
        return "target", f"{_text(a.get('target'))!r} vs {_text(b.get('target'))!r}"
    response = _response_differs(a, b)
    if response:
        return "response", response
    ea, eb = _text(a.get("extracted")), _text(b.get("extracted"))
    if ea != eb:
        return "extracted", f"{ea!r} vs {eb!r}"
    return "comparison", f"same answer {ea!r}, scored {a.get('_score')} vs {b.get('_score')}"


def parts_differ(a: Mapping[str, Any], b: Mapping[str, Any]) -> Cause | None:
    """For two samples with the same score: the first stage at which they still part
    (prompt ... extracted), or None when nothing stored differs."""
    cause, _ = locate(a, b)
    return None if cause == "comparison" else cause


def content_key(prompt: Any) -> str:
    """A hash of the prompt with runs of whitespace collapsed (the content-alignment key)."""
    return hashlib.sha256(" ".join(_text(prompt).split()).encode()).hexdigest()[:16]


def _keyed(frame: pd.DataFrame, by: str) -> dict[str, dict[str, Any]]:
    """Rows by alignment key; a key seen again (two documents with the same prompt) gets
    `#2`, `#3`, ... in row order, so repeats pair up in order instead of vanishing."""
    rows: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for row in frame.to_dict("records"):
        key = str(row["sample_id"]) if by == "id" else content_key(row.get("prompt"))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        rows[key] = {str(k): v for k, v in row.items()}
    return rows


def shared_metric(run_a: Run, run_b: Run) -> list[str]:
    """Per-sample metrics both runs report, in run A's order."""
    metrics_b = run_b.results.get("metrics", {})
    return [m for m in run_a.results.get("metrics", {})
            if m in metrics_b and m in run_a.samples.columns and m in run_b.samples.columns]


def diff_runs(run_a: Run, run_b: Run, metric: str | None = None) -> RunDiff:
    """Align two runs and explain each score difference on `metric` (default: the first
    per-sample metric both report)."""
    shared = shared_metric(run_a, run_b)
    if metric is None:
        if not shared:
            raise LmauditError("the two runs share no per-sample metric")
        metric = shared[0]
    elif metric not in shared:
        raise LmauditError(f"metric {metric!r} is not per-sample in both runs; "
                           f"comparable: {', '.join(shared) or 'none'}")
    return diff_frames(run_a.samples, run_b.samples, metric)


def diff_frames(frame_a: pd.DataFrame, frame_b: pd.DataFrame, metric: str) -> RunDiff:
    """`diff_runs` on two runs' sample tables (samples.parquet rows), both holding the
    per-sample column `metric`."""
    ids_a = set(frame_a["sample_id"].astype(str))
    ids_b = set(frame_b["sample_id"].astype(str))
    by: Literal["id", "content"] = (
        "id" if len(ids_a & ids_b) * 2 >= min(len(ids_a), len(ids_b)) else "content")
    rows_a, rows_b = _keyed(frame_a, by), _keyed(frame_b, by)
    keys = [k for k in rows_a if k in rows_b]
    if not keys:
        raise LmauditError("the two runs share no sample (by id or by prompt content)")
    diffs: list[SampleDiff] = []
    silent: list[Cause] = []
    total_a = total_b = 0.0
    counted = 0
    for key in keys:
        a, b = rows_a[key], rows_b[key]
        sa, sb = float(a[metric]), float(b[metric])
        if math.isnan(sa) or math.isnan(sb):
            continue
        counted += 1
        total_a, total_b = total_a + sa, total_b + sb
        if sa == sb:
            quiet = parts_differ(a, b)
            if quiet is not None:
                silent.append(quiet)
            continue
        cause, detail = locate({**a, "_score": sa}, {**b, "_score": sb})
        diffs.append(SampleDiff(key, str(a["sample_id"]), str(b["sample_id"]), sa, sb,
                                cause, detail))
    n = max(counted, 1)
    shares = tuple(
        CauseShare(c, sum(1 for d in diffs if d.cause == c),
                   sum(d.score_b - d.score_a for d in diffs if d.cause == c) / n)
        for c in CAUSES if any(d.cause == c for d in diffs))
    quiet_shares = tuple(CauseShare(c, silent.count(c), 0.0) for c in CAUSES if c in silent)
    return RunDiff(metric, by, counted, len(rows_a) - len(keys), len(rows_b) - len(keys),
                   total_a / n, total_b / n, tuple(diffs), shares, quiet_shares)
