"""Audits end to end with an in-process memorizer: audit.json, one model load per model,
failures recorded, and a killed audit that resumes without recomputing finished stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit_fakes import MemorizerBackend
from lmaudit.audit import load_suite, run_audit
from lmaudit.audit.index import AUDIT_JSON, read_index, write_index
from lmaudit.audit.journaled import JournaledBackend
from lmaudit.audit.stages import StageContext
from lmaudit.core.journal import JOURNAL
from lmaudit.core.types import GenerateRequest, LmauditError

MODELS = ["fake:a", "fake:b"]
STAGE_KEYS = {"id", "kind", "model", "task", "variant", "dir", "state", "error"}


class Loader:
    """Builds a fresh MemorizerBackend per load and remembers every one."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.backends: dict[str, MemorizerBackend] = {}
        self.loads: list[str] = []

    def __call__(self, spec: str) -> MemorizerBackend:
        if spec.endswith("broken"):
            raise OSError("no weights at /models/broken\nsecond line")
        self.loads.append(spec)
        self.backends[spec] = MemorizerBackend(spec, **self.kwargs)
        return self.backends[spec]

    def requests(self) -> int:
        return sum(sum(b.calls.values()) for b in self.backends.values())


def _audit(out: Path, loader: Loader, models: list[str] = MODELS, suite: str = "demo",
           limit: int = 6) -> Any:
    return run_audit(load_suite(suite), models, out, load_model=loader, limit=limit,
                     command=["lmaudit", "audit", "--suite", suite], echo=lambda _: None)


def test_audit_json_indexes_every_stage(tmp_path: Path) -> None:
    loader = Loader()
    outcome = _audit(tmp_path / "audit", loader)
    assert loader.loads == MODELS  # each model loaded once for all its stages...
    assert all(b.closed for b in loader.backends.values())  # ...and freed afterwards
    raw = json.loads((tmp_path / "audit" / AUDIT_JSON).read_text())
    assert set(raw) == {"format", "suite", "models", "command", "created", "lmaudit_version",
                        "references", "stages"}
    assert raw["format"] == "lmaudit.audit/1"
    assert raw["suite"] == {"name": "demo", "path": None, "sha256": load_suite("demo").sha256}
    assert raw["models"] == MODELS and raw["command"][:2] == ["lmaudit", "audit"]
    assert raw["references"]["arith_mc"] == {"chance": 0.25, "human": None}
    assert len(raw["stages"]) == 10 and not outcome.failed
    for stage in raw["stages"]:
        assert set(stage) == STAGE_KEYS and stage["state"] == "done" and stage["error"] is None
        assert (tmp_path / "audit" / stage["dir"] / "manifest.json").is_file()
    kinds = {(s["kind"], s["variant"]) for s in raw["stages"]}
    assert kinds == {("run", None), ("probe", "symbolic+noop"), ("probe", "symbolic"),
                     ("contamination", "likelihood")}
    probe_dir = tmp_path / "audit/probes/a/arith-symbolic+noop"
    probe = json.loads((probe_dir / "probe_results.json").read_text())
    assert probe["families"]["symbolic"]["drop"]["value"] == -1.0  # the memorizer collapses
    report = json.loads((tmp_path / "audit/contamination/a/arith/report.json").read_text())
    assert report["overall"] != "no evidence"  # 6 items: weak or strong


def _truncate_journal(run_dir: Path, keep: int) -> int:
    """Keep the first `keep` journal lines; returns how many were dropped."""
    lines = (run_dir / JOURNAL).read_text().splitlines(keepends=True)
    (run_dir / JOURNAL).write_text("".join(lines[:keep]))
    return len(lines) - keep


def _kill_stage(audit: Path, stage_id: str, keep: int, *, remove: tuple[str, ...]) -> int:
    """Make a stage look like an audit was killed in it: partial journal, no results,
    `running` in audit.json."""
    index = read_index(audit)
    assert index is not None
    run_dir = audit / index.stage(stage_id).dir
    for name in remove:
        (run_dir / name).unlink()
    write_index(audit, index.with_state(stage_id, "running"))
    return _truncate_journal(run_dir, keep)


