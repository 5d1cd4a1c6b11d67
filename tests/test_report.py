"""The Report stage end to end on real directories (tests/report_fixtures.py): loading an
audit, cards and their trust level, comparison with adjusted p-values, power, prompt
sensitivity, the sample table, and the three renderers."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.contamination.verdicts import LIMITATIONS
from lmaudit.core.store import load_run
from lmaudit.core.types import LmauditError
from lmaudit.report import (
    AuditReport,
    load_report,
    render_html,
    render_json,
    render_terminal,
    write_html,
)
from lmaudit.report.model import CAUTION, NOT_TRUSTED, TRUSTED
from lmaudit.stats import compare_runs
from lmaudit.stats.multiple import benjamini_hochberg_adjust, holm_adjust, t_test_p_value
from lmaudit.stats.power import proportion_mde
from report_fixtures import INJECTION, LIMIT, make_audit, make_contamination, make_probe, make_run


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_audit(tmp_path_factory.mktemp("report") / "audit")


@pytest.fixture(scope="module")
def report(audit_dir: Path) -> AuditReport:
    return load_report([audit_dir])


def _results(audit_dir: Path, rel: str) -> dict:
    return json.loads((audit_dir / rel / "results.json").read_text())


def test_cards_and_trust(report: AuditReport, audit_dir: Path) -> None:
    assert [(c.model, c.task) for c in report.cards] == [
        ("lab:clean", "arith"), ("lab:dirty", "arith"),
        ("lab:clean", "arith_mc"), ("lab:dirty", "arith_mc")]
    dirty = report.card("lab:dirty", "arith")
    assert dirty.trust.level == NOT_TRUSTED
    assert {"probe drop", "Δ1", "Min-K%"} <= set(dirty.trust.reasons)
    assert "Δ1" in dirty.trust.sentence and "probe" in dirty.trust.sentence
    clean = report.card("lab:clean", "arith")
    assert clean.trust.level == TRUSTED, clean.trust.sentence
    assert clean.contamination is not None and clean.contamination.overall == "no evidence"
    for card, rel in ((clean, "runs/clean/arith"), (dirty, "runs/dirty/arith")):
        stored = _results(audit_dir, rel)["metrics"]["acc_flexible"]
        assert card.score is not None and card.score.metric == "acc_flexible"
        assert card.score.estimate.value == stored["value"]
        assert card.score.estimate.ci_low == stored["ci_low"]
        assert card.cost is not None and card.cost.prompt_tokens == 20 * LIMIT
    for card in (clean, dirty):  # the model-independent corpus scan reaches both cards
        assert card.scan is not None and (card.scan.n_items, card.scan.dirty) == (LIMIT, 3)
    assert dirty.probe is not None and dirty.probe.primary_family is not None
    assert dirty.probe.primary_family.drop.value == -1.0
    assert dirty.probe.primary_family.sets.per_set == (0.0,) * 5
    stored = json.loads((audit_dir / "probes/dirty/probe_results.json").read_text())
    # the probe runner's own ProbeAnalysis, rebuilt: it writes back the same JSON
    assert dirty.probe.analysis.to_dict() == {
        k: v for k, v in stored.items() if k not in ("metric", "skipped_items")}
    mc = report.card("lab:clean", "arith_mc")
    assert mc.calibration is not None and mc.calibration.ece is not None
    assert sum(b.count for b in mc.calibration.bins) == LIMIT
    ece = _results(audit_dir, "runs/clean/arith_mc")["metrics"]["ece"]["value"]
    assert mc.calibration.ece.value == ece
    assert mc.reference is not None and mc.reference.chance == 0.25


def test_unfinished_stages_are_missing_not_fatal(report: AuditReport, audit_dir: Path,
                                                 tmp_path: Path) -> None:
    # the pending corpus scan of arith_mc is model-independent: every arith_mc card says so
    assert report.card("lab:clean", "arith_mc").missing == (
        "contamination scan pending", "probe pending")
    dirty_mc = report.card("lab:dirty", "arith_mc")
    assert dirty_mc.missing == ("contamination scan pending",
                                "contamination failed: backend gives no next-token statistics")
    assert dirty_mc.trust.level == CAUTION and "Not run" in dirty_mc.trust.sentence
    assert [s.state for s in report.stages].count("done") == 10
    # a stage marked done whose directory vanished, and a model with no run at all
    copy = tmp_path / "audit"
    shutil.copytree(audit_dir, copy)
    index = json.loads((copy / "audit.json").read_text())
    index["stages"] += [
        {"id": "run/lab:x/arith", "kind": "run", "model": "lab:x", "task": "arith",
         "variant": None, "dir": "runs/x/arith", "state": "done", "error": None},
        {"id": "run/lab:y/arith", "kind": "run", "model": "lab:y", "task": "arith",
         "variant": None, "dir": None, "state": "running", "error": None}]
    (copy / "audit.json").write_text(json.dumps(index))
    partial = load_report([copy])
    assert partial.card("lab:x", "arith").score is None
    assert partial.card("lab:x", "arith").missing == ("run unreadable",)
    assert partial.card("lab:y", "arith").missing == ("run running",)
    assert any("runs/x/arith" in n for n in partial.notes)
    assert "lab:y" in render_terminal(partial)
    write_html(partial, tmp_path / "partial.html")


def test_comparison_reuses_paired_stats_and_adjusts_all(report: AuditReport,
                                                        audit_dir: Path) -> None:
    rows = report.comparison.rows
    assert {r.task for r in rows} == {"arith", "arith_mc"}
    row = next(r for r in rows if r.task == "arith" and r.metric == "acc_flexible")
    a = load_run(audit_dir / "runs/clean/arith").samples
    b = load_run(audit_dir / "runs/dirty/arith").samples
    expected = compare_runs(a, b, "acc_flexible")
    assert (row.model_a, row.model_b) == ("lab:clean", "lab:dirty")
    assert row.difference.value == pytest.approx(expected.difference.value)
    # arith's items share templates (clusters), so the p-value is the clustered paired t
    # on G - 1 degrees of freedom, not McNemar's (which takes the pairs as independent)
    d = expected.difference
    assert d.n_clusters is not None and 1 < d.n_clusters < d.n and row.test == "paired t"
    assert row.p_value == pytest.approx(t_test_p_value(d.value, d.stderr, d.n_clusters - 1))
    p_values = [r.p_value for r in rows]
    assert [r.p_holm for r in rows] == pytest.approx(holm_adjust(p_values), nan_ok=True)
    assert [r.p_bh for r in rows] == pytest.approx(benjamini_hochberg_adjust(p_values),
                                                   nan_ok=True)
    assert row.p_holm >= row.p_value and row.p_bh >= row.p_value
    power = {p.task: p for p in report.comparison.power}
    mean = (a["acc_flexible"].mean() + b["acc_flexible"].mean()) / 2
    assert power["arith"].n == LIMIT and power["arith"].baseline == pytest.approx(mean)
    assert power["arith"].mde == pytest.approx(proportion_mde(LIMIT, mean))
    assert power["arith"].mde_worst == pytest.approx(0.19810, abs=1e-5)  # n = 100, p = 0.5


def test_prompt_sensitivity(report: AuditReport, audit_dir: Path) -> None:
    (spread,) = report.prompt_sensitivity
    assert (spread.model, spread.task) == ("lab:clean", "arith")
    default = _results(audit_dir, "runs/clean/arith")["metrics"]["acc_flexible"]["value"]
    other = _results(audit_dir, "runs/clean/arith-p2")["metrics"]["acc_flexible"]["value"]
    assert [name for name, _ in spread.variants] == ["default", "prompt-2"]
    assert spread.spread == pytest.approx(abs(default - other)) and spread.spread > 0


def test_sample_table(report: AuditReport, audit_dir: Path) -> None:
    samples = report.samples
    dirs = ["runs/clean/arith", "runs/clean/arith_mc", "probes/clean", "runs/dirty/arith",
            "runs/dirty/arith_mc", "probes/dirty", "runs/clean/arith-p2"]
    assert len(samples) == sum(len(load_run(audit_dir / d).samples) for d in dirs)
    assert INJECTION.strip() in {r.strip() for r in samples.response}
    variants = set(samples.variant)
    assert {"original", "symbolic", "noop", "prompt-2"} <= variants
    i = samples.sample_id.index("arith-test-001-00~symbolic2")
    assert samples.original_id[i] == "arith-test-001-00"
    # clean is wrong on the injected first item, dirty right: they disagree there
    first = [k for k, s in enumerate(samples.sample_id)
             if s == "arith-test-001-00" and samples.runs[samples.run[k]][1] == "arith"
             and samples.variant[k] == "original"]
    assert first and all(samples.disagree[k] for k in first)


def test_html_is_offline_escaped_and_hashed(report: AuditReport) -> None:
    page = render_html(report)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src &#x27;none&#x27;" in csp.group(1)
    assert not re.search(r'(src|href)="(?!#|data:)', page)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    assert "<script>window.__pwned" not in page and "onerror=\"window" not in page
    assert "\\u003cscript>window.__pwned=1\\u003c/script>" in page
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"sha256-{digest}" in csp.group(1)
    assert page.count("<article class=\"card") == len(report.cards)
    # the detectors' measured operating figures stand beside their signals
    assert "Δ1: -0.8" in page and "lab: AUROC 0.93 [0.90, 0.96], TPR@1%FPR 0.41, " \
        "TPR@5%FPR 0.66 (lab, 32 exposures)" in page
    assert html.escape(LIMITATIONS) in page
    block = re.search(r'<script type="application/json" id="lmaudit-samples">(.*?)</script>',
                      page, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert len(data["run"]) == len(report.samples)
    assert INJECTION.strip() in [r.strip() for r in data["response"]]


def test_json_and_terminal_render_the_same_objects(report: AuditReport) -> None:
    payload = render_json(report)
    text = json.dumps(payload, allow_nan=False)
    assert payload["format"] == "lmaudit.report/1"
    assert len(payload["cards"]) == len(report.cards)
    dirty = next(c for c in payload["cards"] if c["model"] == "lab:dirty"
                 and c["task"] == "arith")
    assert dirty["trust"]["level"] == NOT_TRUSTED
    assert payload["samples"]["n"] == len(report.samples)
    assert INJECTION not in text
    terminal = render_terminal(report)
    assert "== lab:dirty · arith  [NOT TRUSTED]" in terminal
    assert "== lab:clean · arith  [TRUSTED]" in terminal
    assert "Δ1" in terminal and "probe drop" in terminal


def test_cli_on_plain_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from report_fixtures import clean_backend

    run = make_run(tmp_path / "run", "arith", clean_backend(), "lab:clean")
    probe = make_probe(tmp_path / "probe", clean_backend(), "lab:clean")
    cont = make_contamination(tmp_path / "cont", "lab:clean", contaminated=False)
    out, js = tmp_path / "r" / "report.html", tmp_path / "r" / "report.json"
    assert main(["report", str(run), str(probe), str(cont), "--out", str(out),
                 "--json", str(js)]) == 0
    printed = capsys.readouterr().out
    assert "== lab:clean · arith" in printed and f"report: {out}" in printed
    payload = json.loads(js.read_text())
    (card,) = payload["cards"]
    assert card["probe"] is not None and card["contamination"]["overall"] == "no evidence"
    assert out.stat().st_size > 10_000
    assert main(["report", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    with pytest.raises(LmauditError, match="not an lmaudit"):
        load_report([tmp_path / "r"])


def test_compressed_data_block_holds_the_same_data(report: AuditReport) -> None:
    import gzip

    from lmaudit.report.viewer import data_block, viewer_data

    block = data_block(report.samples, compress=True)
    payload = block.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in payload
    data = json.loads(gzip.decompress(base64.b64decode(payload)))
    assert data == json.loads(json.dumps(viewer_data(report.samples)))
    assert 'type="application/json"' in data_block(report.samples)  # small: plain JSON


def test_a_probe_run_alone_scores_its_originals(audit_dir: Path) -> None:
    report = load_report([audit_dir / "probes/dirty", audit_dir / "probes/clean"])
    dirty = report.card("lab:dirty", "arith")
    stored = _results(audit_dir, "probes/dirty")["metrics"]["acc_flexible"]
    assert dirty.score is not None and dirty.score.estimate.value == stored["value"]
    assert dirty.score.n_samples == LIMIT
    (row,) = [r for r in report.comparison.rows if r.metric == "acc_flexible"]
    assert row.n_shared == LIMIT  # originals only: variants are not paired across runs
