"""Judge-human agreement: raw agreement and Cohen's kappa on 3-way verdicts.

The judge's verdict on a (prompt, model pair) combines both orders: the sum of the two
levels (each from the same model's side) decides, positive for one model, negative for the
other, zero a tie; with one order parsed that one decides. Human labels are battles with a
`prompt_id` (`tie (bothbad)` counts as a tie); each human vote is compared with the judge.

Cohen's kappa (`lmaudit.stats.kappa`) = (p_o - p_e) / (1 - p_e), p_o the observed agreement
and p_e the agreement expected from the two raters' label frequencies alone (NaN when
p_e = 1). Its 95% interval
is a percentile bootstrap over prompts (all votes of a drawn prompt together; resamples
where kappa is undefined are skipped; NaN bounds with fewer than two usable resamples).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lmaudit.arena.battles import Battles
from lmaudit.arena.judges import Judgment, paired_levels
from lmaudit.core.types import LmauditError
from lmaudit.stats.kappa import bootstrap_kappa, cohen_kappa

LABELS = ("first", "second", "tie")  # of the alphabetically sorted pair (x, y)


def judge_verdicts(judgments: Sequence[Judgment]) -> dict[tuple[str, str, str], str]:
    """(prompt_id, x, y) -> first / second / tie, combining both orders (x < y by name)."""
    verdicts: dict[tuple[str, str, str], str] = {}
    table = paired_levels(judgments)
    for prompt_id, x, y, x_first, y_first in zip(
        table["prompt_id"].tolist(),
        table["model_x"].tolist(),
        table["model_y"].tolist(),
        table["x_first"].tolist(),
        table["y_first"].tolist(),
        strict=True,
    ):
        levels = [float(v) for v in (x_first, y_first) if v is not None and v == v]
        if not levels:
            continue
        total = sum(levels)
        label = "first" if total > 0 else "second" if total < 0 else "tie"
        verdicts[(str(prompt_id), str(x), str(y))] = label
    return verdicts


@dataclass(frozen=True)
class Agreement:
    n: int
    agreement: float
    kappa: float
    confusion: Mapping[str, Mapping[str, int]]  # human label -> judge label -> votes
    n_unmatched: int
    kappa_ci_low: float = float("nan")
    kappa_ci_high: float = float("nan")


def human_agreement(
    judgments: Sequence[Judgment], human: Battles, *, rounds: int = 1000, seed: int = 0
) -> Agreement:
    """Compare the judge with human votes on the same prompts and model pairs (kappa with
    a bootstrap interval over prompts, `rounds` resamples from `seed`)."""
    if "prompt_id" not in human.frame.columns:
        raise LmauditError(f"{human.source}: human labels need a prompt_id column")
    verdicts = judge_verdicts(judgments)
    judge_labels: list[str] = []
    human_labels: list[str] = []
    vote_prompts: list[str] = []
    unmatched = 0
    frame = human.frame
    for prompt_id, model_a, model_b, winner, count in zip(
        frame["prompt_id"],
        frame["model_a"],
        frame["model_b"],
        frame["winner"],
        frame["count"].astype(int),
        strict=True,
    ):
        x, y = sorted((str(model_a), str(model_b)))
        key = (str(prompt_id), x, y)
        if key not in verdicts:
            unmatched += int(count)
            continue
        if winner in ("tie", "tie (bothbad)"):
            label = "tie"
        else:
            label = "first" if (model_a if winner == "model_a" else model_b) == x else "second"
        judge_labels.extend([verdicts[key]] * int(count))
        human_labels.extend([label] * int(count))
        vote_prompts.extend([str(prompt_id)] * int(count))
    if not human_labels:
        raise LmauditError(f"{human.source}: no human vote matches a judged prompt and pair")
    low, high = bootstrap_kappa(
        human_labels, judge_labels, vote_prompts, rounds=max(rounds, 2), seed=seed
    )
    confusion = {h: {j: 0 for j in LABELS} for h in LABELS}
    for h, j in zip(human_labels, judge_labels, strict=True):
        confusion[h][j] += 1
    return Agreement(
        n=len(human_labels),
        agreement=float(np.mean(np.array(human_labels) == np.array(judge_labels))),
        kappa=cohen_kappa(human_labels, judge_labels),
        confusion=confusion,
        n_unmatched=unmatched,
        kappa_ci_low=low,
        kappa_ci_high=high,
    )
