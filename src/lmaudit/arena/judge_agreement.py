"""Agreement between several LLM judges on the same items, with bootstrap intervals.

An item is a (prompt, unordered model pair); each judge's label for it combines both
orders (`agreement.judge_verdicts`: first / second / tie of the alphabetically sorted
pair). Cohen's kappa for every pair of judges on the items both labelled; Krippendorff's
alpha (nominal) over all judges, a judge that did not label an item counting as missing.
95% intervals: percentile bootstrap over prompts (all items of a drawn prompt together),
`rounds` resamples from `seed`; resamples where a statistic is undefined are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from lmaudit.arena.agreement import LABELS, cohen_kappa, judge_verdicts
from lmaudit.arena.judges import Judgment
from lmaudit.stats.krippendorff import alpha_from_coincidences, unit_coincidences


@dataclass(frozen=True)
class PairKappa:
    judge_a: str
    judge_b: str
    n: int  # items both judges labelled
    kappa: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class JudgesAgreement:
    judges: tuple[str, ...]
    n_items: int
    n_prompts: int
    alpha: float  # Krippendorff's alpha, nominal
    alpha_ci_low: float
    alpha_ci_high: float
    pairs: tuple[PairKappa, ...]
    rounds: int
    confidence: float


def _kappa_from_confusion(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of confusion tables (..., labels, labels); NaN where undefined."""
    n = table.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(table, axis1=-2, axis2=-1) / n
        expected = np.sum(table.sum(axis=-1) * table.sum(axis=-2), axis=-1) / (n * n)
        kappa = (observed - expected) / (1 - expected)
    return np.asarray(np.where((n > 0) & (expected < 1), kappa, np.nan))


def _percentile(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def judges_agreement(
    judgments: Mapping[str, Sequence[Judgment]],
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> JudgesAgreement:
    """Cohen's kappa per pair of judges and Krippendorff's alpha over all of them."""
    judges = tuple(judgments)
    verdicts = {name: judge_verdicts(js) for name, js in judgments.items()}
    items = sorted({key for v in verdicts.values() for key in v})
    prompts, prompt_of = np.unique([key[0] for key in items], return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(prompts), np.full(len(prompts), 1 / len(prompts)), rounds)
    # weight of each item in each resample: the count of its prompt
    item_weights = draws[:, prompt_of].astype(float)  # (rounds, items)
    units = [[verdicts[name].get(key) for name in judges] for key in items]
    _, per_unit = unit_coincidences(units)
    alpha = float(alpha_from_coincidences(per_unit.sum(axis=0)))
    boot_alpha = alpha_from_coincidences(np.einsum("ri,ijk->rjk", item_weights, per_unit))
    pairs = []
    code = {label: i for i, label in enumerate(LABELS)}
    for a, b in combinations(judges, 2):
        shared = [i for i, key in enumerate(items) if key in verdicts[a] and key in verdicts[b]]
        if not shared:
            pairs.append(PairKappa(a, b, 0, float("nan"), float("nan"), float("nan")))
            continue
        labels_a = [verdicts[a][items[i]] for i in shared]
        labels_b = [verdicts[b][items[i]] for i in shared]
        one_hot = np.zeros((len(shared), len(LABELS), len(LABELS)))
        one_hot[
            np.arange(len(shared)), [code[x] for x in labels_a], [code[x] for x in labels_b]
        ] = 1
        boot = _kappa_from_confusion(np.einsum("ri,ijk->rjk", item_weights[:, shared], one_hot))
        low, high = _percentile(boot, confidence)
        pairs.append(PairKappa(a, b, len(shared), cohen_kappa(labels_a, labels_b), low, high))
    alpha_low, alpha_high = _percentile(boot_alpha, confidence)
    return JudgesAgreement(
        judges=judges,
        n_items=len(items),
        n_prompts=len(prompts),
        alpha=alpha,
        alpha_ci_low=alpha_low,
        alpha_ci_high=alpha_high,
        pairs=tuple(pairs),
        rounds=rounds,
        confidence=confidence,
    )


def format_judges_agreement(result: JudgesAgreement) -> str:
    """Krippendorff's alpha and the pairwise kappas, with bootstrap intervals."""
    lines = [
        f"agreement between {len(result.judges)} judges on {result.n_items} items "
        f"({result.n_prompts} prompts; {result.confidence:.0%} bootstrap intervals over "
        f"prompts, {result.rounds} rounds):",
        f"  Krippendorff's alpha (nominal): {result.alpha:.3f} "
        f"[{result.alpha_ci_low:.3f}, {result.alpha_ci_high:.3f}]",
    ]
    for p in result.pairs:
        lines.append(
            f"  Cohen's kappa {p.judge_a} vs {p.judge_b}: {p.kappa:.3f} "
            f"[{p.ci_low:.3f}, {p.ci_high:.3f}] ({p.n} items)"
        )
    return "\n".join(lines)
