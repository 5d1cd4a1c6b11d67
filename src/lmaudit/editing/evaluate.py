"""Scoring edits on the model before and after the edit.

Measures (each per prompt, then a mean clustered by edit; after − before paired):

- `prefers new over old`: the new target's mean per-token log-probability after the prompt
  exceeds the old target's (CounterFact's efficacy/paraphrase score as ROME computes it);
  on neighbourhood prompts the reverse, `keeps old over new` (ROME's neighbourhood score);
- `new target is greedy` / `answer is greedy`: every token of ` target` is the argmax
  continuation (exact greedy generation of the target);
- `margin`: mean per-token log-prob of the new target minus the old (nats/token);
- `answer unchanged` (locality): the greedy continuation of a neighbourhood prompt, cut at
  its first newline and first sentence end, is the same string after as before;
- `mentions new target`: a greedy generation (generation prompts, 32 tokens) contains the
  new target (case-insensitive).

Targets are scored as the continuation ` target` (one leading space, CounterFact's
convention); trailing spaces of a prompt move into the continuation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
)
from lmaudit.editing.records import EditCase
from lmaudit.editing.results import METRIC_ORDER, EditEvaluation, EditMetric
from lmaudit.stats import mean_estimate, paired_difference, proportion_estimate

LOCALITY_TOKENS = 8
GENERATION_TOKENS = 32
_SENTENCE_END = re.compile(r"[.!?]")


def request(prompt: str, answer: str) -> LoglikelihoodRequest:
    """The request scoring ` answer` after `prompt` (module docstring)."""
    context = prompt.rstrip(" ")
    return LoglikelihoodRequest(context, " " * (len(prompt) - len(context) or 1)
                                + answer.strip())


def first_answer(text: str) -> str:
    """A generation's answer: leading whitespace dropped, its first line up to and including
    the first sentence end."""
    line = text.strip().split("\n", 1)[0]
    end = _SENTENCE_END.search(line)
    return (line[: end.end()] if end else line).strip()


class _Scores:
    """One model's answers to every request, looked up by (prompt, answer) or prompt;
    answered through `core.runner.execute_requests` (progress bar, request cache)."""

    def __init__(self, backend: Any, ll: Sequence[LoglikelihoodRequest],
                 gen: Sequence[GenerateRequest], **execute: Any) -> None:
        from lmaudit.core.runner import execute_requests

        answers = execute_requests(backend, [*ll, *gen], **execute) if (ll or gen) else []
        self.ll: dict[LoglikelihoodRequest, LoglikelihoodResult] = {}
        self.gen: dict[str | None, str] = {}
        for r, answer in zip([*ll, *gen], answers, strict=True):
            if isinstance(r, LoglikelihoodRequest) and isinstance(answer, LoglikelihoodResult):
                self.ll[r] = answer
            elif isinstance(r, GenerateRequest) and isinstance(answer, Generation):
                self.gen[r.prompt] = answer.text

    def mean_lp(self, prompt: str, answer: str) -> float:
        result = self.ll[request(prompt, answer)]
        return float(result.logprob) / max(int(result.n_tokens), 1)

    def greedy(self, prompt: str, answer: str) -> float:
        return float(bool(self.ll[request(prompt, answer)].is_greedy))


Rows = dict[tuple[str, str], list[tuple[str, float, float]]]
# (family, measure, edit id, how to score, prompt, answer, competitor)
Check = tuple[str, str, str, str, str, str, str]


def _checks(edits: Sequence[EditCase]) -> list[Check]:
    """Every per-prompt check the edits call for (module docstring)."""
    checks: list[Check] = []
    for e in edits:
        for name, prompts in (("reliability", (e.prompt,)), ("generalization", e.paraphrases)):
            for p in prompts:
                if e.target_true is not None:
                    checks.append((name, "prefers new over old", e.case_id, "prefers", p,
                                   e.target_new, e.target_true))
                    checks.append((name, "margin", e.case_id, "margin", p, e.target_new,
                                   e.target_true))
                checks.append((name, "new target is greedy", e.case_id, "greedy", p,
                               e.target_new, ""))
        for probe in e.neighbourhood:
            if probe.answer is None and e.target_true is not None:
                checks.append(("locality", "keeps old over new", e.case_id, "prefers",
                               probe.prompt, e.target_true, e.target_new))
            elif probe.answer is not None:
                checks.append(("locality", "answer is greedy", e.case_id, "greedy",
                               probe.prompt, probe.answer, ""))
        checks += [("portability", "answer is greedy", e.case_id, "greedy", p.prompt,
                    p.answer or "", "") for p in e.portability]
    return checks


def _value(scores: _Scores, how: str, prompt: str, answer: str, other: str) -> float:
    if how == "greedy":
        return scores.greedy(prompt, answer)
    margin = scores.mean_lp(prompt, answer) - scores.mean_lp(prompt, other)
    return margin if how == "margin" else float(margin > 0)


def _measure(rows: Rows, edits: Sequence[EditCase], before: _Scores, after: _Scores) -> None:
    for name, measure, case, how, prompt, answer, other in _checks(edits):
        rows[(name, measure)].append((case, _value(before, how, prompt, answer, other),
                                      _value(after, how, prompt, answer, other)))


def _requests(edits: Sequence[EditCase], generate: bool
              ) -> tuple[list[LoglikelihoodRequest], list[GenerateRequest]]:
    ll: dict[LoglikelihoodRequest, None] = {}
    gen: dict[GenerateRequest, None] = {}
    short = GenerationParams(max_tokens=LOCALITY_TOKENS)
    long = GenerationParams(max_tokens=GENERATION_TOKENS)
    for e in edits:
        answers = [a for a in (e.target_new, e.target_true) if a is not None]
        for p in (e.prompt, *e.paraphrases):
            ll.update({request(p, a): None for a in answers})
        for probe in e.neighbourhood:
            ll.update({request(probe.prompt, a): None
                       for a in ([probe.answer] if probe.answer else answers)})
            if generate:
                gen[GenerateRequest(probe.prompt, params=short)] = None
        ll.update({request(p.prompt, p.answer or ""): None for p in e.portability})
        if generate:
            gen.update({GenerateRequest(p, params=long): None for p in e.generation_prompts})
    return list(ll), list(gen)


def _metric(name: str, measure: str, rows: list[tuple[str, float, float]]) -> EditMetric:
    cases = np.array([r[0] for r in rows], dtype=object)
    before = np.array([r[1] for r in rows])
    after = np.array([r[2] for r in rows])
    share = measure != "margin"
    estimate = proportion_estimate if share else mean_estimate
    return EditMetric(
        name, measure, "share" if share else "nats/token", len(rows), len(set(cases)),
        estimate(before, clusters=cases), estimate(after, clusters=cases),
        paired_difference(before, after, clusters=cases,
                          bounds=(0.0, 1.0) if share else None),
    )


def evaluate_edits(edits: Sequence[EditCase], before: Any, after: Any, *,
                   before_spec: str, after_spec: str, edits_file: str,
                   show_progress: bool = False, cache: Any = None) -> EditEvaluation:
    """Score every edit on both backends (module docstring) and summarise per measure.
    `cache`: a `core.cache.RequestCache` (answers reused per model fingerprint)."""
    notes: list[str] = []
    generate = all(RequestKind.GENERATE in b.capabilities for b in (before, after))
    if not generate:
        notes.append("a model cannot generate: `answer unchanged` and `mentions new target` "
                     "were not measured")
    ll, gen = _requests(edits, generate)
    execute = {"show_progress": show_progress, "cache": cache}
    scores_before = _Scores(before, ll, gen, **execute)
    scores_after = _Scores(after, ll, gen, **execute)
    rows: Rows = defaultdict(list)
    _measure(rows, edits, scores_before, scores_after)
    metrics = [_metric(name, measure, r) for (name, measure), r in rows.items()]
    unchanged = [(e.case_id, float(first_answer(scores_before.gen[p.prompt])
                                   == first_answer(scores_after.gen[p.prompt])))
                 for e in edits for p in e.neighbourhood if generate]
    if unchanged:
        cases = np.array([c for c, _ in unchanged], dtype=object)
        metrics.append(EditMetric("locality", "answer unchanged", "share", len(unchanged),
                                  len(set(cases)), None,
                                  proportion_estimate([v for _, v in unchanged],
                                                      clusters=cases), None))
    mentions = [(e.case_id, float(e.target_new.lower() in s.gen[p].lower()))
                for e in edits for p in e.generation_prompts if generate
                for s in (scores_before, scores_after)]
    if mentions:
        paired = [(mentions[i][0], mentions[i][1], mentions[i + 1][1])
                  for i in range(0, len(mentions), 2)]
        metrics.append(_metric("generation", "mentions new target", paired))
    missing = [n for n in ("generalization", "locality", "portability")
               if not any(m.name == n for m in metrics)]
    if missing:
        notes.append(f"the edits give no prompts for {', '.join(missing)}")
    metrics.sort(key=lambda m: METRIC_ORDER.index(m.name))
    return EditEvaluation(before_spec, after_spec, edits_file,
                          tuple(dict.fromkeys(e.shape for e in edits)), len(edits),
                          tuple(metrics), tuple(notes))