def test_a_killed_audit_resumes_and_never_recomputes_finished_stages(tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    first = Loader()
    _audit(audit, first)
    probe_dir = audit / "probes/a/arith-symbolic+noop"
    before = {
        "probe": json.loads((probe_dir / "probe_results.json").read_text()),
        "run": json.loads((audit / "runs/b/arith/results.json").read_text())["metrics"],
        "samples": pd.read_parquet(audit / "runs/b/arith/samples.parquet"),
    }
    untouched = audit / "runs/a/arith_mc/results.json"
    stamp = untouched.stat().st_mtime_ns
    missing = _kill_stage(audit, "probe/fake:a/arith/symbolic+noop", 20,
                          remove=("results.json", "samples.parquet", "probe_results.json"))
    missing += _kill_stage(audit, "run/fake:b/arith", 2,
                           remove=("results.json", "samples.parquet"))
    assert json.loads((audit / AUDIT_JSON).read_text())["stages"][1]["state"] == "running"

    second = Loader()
    outcome = _audit(audit, second)
    assert outcome.computed == ("probe/fake:a/arith/symbolic+noop", "run/fake:b/arith")
    assert len(outcome.skipped) == 8
    assert second.requests() == missing  # only the answers the killed stages had not journaled
    assert untouched.stat().st_mtime_ns == stamp
    after_probe = json.loads((probe_dir / "probe_results.json").read_text())
    assert after_probe["families"] == before["probe"]["families"]
    assert json.loads((audit / "runs/b/arith/results.json").read_text())["metrics"] == \
        before["run"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(audit / "runs/b/arith/samples.parquet").drop(columns="latency_s",
                                                                     errors="ignore"),
        before["samples"].drop(columns="latency_s", errors="ignore"))
    assert {s.state for s in outcome.index.stages} == {"done"}

    third = Loader()
    assert _audit(audit, third).computed == () and third.loads == []  # nothing left to load


def test_a_failed_stage_is_recorded_and_the_audit_goes_on(tmp_path: Path) -> None:
    loader = Loader()
    outcome = _audit(tmp_path / "audit", loader, models=["fake:a", "fake:broken"], limit=4)
    index = read_index(tmp_path / "audit")
    assert index is not None
    states = {s.id: (s.state, s.error) for s in index.stages}
    assert states["run/fake:a/arith"] == ("done", None)
    state, error = states["probe/fake:broken/arith/symbolic+noop"]
    assert state == "failed"
    assert error == "model fake:broken could not be loaded: OSError: no weights at /models/broken"
    assert len(outcome.failed) == 5


def test_another_suite_models_or_limit_in_the_same_directory_is_refused(tmp_path: Path) -> None:
    _audit(tmp_path / "audit", Loader(), models=["fake:a"], limit=2)
    with pytest.raises(LmauditError, match="another suite"):
        _audit(tmp_path / "audit", Loader(), models=["fake:a"], suite="knowledge")
    with pytest.raises(LmauditError, match="same --model list"):
        _audit(tmp_path / "audit", Loader(), models=["fake:a", "fake:b"], limit=2)
    loader = Loader()
    with pytest.raises(LmauditError, match=r"run/fake:a/arith was computed with limit 2, not 3"):
        _audit(tmp_path / "audit", loader, models=["fake:a"], limit=3)
    assert loader.loads == []


def test_prompt_variants_and_a_stage_error_in_a_suite_file(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("""
tasks:
  arith:
    prompts: [{name: terse, template: "Solve.\\n{input}"}]
    probes: [{name: choices, variants: [permute]}]
""")
    loader = Loader()
    outcome = _audit(tmp_path / "audit", loader, models=["fake:a"], suite=str(suite), limit=3)
    index = read_index(tmp_path / "audit")
    assert index is not None
    variant = index.stage("prompt_variant/fake:a/arith/terse")
    assert (variant.state, variant.dir) == ("done", "runs/a/arith@terse")
    prompts = pd.read_parquet(tmp_path / "audit" / variant.dir / "samples.parquet")["prompt"]
    assert all(p.startswith("Solve.\nQuestion:") for p in prompts)
    probe = index.stage("probe/fake:a/arith/choices")  # permute needs multiple choice
    assert probe.state == "failed" and "multiple-choice" in (probe.error or "")
    assert outcome.failed == ("probe/fake:a/arith/choices",)


def test_journaled_backend_answers_journaled_requests_itself(tmp_path: Path) -> None:
    requests = [GenerateRequest(prompt=f"Question: q{i}\nAnswer:") for i in range(10)]
    inner = MemorizerBackend()
    with JournaledBackend(inner, tmp_path, chunk_size=4) as journaled:
        first = journaled.generate(requests[:6])
    assert inner.calls["generate"] == 6
    again = MemorizerBackend()
    with JournaledBackend(again, tmp_path, chunk_size=4) as journaled:
        answers = journaled.generate(requests)
        assert (journaled.reused, journaled.sent) == (6, 4)
    assert again.calls["generate"] == 4 and answers[:6] == first
    assert StageContext().cache is None


def test_a_corpus_scan_runs_once_without_a_model(tmp_path: Path) -> None:
    from lmaudit.tasks import arith

    leaked = arith.load_split("test", 2)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": f"{arith.format_document(x)}"})
                              + "\n" for i, x in enumerate(leaked)))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "tasks:\n  arith:\n    contamination: {scan: {corpus: [corpus.jsonl], ngram: 8}}\n")
    loader = Loader()
    outcome = _audit(tmp_path / "audit", loader, models=["fake:a"], suite=str(suite), limit=4)
    scan = outcome.index.stage("contamination/-/arith/scan")
    assert (scan.model, scan.state, scan.dir) == (None, "done", "contamination-scan/arith")
    summary = json.loads((tmp_path / "audit" / scan.dir / "summary.json").read_text())
    assert summary["counts"]["items"] == 4 and summary["corpus_documents"] == 2
    assert summary["settings"]["n"] == 8
    assert loader.loads == ["fake:a"]  # for its run; the scan needs no model


