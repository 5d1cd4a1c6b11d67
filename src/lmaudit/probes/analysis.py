"""Paired analysis of probe results: each variant family against the original items.

Input: one `ProbeRow` per scored sample (originals and variants), linked by `original_id`.
Conventions:

- scores are per-sample correctness in [0, 1]; accuracies are shares, drops are in
  accuracy units (the verdict prints them as percentage points);
- an item's *variant score* is the mean of its variant samples' scores over the family's
  instance sets (symbolic, noop, reorder, relabel). For `permute` it is the circular
  score: 1 when the item is correct in the original order and under every rotation;
- `drop` = mean over items of (variant score − original score), a paired t interval with
  CR1 standard errors clustered by `cluster` (the template for templated tasks);
- McNemar's exact test needs one binary pair per item: for a family with several instance
  sets it uses set 0 only (the first fresh instance; every set is an equally valid draw,
  and using one keeps the test exact); for `permute` it pairs original with circular;
- significance: the drop is significant when its interval excludes 0;
- per-set accuracy: accuracy over the items within each instance set; `sd` uses ddof = 1
  (for `permute` the sets are the original order and each rotation);
- consistency: share of items correct in the original and in every variant sample.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmaudit.stats import (
    Estimate,
    McNemarResult,
    mcnemar_exact,
    paired_difference,
    proportion_estimate,
)

ORIGINAL = "original"
CIRCULAR = "permute"


@dataclass(frozen=True)
class ProbeRow:
    """One scored sample of a probe run. `predicted_position`/`target_position`: option
    positions for multiple choice (None otherwise)."""

    original_id: str
    variant: str
    variant_set: int
    cluster: str
    correct: float
    predicted_position: int | None = None
    target_position: int | None = None
    meaning_may_change: bool = False


@dataclass(frozen=True)
class SetSummary:
    """Accuracy across instance sets: mean, sd (ddof = 1; NaN with one set), min, max."""

    per_set: tuple[float, ...]
    mean: float
    sd: float
    minimum: float
    maximum: float

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 6)

        return {
            "per_set": [clean(x) for x in self.per_set],
            "mean": clean(self.mean),
            "sd": clean(self.sd),
            "min": clean(self.minimum),
            "max": clean(self.maximum),
            "n_sets": len(self.per_set),
        }


@dataclass(frozen=True)
class FamilyResult:
    """One variant family compared with the originals of the same items."""

    family: str
    n_items: int
    n_sets: int
    original: Estimate
    variant: Estimate
    drop: Estimate
    mcnemar: McNemarResult
    sets: SetSummary
    consistency: float
    mean_rotation_accuracy: float | None = None
    position_bias: Mapping[str, Any] | None = None
    meaning_may_change: bool = False

    @property
    def significant(self) -> bool:
        return self.drop.ci_low > 0 or self.drop.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "family": self.family,
            "n_items": self.n_items,
            "n_sets": self.n_sets,
            "original_accuracy": self.original.to_dict(),
            "variant_accuracy": self.variant.to_dict(),
            "drop": self.drop.to_dict(),
            "significant": self.significant,
            "mcnemar": {
                "b_original_only": self.mcnemar.b,
                "c_variant_only": self.mcnemar.c,
                "n": self.mcnemar.n,
                "p_value": self.mcnemar.p_value,
            },
            "instance_sets": self.sets.to_dict(),
            "consistency": self.consistency,
            "meaning_may_change": self.meaning_may_change,
            "verdict": verdict(self),
        }
        if self.mean_rotation_accuracy is not None:
            out["mean_rotation_accuracy"] = self.mean_rotation_accuracy
        if self.position_bias is not None:
            out["position_bias"] = dict(self.position_bias)
        return out


@dataclass(frozen=True)
class ProbeAnalysis:
    """Every family's result, the original accuracy, overall consistency and the verdict."""

    original: Estimate
    families: Mapping[str, FamilyResult]
    consistency: float
    n_items: int
    primary: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        if self.primary is None:
            return "no variant family could be evaluated"
        return verdict(self.families[self.primary])

    def to_dict(self) -> dict[str, Any]:
        return {
            "original_accuracy": self.original.to_dict(),
            "n_items": self.n_items,
            "consistency_all_variants": self.consistency,
            "primary_family": self.primary,
            "verdict": self.verdict,
            "families": {name: r.to_dict() for name, r in self.families.items()},
            "notes": list(self.notes),
        }


def verdict(result: FamilyResult) -> str:
    """One line: whether the family's drop is significant, with its interval and p."""
    d = result.drop
    points = 100 * d.value
    span = f"(95% CI [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] points, clustered)"
    p = f"McNemar p = {result.mcnemar.p_value:.2g}"
    tail = f"{span}, {p}, n = {result.n_items} items"
    if d.ci_high < 0:
        return f"{result.family}: significant drop of {-points:.1f} points {tail}"
    if d.ci_low > 0:
        return f"{result.family}: significant rise of {points:.1f} points {tail}"
    return f"{result.family}: no significant drop ({points:+.1f} points) {tail}"


