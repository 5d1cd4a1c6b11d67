"""Judge-human agreement: raw agreement and Cohen's kappa on 3-way verdicts.

The judge's verdict on a (prompt, model pair) combines both orders: the sum of the two
levels (each from the same model's side) decides, positive for one model, negative for the
other, zero a tie; with one order parsed that one decides. Human labels are battles with a
`prompt_id` (`tie (bothbad)` counts as a tie); each human vote is compared with the judge.

Cohen's kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement and p_e the agreement
expected from the two raters' label frequencies alone (NaN when p_e = 1). Its 95% interval
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

LABELS = ("first", "second", "tie")  # of the alphabetically sorted pair (x, y)


def cohen_kappa(rater_a: Sequence[str], rater_b: Sequence[str]) -> float:
    """Cohen's kappa of two raters' labels for the same items."""
    if len(rater_a) != len(rater_b) or not rater_a:
        raise LmauditError("kappa needs two equally long, non-empty label lists")
    a, b = np.asarray(rater_a, dtype=object), np.asarray(rater_b, dtype=object)
    observed = float(np.mean(a == b))
    categories = sorted(set(a) | set(b))
    expected = sum(float(np.mean(a == c)) * float(np.mean(b == c)) for c in categories)
    return (observed - expected) / (1 - expected) if expected < 1 else float("nan")


def kappa_from_confusion(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of confusion tables (..., labels, labels) of counts or weights; NaN
    where undefined (no items, or p_e = 1)."""
    table = np.asarray(table, dtype=float)
    n = table.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(table, axis1=-2, axis2=-1) / n
        expected = np.sum(table.sum(axis=-1) * table.sum(axis=-2), axis=-1) / (n * n)
        kappa = (observed - expected) / (1 - expected)
    return np.asarray(np.where((n > 0) & (expected < 1), kappa, np.nan))


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap replicates (NaN with fewer than two)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def prompt_resample_weights(prompts: Sequence[str], rounds: int, seed: int) -> np.ndarray:
    """(rounds, items) weights: how often each item's prompt is drawn in each resample of
    the distinct prompts with replacement (seeded)."""
    distinct, index = np.unique(np.asarray(prompts, dtype=str), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(distinct), np.full(len(distinct), 1 / len(distinct)), rounds)
    return np.asarray(draws[:, index], dtype=float)


def bootstrap_kappa(
    rater_a: Sequence[str],
    rater_b: Sequence[str],
    prompts: Sequence[str],
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa, resampling prompts."""
    categories = {c: i for i, c in enumerate(sorted(set(rater_a) | set(rater_b)))}
    one_hot = np.zeros((len(rater_a), len(categories), len(categories)))
    one_hot[
        np.arange(len(rater_a)), [categories[x] for x in rater_a], [categories[x] for x in rater_b]
    ] = 1.0
    weights = prompt_resample_weights(prompts, rounds, seed)
    return percentile_interval(
        kappa_from_confusion(np.einsum("ri,ijk->rjk", weights, one_hot)), confidence
    )


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
