"""How biased one LLM judge is: position flips, length slope, self-preference.

Conventions (every judgment is a call with `first` shown as A; levels +2 .. -2 from A):
- Position-flip rate: among (prompt, model pair) items judged in both orders with both
  verdicts parsed, the share whose two verdicts, read from the same model's side, differ
  in sign (a win in one order and a loss or tie in the other): 1 - position consistency.
  95% interval: clustered by prompt (`proportion_estimate`).
- Length slope: logistic regression, over parsed decisive verdicts (ties dropped), of
  "the answer shown first wins" on (characters of the first answer - characters of the
  second) / 100, with an intercept (the position bias at equal length). The slope is in
  log-odds per 100 characters; its interval is normal with the cluster-robust (CR1, by
  prompt) sandwich standard error. None when the lengths never differ, the verdicts all
  go one way, or the length difference separates wins from losses (infinite MLE).
- Self-preference: the judge's family and the models' families come from `family_of`.
  Over parsed verdicts between an own-family and an other-family answer, the own-family
  answer scores 1 (win), 1/2 (tie) or 0 (loss); the win rate is their mean, clustered by
  prompt. The matched comparison takes the same calls (prompt, order, pair) judged by
  other judges and reports the mean of (this judge's score - the other judges' mean
  score): positive means this judge favours its own family more than its peers do.
  The raw win rate mixes bias with quality; only the matched comparison separates them.
- The length slope is an association: when the longer answers are also the better ones,
  quality shows up in the slope too. Compare it with the length-controlled win rates.
- Position term: with the judge's battles (shown-first model as model_a, strong verdicts
  weighted as in the leaderboard), Bradley-Terry with a first-shown advantage h
  (`position_bt`): the position bias after the models' strengths are accounted for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from lmaudit.arena.battles import Battles
from lmaudit.arena.families import family_of
from lmaudit.arena.judges import Judgment, ModelOutputs, paired_levels
from lmaudit.arena.position_bt import PositionTerm, fit_position_bt
from lmaudit.core.types import LmauditError
from lmaudit.stats.intervals import Estimate, mean_estimate, proportion_estimate
from lmaudit.stats.validation import normal_quantile

LENGTH_UNIT = 100.0  # characters per unit of the length difference


@dataclass(frozen=True)
class LengthSlope:
    """Log-odds that the first answer wins, per 100 characters of length difference."""

    value: float
    ci_low: float
    ci_high: float
    stderr: float
    intercept: float  # log-odds that the first answer wins at equal length
    n: int
    n_clusters: int
    confidence: float


@dataclass(frozen=True)
class SelfPreference:
    family: str
    own_models: tuple[str, ...]
    win_rate: Estimate  # own-family answer's score against other-family answers
    matched: Estimate | None  # this judge minus other judges on the same calls
    matched_against: tuple[str, ...]


@dataclass(frozen=True)
class JudgeBias:
    judge: str
    judge_family: str
    flip_rate: Estimate | None
    length_slope: LengthSlope | None
    self_preference: SelfPreference | None
    notes: tuple[str, ...] = ()
    position_term: PositionTerm | None = None


def position_flip_rate(judgments: Sequence[Judgment], confidence: float = 0.95) -> Estimate | None:
    """Share of items judged in both orders whose verdict changes with the order."""
    table = paired_levels(judgments)
    if not len(table):
        return None
    both = table.dropna(subset=["x_first", "y_first"])
    if not len(both):
        return None
    flips = np.sign(both["x_first"].astype(float)) != np.sign(both["y_first"].astype(float))
    return proportion_estimate(
        flips.to_numpy(dtype=float), confidence, clusters=both["prompt_id"].astype(str).to_numpy()
    )


def logistic_cluster_fit(
    x: np.ndarray, y: np.ndarray, clusters: np.ndarray, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray] | None:
    """Logistic regression of 0/1 `y` on `x` (n, k) by Newton; coefficients and the CR1
    cluster-robust covariance (G / (G - 1) small-sample factor). None when the fit does
    not converge to finite values (separation)."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = x.T @ (y - p)
        hess = (x * (p * (1 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.abs(beta).max() > 50:
            return None
        if np.abs(step).max() < 1e-10:
            break
    else:
        return None
    p = expit(x @ beta)
    bread = np.linalg.inv((x * (p * (1 - p))[:, None]).T @ x)
    _, codes = np.unique(clusters, return_inverse=True)
    groups = int(codes.max()) + 1
    scores = np.zeros((groups, x.shape[1]))
    np.add.at(scores, codes, x * (y - p)[:, None])
    factor = groups / (groups - 1) if groups > 1 else math.nan
    cov = factor * bread @ (scores.T @ scores) @ bread
    return beta, cov


def length_slope(
    judgments: Sequence[Judgment], outputs: Sequence[ModelOutputs], confidence: float = 0.95
) -> LengthSlope | None:
    """Length slope of the judge's first-wins verdicts (module docstring)."""
    lengths = {
        (o.model, pid): len(answer) for o in outputs for pid, (_, answer) in o.answers.items()
    }
    rows = [
        (
            (lengths[(j.first, j.prompt_id)] - lengths[(j.second, j.prompt_id)]) / LENGTH_UNIT,
            1.0 if j.level > 0 else 0.0,
            j.prompt_id,
        )
        for j in judgments
        if j.level and (j.first, j.prompt_id) in lengths and (j.second, j.prompt_id) in lengths
    ]
    if len(rows) < 3:
        return None
    diff = np.array([r[0] for r in rows])
    wins = np.array([r[1] for r in rows])
    clusters = np.array([r[2] for r in rows], dtype=object)
    if np.all(diff == diff[0]) or wins.min() == wins.max() or len(set(clusters)) < 2:
        return None
    fit = logistic_cluster_fit(np.column_stack([np.ones(len(diff)), diff]), wins, clusters)
    if fit is None:
        return None
    beta, cov = fit
    se = math.sqrt(max(float(cov[1, 1]), 0.0))
    z = normal_quantile(confidence)
    return LengthSlope(
        value=float(beta[1]),
        ci_low=float(beta[1] - z * se),
        ci_high=float(beta[1] + z * se),
        stderr=se,
        intercept=float(beta[0]),
        n=len(rows),
        n_clusters=len(set(clusters)),
        confidence=confidence,
    )


def _own_scores(judgments: Sequence[Judgment], own: set[str]) -> dict[tuple[str, str, str], float]:
    """(prompt, first, second) -> score of the own-family answer, for mixed calls."""
    scores: dict[tuple[str, str, str], float] = {}
    for j in judgments:
        if j.level is None or ((j.first in own) == (j.second in own)):
            continue
        first_score = 1.0 if j.level > 0 else 0.0 if j.level < 0 else 0.5
        scores[(j.prompt_id, j.first, j.second)] = (
            first_score if j.first in own else 1.0 - first_score
        )
    return scores


def self_preference(
    judgments: Sequence[Judgment],
    family: str,
    families: Mapping[str, str] | None = None,
    other_judges: Mapping[str, Sequence[Judgment]] | None = None,
    confidence: float = 0.95,
) -> SelfPreference | None:
    """Own-family win rate and its matched comparison with other judges (module docstring)."""
    models = {m for j in judgments for m in (j.first, j.second)}
    own = {m for m in models if family_of(m, families) == family}
    mine = _own_scores(judgments, own)
    if not own or not mine:
        return None
    keys = list(mine)
    win_rate = proportion_estimate(
        [mine[k] for k in keys], confidence, clusters=[k[0] for k in keys]
    )
    others = {name: _own_scores(js, own) for name, js in (other_judges or {}).items()}
    diffs, prompts = [], []
    for key in keys:
        peer = [scores[key] for scores in others.values() if key in scores]
        if peer:
            diffs.append(mine[key] - float(np.mean(peer)))
            prompts.append(key[0])
    matched = mean_estimate(diffs, confidence, clusters=prompts) if len(diffs) >= 2 else None
    return SelfPreference(
        family=family,
        own_models=tuple(sorted(own)),
        win_rate=win_rate,
        matched=matched,
        matched_against=tuple(sorted(n for n, s in others.items() if set(s) & set(mine))),
    )


def judge_bias(
    judgments: Sequence[Judgment],
    outputs: Sequence[ModelOutputs],
    *,
    judge: str,
    families: Mapping[str, str] | None = None,
    other_judges: Mapping[str, Sequence[Judgment]] | None = None,
    battles: Battles | None = None,
    confidence: float = 0.95,
) -> JudgeBias:
    """Position-flip rate, length slope and self-preference of one judge's verdicts, and
    the Bradley-Terry position term when the judge's `battles` are given."""
    notes: list[str] = []
    term = None
    if battles is not None:
        try:
            term = fit_position_bt(battles, confidence=confidence)
        except LmauditError:
            try:
                term = fit_position_bt(battles, confidence=confidence, ridge=0.1)
                notes.append("position term: some model won or lost every battle; ridge 0.1")
            except LmauditError:
                notes.append("position term: no finite estimate (the first answer always won)")
    family = family_of(judge, families)
    flips = position_flip_rate(judgments, confidence)
    if flips is None:
        notes.append("no item was judged in both orders with both verdicts parsed: no flip rate")
    slope = length_slope(judgments, outputs, confidence)
    if slope is None:
        notes.append(
            "no length slope: too few decisive verdicts, no length differences, or verdicts "
            "that the length difference separates perfectly"
        )
    preference = self_preference(judgments, family, families, other_judges, confidence)
    if preference is None:
        notes.append(f"no judged model is of the judge's family {family!r} (set one with --family)")
    elif preference.matched is None:
        notes.append("self-preference is unmatched: no other judge rated the same calls")
    return JudgeBias(judge, family, flips, slope, preference, tuple(notes), term)


def _interval(e: Estimate, percent: bool = True) -> str:
    if percent:
        return f"{e.value:.1%} [{e.ci_low:.1%}, {e.ci_high:.1%}]"
    return f"{e.value:+.3f} [{e.ci_low:+.3f}, {e.ci_high:+.3f}]"


def format_judge_bias(bias: JudgeBias) -> str:
    """The judge-bias section of the judge report (95% intervals in brackets)."""
    lines = [f"judge bias ({bias.judge}, family {bias.judge_family!r}), 95% intervals:"]
    if bias.flip_rate is not None:
        lines.append(
            f"  position flips: {_interval(bias.flip_rate)} of {bias.flip_rate.n} items "
            "judged in both orders change verdict when the answers swap places"
        )
    if bias.length_slope is not None:
        s = bias.length_slope
        lines.append(
            f"  length slope: {s.value:+.3f} [{s.ci_low:+.3f}, {s.ci_high:+.3f}] log-odds that "
            f"the first answer wins per 100 characters longer (intercept {s.intercept:+.3f}; "
            f"{s.n} decisive verdicts, {s.n_clusters} prompts)"
        )
    if bias.position_term is not None:
        t = bias.position_term
        lines.append(
            f"  position term (Bradley-Terry, first shown): {t.value:+.3f} "
            f"[{t.ci_low:+.3f}, {t.ci_high:+.3f}] log-odds; at equal strength the first "
            f"answer wins {t.first_win_probability:.1%}"
        )
    if bias.self_preference is not None:
        p = bias.self_preference
        lines.append(
            f"  self-preference: own-family answers ({', '.join(p.own_models)}) win "
            f"{_interval(p.win_rate)} of {p.win_rate.n} verdicts against other families"
        )
        if p.matched is not None:
            lines.append(
                f"    matched with {', '.join(p.matched_against)} on the same calls: "
                f"{_interval(p.matched, percent=False)} (this judge's own-family score minus "
                f"theirs, {p.matched.n} calls)"
            )
    lines += [f"  note: {n}" for n in bias.notes]
    return "\n".join(lines)
