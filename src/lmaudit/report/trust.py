"""How far a score can be trusted: one level and one plain sentence, from the evidence.

`assess_trust` is a pure function of a card's evidence. Rules, checked in this order:

- **not trusted** when the probe's primary family shows a significant drop of at least
  `MATERIAL_DROP` (5 points), or when the contamination tests
  give strong evidence that the test split was seen. The sentence names every such piece
  of evidence (e.g. "probe drop", "Δ1", "Min-K%"), then ("Also: ...") any reason for caution.
- **caution** when anything weakens the score without refuting it: a significant but small
  probe drop, weak contamination evidence, an extraction-failure rate above
  `HIGH_EXTRACTION_FAILURE` (10%), a corpus scan that finds at least `SCAN_DIRTY_SHARE` (5%)
  of the items dirty in the corpus (Llama-2's rule; the corpus holds them, whether the model
  trained on it is for the likelihood tests to say), an interval wider than
  ±`WIDE_HALF_WIDTH` (10 points), or no memorization evidence at all (no probe, likelihood
  test or scan ran: the interval then only covers sampling error).
- **trusted** otherwise: "within its interval".

A probe drop is significant when both paired tests say so: its clustered 95% interval lies
entirely below 0 and McNemar's exact test gives p < `PROBE_ALPHA` (0.05). The two can
disagree on few items (e.g. 20), where one chance-level original score would otherwise
condemn a model.

Missing or failed stages are not evidence either way; they are named in the sentence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lmaudit.contamination.report import ContaminationReport
from lmaudit.contamination.verdicts import STRONG, WEAK
from lmaudit.report.model import (
    CAUTION,
    NOT_TRUSTED,
    TRUSTED,
    CorpusScan,
    ProbeEvidence,
    ScoreEvidence,
    Trust,
)
from lmaudit.stats import Estimate

MATERIAL_DROP = 0.05
HIGH_EXTRACTION_FAILURE = 0.10
WIDE_HALF_WIDTH = 0.10
SCAN_DIRTY_SHARE = 0.05
PROBE_ALPHA = 0.05

SIGNAL_NAMES = {
    "delta1": "Δ1",
    "delta2": "Δ2",
    "loss": "loss AUROC",
    "zlib": "zlib",
    "min_k": "Min-K%",
    "min_k_plus_plus": "Min-K%++",
    "reference_ratio": "reference ratio",
    "exchangeability": "exchangeability",
}


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _signals_with(evidence: ContaminationReport, verdict: str) -> list[str]:
    return [SIGNAL_NAMES.get(s.key, s.key) for s in evidence.signals if s.verdict == verdict]


def _half_width(estimate: Estimate) -> float:
    if not (math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high)):
        return math.inf
    return (estimate.ci_high - estimate.ci_low) / 2.0


def assess_trust(
    score: ScoreEvidence | None,
    probe: ProbeEvidence | None,
    contamination: ContaminationReport | None,
    extraction_failure: Estimate | None = None,
    missing: Sequence[str] = (),
    scan: CorpusScan | None = None,
) -> Trust:
    """The trust level and sentence of one model × task (rules in the module docstring)."""
    if score is None:
        why = f" ({'; '.join(missing)})" if missing else ""
        return Trust(CAUTION, f"No score to judge: the evaluation run is missing{why}.",
                     ("no score",))
    against: list[str] = []
    reasons: list[str] = []
    doubts: list[str] = []
    family = probe.primary_family if probe is not None else None
    if family is not None and family.drop.ci_high < 0 and family.mcnemar.p_value < PROBE_ALPHA:
        drop = f"{_points(-family.drop.value)} points"
        interval = f"[{_points(-family.drop.ci_high)}, {_points(-family.drop.ci_low)}]"
        if -family.drop.value >= MATERIAL_DROP:
            against.append(f"it drops {drop} {interval} on fresh {family.family} variants of "
                           "the same items (probe)")
            reasons.append("probe drop")
        else:
            doubts.append(f"a small but significant probe drop of {drop}")
            reasons.append("small probe drop")
    if contamination is not None:
        strong = _signals_with(contamination, STRONG)
        if contamination.overall == STRONG:
            against.append("the likelihood tests find strong evidence that the test split "
                           f"was seen in training ({', '.join(strong)})")
            reasons += strong
        elif contamination.overall == WEAK:
            weak = _signals_with(contamination, WEAK)
            doubts.append(f"weak contamination evidence ({', '.join(weak) or 'Bonferroni'})")
            reasons.append("weak contamination evidence")
    if scan is not None and scan.dirty_share >= SCAN_DIRTY_SHARE:
        doubts.append(f"{_points(scan.dirty_share)}% of the items are in the scanned corpus "
                      "(dirty: at least 80% of their words in matching spans)")
        reasons.append("corpus overlap")
    if extraction_failure is not None and extraction_failure.value > HIGH_EXTRACTION_FAILURE:
        doubts.append(f"{_points(extraction_failure.value)}% of answers could not be extracted")
        reasons.append("extraction failures")
    half = _half_width(score.estimate)
    if half > WIDE_HALF_WIDTH:
        width = "an undefined" if math.isinf(half) else f"a wide ±{_points(half)}-point"
        doubts.append(f"{width} interval (n = {score.n_samples})")
        reasons.append("wide interval")
    if probe is None and contamination is None and scan is None:
        doubts.append("no probe or contamination test ran, so the interval covers sampling "
                      "error only, not memorization")
        reasons.append("no memorization evidence")
    tail = f" Not run: {'; '.join(missing)}." if missing else ""
    if against:
        also = f" Also: {'; '.join(doubts)}." if doubts else ""
        return Trust(NOT_TRUSTED, "Not to be trusted: " + "; and ".join(against) + "." + also
                     + tail, tuple(reasons))
    if doubts:
        return Trust(CAUTION, "Trust with caution: " + "; ".join(doubts) + "." + tail,
                     tuple(reasons))
    support = []
    if family is not None:
        support.append(f"no material drop on fresh {family.family} variants "
                       f"({100 * family.drop.value:+.1f} points)")
    if contamination is not None:
        support.append(f"contamination tests: {contamination.overall}")
    if scan is not None:
        support.append(f"{scan.dirty} of {scan.n_items} items dirty in the scanned corpus")
    support.append(f"sampling error ±{_points(half)} points")
    return Trust(TRUSTED, "Can be trusted within its interval: " + "; ".join(support) + "."
                 + tail, tuple(reasons))
