"""The trust rule (report.trust.assess_trust) on hand-made evidence, one rule per test."""

from __future__ import annotations

import math

from lmaudit.contamination.report import ContaminationReport
from lmaudit.contamination.verdicts import NONE, STRONG, WEAK, Signal
from lmaudit.probes.analysis import FamilyResult, ProbeAnalysis, SetSummary
from lmaudit.report.model import (
    CAUTION,
    NOT_TRUSTED,
    TRUSTED,
    ProbeEvidence,
    ScoreEvidence,
)
from lmaudit.report.trust import assess_trust
from lmaudit.stats import Estimate, McNemarResult


def est(value: float, low: float, high: float, n: int = 400) -> Estimate:
    return Estimate(value, low, high, n, "wilson")


SCORE = ScoreEvidence("acc", est(0.80, 0.76, 0.84), True, 400)


def probe(drop: float, low: float, high: float, p: float = 0.01) -> ProbeEvidence:
    family = FamilyResult("symbolic", 400, 10, est(0.8, 0.76, 0.84), est(0.8 + drop, 0, 1),
                          est(drop, low, high), McNemarResult(10, 5, 400, 5.0, p),
                          SetSummary((0.7,) * 10, 0.7, 0.0, 0.7, 0.7), 0.7)
    analysis = ProbeAnalysis(est(0.8, 0.76, 0.84), {"symbolic": family}, 0.7, 400, "symbolic")
    return ProbeEvidence("m", "t", "acc", analysis)


def contamination(overall: str, **verdicts: str) -> ContaminationReport:
    signals = tuple(Signal(k, k, -0.5, -0.6, -0.4, 1e-5, 0.0, "below", v)
                    for k, v in verdicts.items())
    return ContaminationReport("t", "m", None, {"test": 400}, 0.2, signals, overall)


def test_clean_evidence_is_trusted() -> None:
    trust = assess_trust(SCORE, probe(-0.01, -0.03, 0.01), contamination(NONE, delta1=NONE))
    assert trust.level == TRUSTED
    assert trust.sentence.startswith("Can be trusted within its interval")
    assert "±4.0 points" in trust.sentence


def test_material_significant_drop_is_not_trusted() -> None:
    trust = assess_trust(SCORE, probe(-0.30, -0.35, -0.25), None)
    assert trust.level == NOT_TRUSTED
    assert "drops 30.0 points [25.0, 35.0]" in trust.sentence
    assert trust.reasons == ("probe drop",)
    trust = assess_trust(SCORE, probe(-0.30, -0.35, -0.25),
                         contamination(WEAK, delta1=WEAK, min_k=WEAK))
    assert trust.level == NOT_TRUSTED
    assert trust.sentence.endswith("Also: weak contamination evidence (Δ1, Min-K%).")


def test_small_significant_drop_is_caution() -> None:
    trust = assess_trust(SCORE, probe(-0.03, -0.05, -0.01), contamination(NONE))
    assert trust.level == CAUTION and "small but significant probe drop" in trust.sentence


def test_large_but_uncertain_drop_is_not_evidence() -> None:
    trust = assess_trust(SCORE, probe(-0.10, -0.25, 0.05), contamination(NONE))
    assert trust.level == TRUSTED


def test_strong_contamination_names_its_signals() -> None:
    trust = assess_trust(SCORE, None, contamination(STRONG, delta1=STRONG, min_k=STRONG,
                                                    zlib=NONE))
    assert trust.level == NOT_TRUSTED
    assert "(Δ1, Min-K%)" in trust.sentence
    assert trust.reasons == ("Δ1", "Min-K%")


def test_weak_contamination_is_caution() -> None:
    trust = assess_trust(SCORE, probe(0.0, -0.02, 0.02), contamination(WEAK, loss=WEAK))
    assert trust.level == CAUTION and "weak contamination evidence (loss AUROC)" in trust.sentence


def test_extraction_failures_and_wide_interval_and_no_evidence() -> None:
    wide = ScoreEvidence("acc", est(0.5, 0.2, 0.8, 10), True, 10)
    trust = assess_trust(wide, None, None, est(0.25, 0.2, 0.3))
    assert trust.level == CAUTION
    assert "25.0% of answers could not be extracted" in trust.sentence
    assert "±30.0-point interval (n = 10)" in trust.sentence
    assert "no probe or contamination test ran" in trust.sentence
    nan = ScoreEvidence("acc", Estimate(0.5, math.nan, math.nan, 1, "t"), True, 1)
    assert "undefined interval" in assess_trust(nan, None, contamination(NONE)).sentence


def test_missing_score_and_missing_stages() -> None:
    trust = assess_trust(None, None, None, missing=("run failed: boom",))
    assert trust.level == CAUTION and "run failed: boom" in trust.sentence
    trust = assess_trust(SCORE, probe(0.0, -0.02, 0.02), None, missing=("contamination pending",))
    assert trust.level == TRUSTED and trust.sentence.endswith("Not run: contamination pending.")


def test_dirty_corpus_scan_is_caution() -> None:
    from lmaudit.report.model import CorpusScan

    def scan(dirty: int) -> CorpusScan:
        return CorpusScan("t", 100, 30, 2, dirty, 13, 5, 1000, ("13-gram overlap",), "")

    none = contamination(NONE)
    trust = assess_trust(SCORE, probe(0.0, -0.02, 0.02), none, scan=scan(12))
    assert trust.level == CAUTION and "12.0% of the items are in the scanned corpus" in \
        trust.sentence
    trust = assess_trust(SCORE, probe(0.0, -0.02, 0.02), none, scan=scan(4))
    assert trust.level == TRUSTED and "4 of 100 items dirty" in trust.sentence


def test_a_drop_the_exact_test_does_not_confirm_is_no_verdict_against() -> None:
    """On 20 items the clustered interval may exclude 0 while McNemar's p = 0.065: one
    lucky original score must not condemn the model."""
    trust = assess_trust(SCORE, probe(-0.30, -0.55, -0.05, p=0.065), contamination(NONE))
    assert trust.level != NOT_TRUSTED
    assert "probe drop" not in trust.reasons
    assert assess_trust(SCORE, probe(-0.30, -0.55, -0.05, p=0.01), None).level == NOT_TRUSTED