def _set_summary(values: Sequence[float]) -> SetSummary:
    arr = np.asarray(values, dtype=float)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return SetSummary(tuple(float(v) for v in arr), float(arr.mean()), sd,
                      float(arr.min()), float(arr.max()))


def _position_bias(rows: Sequence[ProbeRow], n_options: int) -> dict[str, Any] | None:
    picked = [r.predicted_position for r in rows if r.predicted_position is not None]
    if not picked:
        return None
    picks = np.bincount(np.asarray(picked), minlength=n_options)[:n_options]
    by_target: list[float | None] = []
    for position in range(n_options):
        scores = [r.correct for r in rows if r.target_position == position]
        by_target.append(float(np.mean(scores)) if scores else None)
    return {
        "pick_rate_by_position": (picks / picks.sum()).round(6).tolist(),
        "accuracy_by_target_position": by_target,
        "uniform_rate": 1.0 / n_options,
    }


def analyse_family(
    family: str, originals: Mapping[str, ProbeRow], rows: Sequence[ProbeRow]
) -> FamilyResult | None:
    """One family against the originals of the items it covers (None: no shared items)."""
    by_item: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        if row.original_id in originals:
            by_item[row.original_id][row.variant_set] = row.correct
    items = sorted(by_item)
    if not items:
        return None
    orig = np.array([originals[i].correct for i in items])
    clusters = np.array([originals[i].cluster for i in items], dtype=object)
    sets = sorted({s for i in items for s in by_item[i]})
    rotation_mean = None
    if family == CIRCULAR:
        per_item_all = [[originals[i].correct, *by_item[i].values()] for i in items]
        score = np.array([float(min(v) >= 1.0) for v in per_item_all])
        test_a, test_b = orig, score
        rotation_mean = float(np.mean([np.mean(v) for v in per_item_all]))
        per_set = [orig.mean()] + [
            float(np.mean([by_item[i][s] for i in items if s in by_item[i]])) for s in sets
        ]
        solved_all = score
    else:
        score = np.array([np.mean(list(by_item[i].values())) for i in items])
        first = sets[0]
        keep = np.array([first in by_item[i] for i in items])
        first_set = np.array([by_item[i].get(first, np.nan) for i in items])
        per_set = [float(np.mean([by_item[i][s] for i in items if s in by_item[i]]))
                   for s in sets]
        solved_all = np.array([
            float(originals[i].correct >= 1.0 and min(by_item[i].values()) >= 1.0)
            for i in items
        ])
        test_a, test_b = orig[keep], first_set[keep]
    mcnemar = mcnemar_exact(test_a, test_b)
    variant_scores = [r.correct for r in rows if r.original_id in originals]
    variant_clusters = [originals[r.original_id].cluster for r in rows
                        if r.original_id in originals]
    n_options = max((r.target_position or 0) for r in rows) + 1
    return FamilyResult(
        family=family,
        n_items=len(items),
        n_sets=len(sets),
        original=proportion_estimate(orig, clusters=clusters),
        variant=proportion_estimate(score if family == CIRCULAR else variant_scores,
                                    clusters=clusters if family == CIRCULAR
                                    else np.array(variant_clusters, dtype=object)),
        drop=paired_difference(orig, score, clusters=clusters),
        mcnemar=mcnemar,
        sets=_set_summary(per_set),
        consistency=float(solved_all.mean()),
        mean_rotation_accuracy=rotation_mean,
        position_bias=_position_bias(
            [*rows, *originals.values()], n_options) if family == CIRCULAR else None,
        meaning_may_change=any(r.meaning_may_change for r in rows),
    )


def analyse_probe(rows: Sequence[ProbeRow], primary: str | None = None) -> ProbeAnalysis:
    """Analyse a probe run. `primary` names the family the verdict speaks for (default:
    `symbolic` when present, else the first family in row order)."""
    originals = {r.original_id: r for r in rows if r.variant == ORIGINAL}
    if not originals:
        raise ValueError("probe analysis needs the original samples (variant 'original')")
    families: dict[str, list[ProbeRow]] = defaultdict(list)
    for row in rows:
        if row.variant != ORIGINAL:
            families[row.variant].append(row)
    results: dict[str, FamilyResult] = {}
    notes: list[str] = []
    for name, family_rows in families.items():
        result = analyse_family(name, originals, family_rows)
        if result is None:
            notes.append(f"{name}: no variant shares an item with the originals")
            continue
        results[name] = result
    ids = sorted(originals)
    solved: dict[str, bool] = {i: originals[i].correct >= 1.0 for i in ids}
    for row in rows:
        if row.variant != ORIGINAL and row.original_id in solved and row.correct < 1.0:
            solved[row.original_id] = False
    clusters = np.array([originals[i].cluster for i in ids], dtype=object)
    if primary is None and results:
        primary = "symbolic" if "symbolic" in results else next(iter(results))
    if primary is not None and primary not in results:
        raise ValueError(f"primary family {primary!r} has no results")
    return ProbeAnalysis(
        original=proportion_estimate([originals[i].correct for i in ids], clusters=clusters),
        families=results,
        consistency=float(np.mean([solved[i] for i in ids])),
        n_items=len(ids),
        primary=primary,
        notes=tuple(notes),
    )
