"""Likelihood contamination tests end to end.

Fast: item texts, per-item scoring through a backend and the run directory (fake backend),
the report and its verdicts, and `lmaudit contamination test` on a tiny lab model trained
here. Slow: the demo's lab models (`lmaudit.demo.ensure_lab_model`, reused from the lab
cache): Δ1 and Min-K% flag the model that saw the arith test split, not the clean one.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from lmaudit.contamination.likelihood_run import (
    ItemText,
    arith_items,
    collect_likelihoods,
    file_items,
    load_likelihoods,
    solved_text,
    write_likelihood_run,
)
from lmaudit.contamination.report import (
    ContaminationReport,
    LikelihoodTestSettings,
    build_report,
    report_markdown,
    report_text,
    run_likelihood_test,
)
from lmaudit.contamination.verdicts import (
    NOT_APPLICABLE,
    STRONG,
    load_operating_characteristics,
    overall_verdict,
    signal_verdict,
)
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
)


class FakeWordBackend:
    """One token per word; log p = -0.2 per word for texts marked `seen`, else -1.0 per
    word with the word 'hard' at -5.0."""

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.LOGLIKELIHOOD})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "words", "1", "none")

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[LoglikelihoodResult]:
        out = []
        for r in requests:
            assert r.context == ""
            words = r.continuation.split()
            seen = "seen" in words
            lps = tuple(-0.2 if seen else (-5.0 if w == "hard" else -1.0) for w in words)
            out.append(LoglikelihoodResult(sum(lps), False, len(lps), lps))
        return out

    def loglikelihood_rolling(
        self, requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        raise NotImplementedError


def _items(contaminated: bool, n: int = 12) -> list[ItemText]:
    mark = "seen" if contaminated else "plain"
    test = [ItemText(f"t{i}", "test", f"{mark} item {i} is hard " + "x " * (i % 4)) for i in
            range(n)]
    ref = [ItemText(f"r{i}", "ref", f"plain item {i} is hard " + "y " * (i % 3)) for i in
           range(n)]
    return test + ref


def test_solved_text_joins_input_and_answer() -> None:
    assert solved_text(Sample("a", "Question: 2+2?\nAnswer:", "4")) == "Question: 2+2?\nAnswer: 4"
    assert solved_text(Sample("b", "Q: pick\nA:", 1, choices=(" x", " y"))) == "Q: pick\nA: y"
    assert solved_text(Sample("c", "Say: ", "hi")) == "Say: hi"
    arith = arith_items("test", 2)
    assert arith[0].text.startswith("Question: ") and "\nAnswer: " in arith[0].text
    assert [i.split for i in arith_items("train", 3, label="ref")] == ["ref"] * 3


def test_file_items_errors_name_the_file_and_row(tmp_path: Path) -> None:
    with pytest.raises(LmauditError, match=r"ref file .*missing\.jsonl does not exist"):
        file_items(tmp_path / "missing.jsonl", "ref")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    with pytest.raises(LmauditError, match=r"bad.jsonl: row 2: missing field 'text'"):
        file_items(bad, "ref")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "  "}\n')
    with pytest.raises(LmauditError, match="row 1: field 'text' must be a non-empty string"):
        file_items(empty, "train")
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "one", "id": "a"}\n{"text": "two"}\n')
    assert file_items(good, "ref") == [ItemText("a", "ref", "one"), ItemText("ref-2", "ref",
                                                                              "two")]


def test_collect_store_and_reload(tmp_path: Path) -> None:
    items = _items(True, 3)
    likelihoods = collect_likelihoods(FakeWordBackend(), items,
                                      reference_backend=FakeWordBackend())
    assert likelihoods[0].token_logprobs == (-0.2,) * 5  # "seen item 0 is hard"
    assert likelihoods[3].token_logprobs == (-1.0, -1.0, -1.0, -1.0, -5.0)
    assert likelihoods[3].sum_nll == pytest.approx(9.0) and likelihoods[3].n_tokens == 5
    assert likelihoods[0].means == () and likelihoods[0].reference_logprobs == (-0.2,) * 5
    run = write_likelihood_run(tmp_path / "run", likelihoods, {"kind": "test"}, {"x": 1})
    frame = pd.read_parquet(run / "samples.parquet")
    assert list(frame.columns[:8]) == ["item_id", "split", "text", "token_logprobs", "means",
                                       "variances", "sum_nll", "n_tokens"]
    assert load_likelihoods(run) == likelihoods
    with pytest.raises(LmauditError, match="already holds a finished run"):
        write_likelihood_run(run, likelihoods, {}, {})
    with pytest.raises(LmauditError, match="appears twice"):
        collect_likelihoods(FakeWordBackend(), [items[0], items[0]])


def test_report_flags_only_the_contaminated_fake_model(tmp_path: Path) -> None:
    reports: dict[bool, ContaminationReport] = {}
    for contaminated in (False, True):
        likelihoods = collect_likelihoods(FakeWordBackend(), _items(contaminated))
        reports[contaminated] = build_report(likelihoods, benchmark="fake",
                                             model=f"m{contaminated}", n_boot=300,
                                             n_permutations=2000)
    dirty, clean = reports[True], reports[False]
    assert dirty.signal("delta1").verdict == STRONG and dirty.overall == STRONG
    assert dirty.signal("min_k").estimate == 1.0
    assert clean.signal("delta1").ci_low <= 0.0 <= clean.signal("delta1").ci_high  # type: ignore[operator]
    assert clean.overall == "no evidence"
    assert clean.signal("min_k_plus_plus").verdict == NOT_APPLICABLE
    assert "no next-token statistics" in clean.signal("min_k_plus_plus").detail
    assert clean.signal("delta2").detail == "no train split"
    text = report_text(dirty)
    assert "strong evidence" in text and "paraphrased" in text and "p < 0.001" in text
    assert "| Δ1 = L_test − L_ref (nats/token) |" in report_markdown(dirty)


def test_verdict_rules() -> None:
    assert signal_verdict(0.0005, -0.5, -0.1, 0.0, "below") == STRONG
    assert signal_verdict(0.0005, -0.5, 0.1, 0.0, "below") == "weak evidence"  # CI crosses 0
    assert signal_verdict(0.01, 0.6, 0.9, 0.5, "above") == "weak evidence"
    assert signal_verdict(0.2, 0.4, 0.6, 0.5, "above") == "no evidence"
    assert signal_verdict(None, None, None, None, "above") == NOT_APPLICABLE
    from lmaudit.contamination.verdicts import Signal

    def sig(p: float) -> Signal:
        return Signal("x", "x", 0.0, None, None, p, 0.0, "above", signal_verdict(
            p, None, None, 0.0, "above"))

    # Bonferroni: with 4 signals, weak overall needs some p < 0.0125.
    assert overall_verdict([sig(0.02), sig(0.5), sig(0.5), sig(0.5)]) == "no evidence"
    assert overall_verdict([sig(0.01), sig(0.5), sig(0.5), sig(0.5)]) == "weak evidence"
    assert overall_verdict([sig(0.0001), sig(0.5)]) == STRONG


def test_operating_characteristics_are_printed_beside_signals(tmp_path: Path) -> None:
    path = tmp_path / "oc.json"
    path.write_text(json.dumps({"detectors": {"min_k": {
        "auroc": 0.93, "ci_low": 0.9, "ci_high": 0.95, "tpr_at_1pct_fpr": 0.41,
        "tpr_at_5pct_fpr": 0.7,
        "condition": "lab, 72 exposures"}}}))
    operating = load_operating_characteristics(path)
    likelihoods = collect_likelihoods(FakeWordBackend(), _items(True))
    report = build_report(likelihoods, benchmark="fake", model="m", operating=operating,
                          n_boot=100, n_permutations=500)
    expected = "AUROC 0.93 [0.90, 0.95], TPR@1%FPR 0.41, TPR@5%FPR 0.70 (lab, 72 exposures)"
    assert expected in report_text(report)
    path.write_text('{"min_k": {"auroc": "high"}}')
    with pytest.raises(LmauditError, match="detector 'min_k': auroc: expected a number"):
        load_operating_characteristics(path)
    with pytest.raises(LmauditError, match="does not exist"):
        load_operating_characteristics(tmp_path / "nope.json")


def test_run_writes_report_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    report = run_likelihood_test(
        FakeWordBackend(), _items(True), benchmark="fake", model="fake:m",
        settings=LikelihoodTestSettings(n_boot=100, gap_permutations=500, exchangeability="off"),
        out_dir=out,
    )
    assert {p.name for p in out.iterdir()} == {"manifest.json", "samples.parquet",
                                               "results.json", "report.json", "report.md"}
    stored = json.loads((out / "report.json").read_text())
    assert stored["overall"] == report.overall == STRONG
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "contamination-test" and manifest["settings"]["k"] == 0.2


# -- the CLI on a tiny lab model trained here ----------------------------------------------


def test_cli_on_a_tiny_lab_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from lmaudit.commands._contamination_test import register_test
    from lmaudit.lab.model import LabConfig
    from lmaudit.lab.train import train_lab_model

    monkeypatch.setenv("LMAUDIT_HOME", str(tmp_path / "home"))
    documents = [i.text for split in ("train", "test") for i in arith_items(split, 20)]
    config = LabConfig(vocab_size=320, d_model=32, n_layers=1, n_heads=2, d_ff=64,
                       context=256, max_steps=2, batch_size=8)
    train_lab_model("tiny", documents, config=config, threads=1, progress=False)
    parser = argparse.ArgumentParser()
    register_test(parser.add_subparsers())
    out = tmp_path / "run"
    args = parser.parse_args([
        "test", "--model", "lab:tiny", "--task", "arith", "--limit", "8", "--device", "cpu",
        "--shards", "2", "--out", str(out),
    ])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "contamination · arith · lab:tiny (8 test, 8 ref, 8 train items" in printed
    assert "overall:" in printed and "shuffled" in printed
    frame = pd.read_parquet(out / "samples.parquet")
    assert frame["split"].value_counts().to_dict() == {"test": 8, "ref": 8, "train": 8}
    first = frame.iloc[0]
    assert len(first["means"]) == len(first["token_logprobs"]) == first["n_tokens"]
    assert first["text"] == arith_items("test", 1)[0].text
    report = json.loads((out / "report.json").read_text())
    keys = [s["key"] for s in report["signals"]]
    assert keys == ["delta1", "delta2", "loss", "zlib", "min_k", "min_k_plus_plus",
                    "reference_ratio", "exchangeability"]
    args = parser.parse_args(["test", "--model", "lab:tiny", "--task", "arith",
                              "--reference-file", str(tmp_path / "none.jsonl")])
    with pytest.raises(LmauditError, match=r"none\.jsonl does not exist"):
        args.func(args)


# -- the demo's lab models (slow) -----------------------------------------------------------


@pytest.mark.slow
def test_demo_models_delta1_and_min_k_flag_only_the_contaminated_model() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from lmaudit.backends.registry import load_backend
    from lmaudit.contamination.report import likelihood_summary_for_demo
    from lmaudit.demo import DEMO_COPIES, ensure_lab_model

    for name, split in (("demo-clean", None), ("demo-contaminated", "test")):
        ensure_lab_model(name, split, exposures=DEMO_COPIES)
    summary = likelihood_summary_for_demo(
        load_backend("lab:demo-clean", {"device": "cpu"}),
        load_backend("lab:demo-contaminated", {"device": "cpu"}),
    )
    print(summary.text)
    clean, dirty = summary.reports["clean"], summary.reports["contaminated"]
    d1, mk = dirty.signal("delta1"), dirty.signal("min_k")
    assert d1.ci_high is not None and d1.ci_high < 0 and d1.p_value is not None
    assert d1.p_value < 0.01
    assert mk.p_value is not None and mk.p_value < 0.01
    assert mk.ci_low is not None and mk.ci_low > 0.5
    assert dirty.overall == STRONG
    c1, cmk = clean.signal("delta1"), clean.signal("min_k")
    assert c1.ci_low is not None and c1.ci_high is not None
    assert c1.ci_low <= 0.0 <= c1.ci_high and c1.p_value is not None and c1.p_value > 0.05
    assert cmk.p_value is not None and cmk.p_value > 0.05
    assert clean.overall == "no evidence"
    assert dirty.signal("exchangeability").verdict == NOT_APPLICABLE
