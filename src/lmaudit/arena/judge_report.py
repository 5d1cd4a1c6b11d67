"""Everything `lmaudit arena judge` reports, computed from the judge's verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lmaudit.arena.agreement import Agreement, human_agreement
from lmaudit.arena.battles import Battles
from lmaudit.arena.judge_agreement import JudgesAgreement, judges_agreement
from lmaudit.arena.judge_bias import JudgeBias, format_judge_bias, judge_bias
from lmaudit.arena.judges import (
    JudgeSummary,
    Judgment,
    ModelOutputs,
    judgments_to_battles,
    summarize_judgments,
)
from lmaudit.arena.lc_winrate import (
    LengthControlledResult,
    estimate_difficulty,
    length_controlled_win_rate,
    preferences_against,
)
from lmaudit.arena.leaderboard import Leaderboard, format_leaderboard
from lmaudit.arena.ranking import RankOptions, rank_battles
from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class JudgeReport:
    judge: str
    summary: JudgeSummary
    battles: Battles
    leaderboard: Leaderboard
    against_baseline: tuple[LengthControlledResult, ...]
    agreement: Agreement | None
    judgments: tuple[Judgment, ...]
    notes: tuple[str, ...] = ()
    bias: JudgeBias | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "summary": asdict(self.summary),
            "leaderboard": self.leaderboard.to_dict(),
            "against_baseline": [asdict(r) for r in self.against_baseline],
            "agreement": asdict(self.agreement) if self.agreement else None,
            "bias": asdict(self.bias) if self.bias else None,
            "judgments": [asdict(j) for j in self.judgments],
            "notes": list(self.notes),
        }


def evaluate_judgments(
    judgments: Sequence[Judgment],
    outputs: Sequence[ModelOutputs],
    *,
    baseline: str | None = None,
    human: Battles | None = None,
    judge: str = "llm-judge",
    strong_weight: int = 3,
    bootstrap: int = 1000,
    seed: int = 0,
    families: Mapping[str, str] | None = None,
    other_judges: Mapping[str, Sequence[Judgment]] | None = None,
) -> JudgeReport:
    """Summary, Bradley-Terry leaderboard, win rates against the baseline, agreement with
    human labels and the judge-bias report (`judge_bias`; `families` maps model names or
    judge specs to families, `other_judges` are other judges' verdicts on the same calls
    for the matched self-preference comparison)."""
    notes: list[str] = []
    battles = judgments_to_battles(judgments, strong_weight=strong_weight, judge=judge)
    options = RankOptions(bootstrap_rounds=bootstrap, seed=seed, workers=1)
    try:
        board = rank_battles(battles, options).leaderboard
    except LmauditError as error:
        if "infinite" not in str(error):
            raise
        board = rank_battles(
            battles, RankOptions(bootstrap_rounds=bootstrap, seed=seed, workers=1, ridge=0.1)
        ).leaderboard
        notes.append("some model won or lost every judged battle: ratings use ridge 0.1")
    results: list[LengthControlledResult] = []
    if baseline is not None:
        by_name = {o.model: o for o in outputs}
        others = [o.model for o in outputs if o.model != baseline]
        prefs = {m: preferences_against(judgments, m, baseline) for m in others}
        difficulty = estimate_difficulty(prefs) if len(others) >= 2 else None
        if difficulty is None:
            notes.append("one model against the baseline: the LC GLM has no difficulty term")
        for model in others:
            if len(prefs[model]) < 3:
                notes.append(f"{model}: fewer than 3 parsed prompts; no win rate")
                continue
            results.append(
                length_controlled_win_rate(
                    prefs[model],
                    by_name[model],
                    by_name[baseline],
                    difficulty=difficulty,
                    bootstrap=bootstrap,
                    seed=seed,
                )
            )
    agreement = (
        human_agreement(judgments, human, rounds=bootstrap, seed=seed)
        if human is not None
        else None
    )
    return JudgeReport(
        judge,
        summarize_judgments(judgments),
        battles,
        board,
        tuple(results),
        agreement,
        tuple(judgments),
        tuple(notes),
        judge_bias(
            judgments,
            outputs,
            judge=judge,
            families=families,
            other_judges=other_judges,
            battles=battles,
        ),
    )


def evaluate_judges(
    judgments: Mapping[str, Sequence[Judgment]],
    outputs: Sequence[ModelOutputs],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    **options: Any,
) -> tuple[list[JudgeReport], JudgesAgreement | None]:
    """One report per judge (each judge's self-preference matched against the others)
    and, with two or more judges, their agreement (kappa per pair, Krippendorff's alpha).
    `options` go to `evaluate_judgments`."""
    reports = [
        evaluate_judgments(
            js,
            outputs,
            judge=name,
            bootstrap=bootstrap,
            seed=seed,
            other_judges={k: v for k, v in judgments.items() if k != name},
            **options,
        )
        for name, js in judgments.items()
    ]
    agreement = (
        judges_agreement(judgments, rounds=bootstrap, seed=seed) if len(judgments) > 1 else None
    )
    return reports, agreement


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def format_judge_report(report: JudgeReport) -> str:
    s = report.summary
    share = s.n_unparseable / s.n_judgments if s.n_judgments else math.nan
    lines = [
        f"judge {report.judge}: {s.n_judgments} judgments, {s.n_unparseable} unparseable "
        f"({_pct(share)})"
    ]
    lines += [f"  unparseable reply (tail): {text!r}" for text in s.unparseable_examples]
    lines.append(
        f"position consistency: {_pct(s.position_consistency)} of "
        f"{s.n_consistency_pairs} prompt pairs judged in both orders; the answer shown "
        f"first wins {_pct(s.first_position_win_rate)} of decisive verdicts"
    )
    lines.append("verdicts: " + ", ".join(f"{k} {v}" for k, v in s.verdict_counts.items()))
    lines.append("")
    lines.append(format_leaderboard(report.leaderboard))
    if report.against_baseline:
        lines.append("")
        lines.append("win rate against the baseline, % with 95% CI (raw; length-controlled):")
        for r in report.against_baseline:
            lines.append(
                f"  {r.model} vs {r.baseline}: {r.win_rate.value:.1f} "
                f"[{r.win_rate.ci_low:.1f}, {r.win_rate.ci_high:.1f}]; LC "
                f"{r.lc_win_rate.value:.1f} [{r.lc_win_rate.ci_low:.1f}, "
                f"{r.lc_win_rate.ci_high:.1f}] (length coefficient {r.length_coefficient:+.2f}, "
                f"{r.n_prompts} prompts)"
            )
    if report.agreement is not None:
        a = report.agreement
        lines.append("")
        lines.append(
            f"agreement with human labels: {a.n} votes, {_pct(a.agreement)} agree, "
            f"Cohen's kappa {a.kappa:.3f} [{a.kappa_ci_low:.3f}, {a.kappa_ci_high:.3f}] "
            f"(95% bootstrap over prompts; {a.n_unmatched} human votes unmatched)"
        )
    if report.bias is not None:
        lines.append("")
        lines.append(format_judge_bias(report.bias))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
