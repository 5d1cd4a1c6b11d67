"""Plain verdicts for contamination signals, with documented thresholds.

Signals (all one-sided: the alternative is "the test split was seen in training"):

- `delta1`, `delta2`: Skywork loss gaps (`loss_gaps`), nats/token; contamination side: < 0.
  p: permutation test of the split labels.
- `loss`, `zlib`, `min_k`, `min_k_plus_plus`, `reference_ratio`: AUROC of test-item scores
  against ref-item scores (`membership.compare_scores`); contamination side: > 0.5.
  p: one-sided Mann–Whitney.
- `exchangeability`: Oren et al. permutation p-value of the canonical order (no interval).

Per signal:

- **strong evidence**: p < 0.001 AND the 95% interval lies entirely on the contamination
  side of the null value (gaps: upper bound < 0; AUROC: lower bound > 0.5). For
  exchangeability, which has no interval: permutation p < 0.001.
- **weak evidence**: p < 0.05, and not strong.
- **no evidence**: p ≥ 0.05.
- **not applicable**: the test could not run or its assumptions fail (reasons are given).

Overall, per benchmark and model: **strong evidence** if any signal is strong; **weak
evidence** if any signal has p < 0.05 / m (Bonferroni over the m signals that have a
p-value); otherwise **no evidence**. "No evidence" is not proof of cleanliness: see
`LIMITATIONS`.

Operating characteristics (optional): a JSON file written by the detector validation lab,
`{"detectors": {"<signal key>": {"auroc": 0.95, "ci_low": 0.92, "ci_high": 0.97,
"tpr_at_1pct_fpr": 0.40, "tpr_at_5pct_fpr": 0.71, "condition": "lab, 72 exposures"}}}`
(the field names of `validation.roc.OperatingCharacteristics.to_dict`; the `detectors`
wrapper may be omitted; every field is optional; unknown fields are ignored). Signal keys:
delta1, delta2, loss, zlib, min_k, min_k_plus_plus, reference_ratio, exchangeability. The
report prints the figures beside each signal so that a reader knows how well that detector
is known to work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.contamination.exchangeability import ExchangeabilityResult
from lmaudit.contamination.loss_gaps import LossGap
from lmaudit.contamination.membership import ScoreComparison
from lmaudit.core.types import LmauditError

ALPHA_STRONG = 0.001
ALPHA_WEAK = 0.05
STRONG = "strong evidence"
WEAK = "weak evidence"
NONE = "no evidence"
NOT_APPLICABLE = "not applicable"

SIGNAL_LABELS: Mapping[str, str] = {
    "delta1": "Δ1 = L_test − L_ref (nats/token)",
    "delta2": "Δ2 = L_test − L_train (nats/token)",
    "loss": "loss (−mean NLL): AUROC test vs ref",
    "zlib": "zlib ratio: AUROC test vs ref",
    "min_k": "Min-K%: AUROC test vs ref",
    "min_k_plus_plus": "Min-K%++: AUROC test vs ref",
    "reference_ratio": "reference-model ratio: AUROC test vs ref",
    "exchangeability": "exchangeability (canonical order)",
}

THRESHOLDS_NOTE = (
    "Verdicts: strong = one-sided p < 0.001 and the 95% interval entirely on the "
    "contamination side (gaps < 0, AUROC > 0.5; exchangeability: permutation p < 0.001); "
    "weak = p < 0.05; no evidence = p >= 0.05. Overall: strong if any signal is strong, "
    "weak if any p < 0.05/m (Bonferroni over the m signals with a p-value)."
)
LIMITATIONS = (
    "These likelihood checks score the exact text, so they are blind to translated leaks "
    "and nearly blind to paraphrased ones: in lmaudit's validation lab, word-mapped "
    "'translations' sat at AUROC ~0.50 under every detector, and paraphrases sharing no "
    "13-gram reached only 0.6-0.75 after 32 exposures (verbatim copies: 0.9-1.0). Δ1 and the "
    "AUROCs assume the ref split is drawn from the same distribution as the test split. "
    "They say whether items were seen, not whether the score was raised by it."
)


@dataclass(frozen=True)
class Signal:
    """One row of the report. `side` is `below` (gaps) or `above` (AUROC, exchangeability
    statistic) the `null_value`; `detail` holds extra figures or the reasons for N/A."""

    key: str
    label: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    null_value: float | None
    side: str
    verdict: str
    detail: str = ""


def signal_verdict(
    p_value: float | None,
    ci_low: float | None,
    ci_high: float | None,
    null_value: float | None,
    side: str,
) -> str:
    """The per-signal rule of the module docstring (no interval: judged on p alone)."""
    if p_value is None or math.isnan(p_value):
        return NOT_APPLICABLE
    if ci_low is None or ci_high is None or null_value is None:
        beyond = True
    elif side == "below":
        beyond = ci_high < null_value
    else:
        beyond = ci_low > null_value
    if p_value < ALPHA_STRONG and beyond:
        return STRONG
    return WEAK if p_value < ALPHA_WEAK else NONE


def gap_signal(gap: LossGap) -> Signal:
    detail = (f"L = {gap.loss_a:.4f} vs {gap.loss_b:.4f} nats/token; "
              f"{gap.n_items_a} vs {gap.n_items_b} items; p by {gap.p_method} permutation "
              f"({gap.n_permutations})")
    return Signal(
        gap.name, SIGNAL_LABELS.get(gap.name, gap.name), gap.value, gap.ci_low, gap.ci_high,
        gap.p_value, 0.0, "below",
        signal_verdict(gap.p_value, gap.ci_low, gap.ci_high, 0.0, "below"), detail,
    )


def comparison_signal(comparison: ScoreComparison) -> Signal:
    detail = (f"mean score test {comparison.mean_test:.4g} vs ref {comparison.mean_ref:.4g}; "
              f"p: Mann-Whitney, {comparison.n_test} vs {comparison.n_ref} items")
    return Signal(
        comparison.name, SIGNAL_LABELS.get(comparison.name, comparison.name), comparison.auroc,
        comparison.ci_low, comparison.ci_high, comparison.p_value, 0.5, "above",
        signal_verdict(comparison.p_value, comparison.ci_low, comparison.ci_high, 0.5, "above"),
        detail,
    )


def missing_signal(key: str, reason: str) -> Signal:
    return Signal(key, SIGNAL_LABELS.get(key, key), None, None, None, None, None, "above",
                  NOT_APPLICABLE, reason)


def exchangeability_signal(result: ExchangeabilityResult | None) -> Signal:
    """Permutation p decides; the t-test p is shown beside it. Not applicable when the
    applicability check failed, even if the test was forced (its p-value is then shown)."""
    if result is None:
        return missing_signal("exchangeability", "not run")
    p = result.permutation_p_value
    parts = [f"{result.n_shards} shards x {result.n_permutations} shuffles"]
    if result.t_p_value is not None:
        parts.append(f"t = {result.t_statistic:.3g}, t-test p = {result.t_p_value:.3g}")
    if result.permutation_method:
        parts.append(f"p by {result.permutation_method} permutation")
    if not result.applicable:
        forced = f" (forced run: p = {p:.3g})" if p is not None else ""
        return Signal(
            "exchangeability", SIGNAL_LABELS["exchangeability"], result.mean_statistic,
            None, None, None, 0.0, "above", NOT_APPLICABLE,
            "; ".join(result.reasons) + forced,
        )
    return Signal(
        "exchangeability", SIGNAL_LABELS["exchangeability"], result.mean_statistic, None, None,
        p, 0.0, "above", signal_verdict(p, None, None, 0.0, "above"), "; ".join(parts),
    )


def overall_verdict(signals: Sequence[Signal]) -> str:
    """Strong if any signal is strong; weak if any p < 0.05 / m (Bonferroni); else none."""
    tested = [s for s in signals if s.verdict != NOT_APPLICABLE and s.p_value is not None]
    if not tested:
        return NOT_APPLICABLE
    if any(s.verdict == STRONG for s in tested):
        return STRONG
    if any((s.p_value or 1.0) < ALPHA_WEAK / len(tested) for s in tested):
        return WEAK
    return NONE


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Measured quality of one detector (from the validation lab); fields may be None.
    `ci_low`/`ci_high` bound the AUROC; `condition` says what was measured (e.g. exposures)."""

    auroc: float | None = None
    tpr_at_1pct_fpr: float | None = None
    tpr_at_5pct_fpr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    condition: str = ""

    def describe(self) -> str:
        parts = []
        if self.auroc is not None:
            interval = ("" if self.ci_low is None or self.ci_high is None
                        else f" [{self.ci_low:.2f}, {self.ci_high:.2f}]")
            parts.append(f"AUROC {self.auroc:.2f}{interval}")
        for label, value in (("TPR@1%FPR", self.tpr_at_1pct_fpr),
                             ("TPR@5%FPR", self.tpr_at_5pct_fpr)):
            if value is not None:
                parts.append(f"{label} {value:.2f}")
        text = ", ".join(parts)
        return f"{text} ({self.condition})" if self.condition and text else text


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LmauditError(f"{where}: expected a number, got {value!r}")
    return float(value)


