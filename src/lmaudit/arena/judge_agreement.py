"""Agreement between several LLM judges on the same items, with bootstrap intervals.

An item is a (prompt, unordered model pair); each judge's label for it combines both
orders (`agreement.judge_verdicts`: first / second / tie of the alphabetically sorted
pair). Cohen's kappa for every pair of judges on the items both labelled; Krippendorff's
alpha (nominal) over all judges, a judge that did not label an item counting as missing.
95% intervals: percentile bootstrap over prompts (all items of a drawn prompt together),
`rounds` resamples from `seed`; resamples where a statistic is undefined are skipped.
Kappa intervals resample the prompts of the items both judges labelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from lmaudit.arena.agreement import judge_verdicts
from lmaudit.arena.judges import Judgment
from lmaudit.core.types import LmauditError
from lmaudit.stats.kappa import (
    bootstrap_kappa,
    cohen_kappa,
    percentile_interval,
    prompt_resample_weights,
)
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
    if len(judges) < 2 or not items:
        raise LmauditError("agreement between judges needs two judges and a parsed verdict")
    item_weights = prompt_resample_weights([key[0] for key in items], rounds, seed)
    units = [[verdicts[name].get(key) for name in judges] for key in items]
    _, per_unit = unit_coincidences(units)
    alpha = float(alpha_from_coincidences(per_unit.sum(axis=0)))
    boot_alpha = alpha_from_coincidences(np.einsum("ri,ijk->rjk", item_weights, per_unit))
    pairs = []
    for a, b in combinations(judges, 2):
        shared = [key for key in items if key in verdicts[a] and key in verdicts[b]]
        if not shared:
            pairs.append(PairKappa(a, b, 0, float("nan"), float("nan"), float("nan")))
            continue
        labels_a = [verdicts[a][key] for key in shared]
        labels_b = [verdicts[b][key] for key in shared]
        low, high = bootstrap_kappa(
            labels_a,
            labels_b,
            [key[0] for key in shared],
            rounds=rounds,
            seed=seed,
            confidence=confidence,
        )
        pairs.append(PairKappa(a, b, len(shared), cohen_kappa(labels_a, labels_b), low, high))
    alpha_low, alpha_high = percentile_interval(boot_alpha, confidence)
    return JudgesAgreement(
        judges=judges,
        n_items=len(items),
        n_prompts=len({key[0] for key in items}),
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