def test_the_end_of_an_audit_with_a_failing_report_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lmaudit.audit.finish as finish

    outcome = _audit(tmp_path / "audit", Loader(), models=["fake:a"], limit=2)

    def unreadable(paths: list[Path], *_: object) -> None:
        raise LmauditError(f"{paths[0]}/runs/a/arith is unreadable")

    monkeypatch.setattr(finish.report, "load_report", unreadable)
    summary = finish.finish_audit(tmp_path / "audit", outcome.index)
    assert summary.html is None and "is unreadable" in (summary.error or "")
    assert "the report could not be built" in summary.text
    assert "done     run/fake:a/arith " in summary.text and "runs/a/arith" in summary.text


EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"


@pytest.mark.skipif(not (EXTERNAL / "gsm_symbolic" / "templates").is_dir()
                    or not (EXTERNAL / "gsm8k" / "test.jsonl").is_file(),
                    reason="needs ../shared/external/gsm8k and gsm_symbolic (absent here)")
def test_the_reasoning_suite_probes_gsm8k_with_the_published_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    monkeypatch.setenv("LMAUDIT_GSM_SYMBOLIC_DIR", str(EXTERNAL / "gsm_symbolic" / "templates"))
    suite = load_suite("reasoning")
    gsm8k = next(t for t in suite.tasks if t.task == "gsm8k")  # the others need the hub
    suite = replace(suite, tasks=(replace(gsm8k, options={"data": str(EXTERNAL / "gsm8k")}),))
    outcome = run_audit(suite, ["fake:a"], tmp_path / "audit", load_model=Loader(), limit=2,
                        echo=lambda _: None)
    assert outcome.failed == ()
    stage = outcome.index.stage("probe/fake:a/gsm8k/gsm-symbolic")
    result = json.loads((tmp_path / "audit" / stage.dir / "probe_results.json").read_text())
    assert list(result["families"]) == ["symbolic", "p1", "p2", "noop", "noop_numeric"]
    assert result["families"]["symbolic"]["instance_sets"]["n_sets"] == 50


def test_a_task_s_own_reference_lines_fill_in_where_the_suite_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lmaudit.audit.stages as stages

    real = stages._load_task

    class WithReferences:
        def __init__(self, task: Any) -> None:
            self.task = task

        def __getattr__(self, name: str) -> Any:
            return getattr(self.task, name)

        def references(self) -> dict[str, Any]:
            return {"chance": 0.25, "human": {"expert": 0.8}}

    monkeypatch.setattr(stages, "_load_task",
                        lambda t, extra=None: WithReferences(real(t, extra)))
    suite = tmp_path / "suite.yaml"
    suite.write_text("tasks:\n  arith: {}\n  arith_mc: {references: {chance: 0.3}}\n")
    outcome = _audit(tmp_path / "audit", Loader(), models=["fake:a"], suite=str(suite), limit=2)
    expected = {"arith": {"chance": 0.25, "human": {"expert": 0.8}},
                "arith_mc": {"chance": 0.3, "human": None}}  # the suite's own lines win
    assert outcome.index.references == expected
    again = _audit(tmp_path / "audit", Loader(), models=["fake:a"], suite=str(suite), limit=2)
    assert again.computed == ()
    assert json.loads((tmp_path / "audit" / AUDIT_JSON).read_text())["references"] == expected