def parse_operating_characteristics(
    payload: Any, source: str = "operating characteristics"
) -> dict[str, OperatingCharacteristics]:
    """`{signal key: OperatingCharacteristics}` from the JSON shape in the module docstring."""
    table = payload.get("detectors", payload) if isinstance(payload, dict) else None
    if not isinstance(table, dict):
        raise LmauditError(f"{source}: expected a JSON object of detectors")
    out: dict[str, OperatingCharacteristics] = {}
    for key, entry in table.items():
        if not isinstance(entry, dict):
            raise LmauditError(f"{source}: detector {key!r}: expected an object")
        where = f"{source}: detector {key!r}"
        numbers = {
            name: _number(entry.get(name), f"{where}: {name}")
            for name in ("auroc", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "ci_low", "ci_high")
        }
        out[str(key)] = OperatingCharacteristics(
            **numbers, condition=str(entry.get("condition", ""))
        )
    return out


def load_operating_characteristics(path: str | Path) -> dict[str, OperatingCharacteristics]:
    """Read the validation lab's JSON file (LmauditError naming the file when unusable)."""
    file = Path(path)
    if not file.is_file():
        raise LmauditError(f"operating characteristics file {file} does not exist")
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LmauditError(f"{file}: not valid JSON ({error})") from None
    return parse_operating_characteristics(payload, str(file))


def default_operating_path() -> Path:
    """Where `lmaudit contamination validate` installs the figures that every later
    contamination verdict prints beside its signals (`<LMAUDIT_HOME>/contamination/`, or
    `$LMAUDIT_OPERATING_CHARACTERISTICS`)."""
    import os

    from lmaudit.lab.paths import lmaudit_home

    explicit = os.environ.get("LMAUDIT_OPERATING_CHARACTERISTICS")
    if explicit:
        return Path(explicit).expanduser()
    return lmaudit_home() / "contamination" / "operating_characteristics.json"


def load_default_operating_characteristics() -> dict[str, OperatingCharacteristics]:
    """The installed lab figures, or an empty mapping when none were measured here yet."""
    path = default_operating_path()
    return load_operating_characteristics(path) if path.is_file() else {}
