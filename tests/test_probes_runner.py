"""Probe runs end to end with scripted backends: a pure memorizer and a solver.

The memorizer answers only questions it saw verbatim (the arith test split); the solver
answers every question correctly. Known outcome: the memorizer drops from 100% to 0%
on fresh instances (significant), the solver does not drop at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest

from lmaudit.cli import main
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)
from lmaudit.probes.runner import INSTANCE_SETS_PLOT, PROBE_RESULTS, run_probe
from lmaudit.tasks import arith
from lmaudit.tasks.registry import load_task


class ScriptedBackend:
    """Generation from a function of the prompt; log-likelihood = -(option position)."""

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE, RequestKind.LOGLIKELIHOOD})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", "scripted", "0", "none")

    def generate(
        self, requests: Sequence[GenerateRequest], progress: Callable[[int], None] | None = None
    ) -> list[Generation]:
        return [Generation(" " + self.answer(r.prompt or "")) for r in requests]

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest],
        progress: Callable[[int], None] | None = None,
    ) -> list[LoglikelihoodResult]:
        # prefers the option that is the memorized answer to the question in the context
        return [LoglikelihoodResult(0.0 if r.continuation.strip() == self.answer(r.context)
                                    else -1.0, True, 1) for r in requests]

    def loglikelihood_rolling(
        self, requests: Sequence[RollingLoglikelihoodRequest],
        progress: Callable[[int], None] | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError


def _question(prompt: str) -> str:
    return prompt.split("Question: ", 1)[-1].split("\nAnswer:", 1)[0]


def memorizer() -> ScriptedBackend:
    seen = {item.question: item.answer for item in arith.load_split("test")}
    return ScriptedBackend(lambda prompt: seen.get(_question(prompt), "0"))


def solver(answers: dict[str, str]) -> ScriptedBackend:
    return ScriptedBackend(lambda prompt: answers[_question(prompt)])


@pytest.fixture(scope="module")
def memorizer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("probe") / "mem"
    run_probe(load_task("arith", {}), memorizer(), run_dir, variants=("symbolic", "noop"),
              n_sets=3, limit=40, model_spec="scripted:mem", show_progress=False)
    return run_dir


def test_memorizer_drops_significantly(memorizer_run: Path) -> None:
    result = json.loads((memorizer_run / PROBE_RESULTS).read_text())
    sym = result["families"]["symbolic"]
    assert result["original_accuracy"]["value"] == 1.0
    assert sym["variant_accuracy"]["value"] == 0.0
    assert sym["drop"]["value"] == -1.0
    assert sym["significant"] is True
    assert sym["mcnemar"]["p_value"] == pytest.approx(2 * 0.5**40)
    assert sym["instance_sets"]["per_set"] == [0.0, 0.0, 0.0]
    assert result["families"]["noop"]["drop"]["value"] == -1.0  # clause breaks recall
    assert result["verdict"].startswith("symbolic: significant drop of 100.0 points")
    assert result["metric"] == "acc_flexible"


def test_run_directory_is_a_run_with_linked_rows(memorizer_run: Path) -> None:
    from lmaudit.core.store import load_run

    run = load_run(memorizer_run)
    assert run.manifest["kind"] == "probe"
    assert run.manifest["task_spec"]["probe"]["variants"] == ["symbolic", "noop"]
    assert run.results["n_samples"] == 40  # metrics over the originals
    assert run.results["metrics"]["acc_flexible"]["value"] == 1.0
    frame: pd.DataFrame = run.samples
    assert len(frame) == 40 * (1 + 3 + 1)
    links = [json.loads(e)["probe"] for e in frame["extra"]]
    assert {link["variant"] for link in links} == {"original", "symbolic", "noop"}
    by_id = dict(zip(frame["sample_id"], links, strict=True))
    assert by_id["arith-test-001-00~symbolic2"]["original_id"] == "arith-test-001-00"
    assert frame.set_index("sample_id").loc["arith-test-001-00~symbolic2", "cluster"] == (
        "rates-reading"
    )
    assert (memorizer_run / INSTANCE_SETS_PLOT).stat().st_size > 1000


def test_solver_shows_no_drop(tmp_path: Path) -> None:
    task = load_task("arith", {})
    answers: dict[str, str] = {}
    from lmaudit.probes.runner import build_probe_samples

    samples, _ = build_probe_samples(task.samples()[:40], ["symbolic", "noop"], n_sets=2)
    for s in samples:
        answers[_question(s.input)] = str(s.target)
    outcome = run_probe(task, solver(answers), tmp_path / "solver", variants=("symbolic", "noop"),
                        n_sets=2, limit=40, show_progress=False, plot=False)
    sym = outcome.analysis.families["symbolic"]
    assert sym.drop.value == 0.0 and not sym.significant
    assert sym.mcnemar.p_value == 1.0
    assert outcome.analysis.consistency == 1.0
    assert outcome.analysis.verdict.startswith("symbolic: no significant drop (+0.0 points)")
    assert not (tmp_path / "solver" / INSTANCE_SETS_PLOT).exists()


def test_multiple_choice_probe_with_rotations(tmp_path: Path) -> None:
    outcome = run_probe(load_task("arith_mc", {}), memorizer(), tmp_path / "mc",
                        variants=("symbolic", "permute"), n_sets=2, limit=20,
                        show_progress=False, plot=False)
    fam = outcome.analysis.families["permute"]
    # the memorizer knows every original answer wherever it sits: circular score 1
    assert fam.variant.value == 1.0 and fam.drop.value == 0.0
    assert fam.position_bias is not None
    assert math.isclose(sum(fam.position_bias["pick_rate_by_position"]), 1.0)
    assert outcome.analysis.families["symbolic"].drop.value < 0


def test_cli_generate_lists_bad_templates_and_runs_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "good.yaml").write_text(
        'id: good\nquestion: "{name} has {a} pens and buys {b} more. How many pens now?"\n'
        "variables:\n  name: {vocab: names}\n  a: {int: [2, 9]}\n  b: {int: [2, 9]}\n"
        'answer: "a + b"\noriginal: {name: Ana, a: 3, b: 4}\n'
    )
    (templates / "impossible.yaml").write_text(
        'id: impossible\nquestion: "{a} and {b}?"\nvariables:\n  a: {int: [2, 9]}\n'
        '  b: {int: [2, 9]}\nconditions: ["a + b > 100"]\nanswer: "a + b"\n'
        "original: {a: 3, b: 4}\n"
    )
    (templates / "broken.yaml").write_text("id: broken\nquestion: [unclosed\n")
    out = tmp_path / "out.jsonl"
    code = main(["probe", "generate", "--templates", str(templates), "--n", "3",
                 "--seed", "1", "--out", str(out), "--original"])
    assert code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["instance"] for x in lines] == [0, 100_001, 100_002, 100_003]
    assert lines[0] == {"template_id": "good", "instance": 0,
                        "variables": {"name": "Ana", "a": 3, "b": 4},
                        "question": "Ana has 3 pens and buys 4 more. How many pens now?",
                        "answer": "7"}
    for x in lines:
        assert int(x["answer"]) == x["variables"]["a"] + x["variables"]["b"]
        assert set(x) == {"template_id", "instance", "variables", "question", "answer"}
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "impossible" in err
    assert "4 instances" in err


def test_cli_generate_bundled_arith(tmp_path: Path) -> None:
    out = tmp_path / "arith.jsonl"
    assert main(["probe", "generate", "--templates", "arith", "--n", "0", "--original",
                 "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    first_test = arith.load_split("test", 40)
    assert [x["question"] for x in lines] == [item.question for item in first_test]


def test_cli_run_rejects_inapplicable_family(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "run", "--model", "lab:none", "--task", "arith",
                 "--variants", "permute"])
    assert code == 2
    assert "permute" in capsys.readouterr().err


def test_probe_summary_for_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lmaudit.backends.registry as registry
    from lmaudit.probes import probe_summary_for_demo
    from lmaudit.probes.runner import build_probe_samples
    from lmaudit.probes.summary import DEMO_VARIANTS

    samples, _ = build_probe_samples(load_task("arith", {}).samples()[:16], DEMO_VARIANTS,
                                     n_sets=3)
    answers = {_question(s.input): str(s.target) for s in samples}
    backends = {"x:clean": solver(answers), "x:dirty": memorizer()}
    monkeypatch.setattr(registry, "load_backend", lambda spec, options: backends[spec])
    text = probe_summary_for_demo("x:clean", "x:dirty", tmp_path, n_sets=3, limit=16)
    clean_part, dirty_part = text.split("\n\n")
    assert "== probe · arith · x:clean" in clean_part
    assert "verdict: symbolic: no significant drop (+0.0 points)" in clean_part
    assert "verdict: symbolic: significant drop of 100.0 points" in dirty_part
    assert f"plot: {tmp_path / 'probe-arith-x_dirty' / INSTANCE_SETS_PLOT}" in dirty_part
    # finished runs are reused, not repeated
    backends.clear()
    assert probe_summary_for_demo("x:clean", "x:dirty", tmp_path, n_sets=3, limit=16) == text


def test_cli_run_default_variants_skip_what_does_not_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lmaudit.backends.registry as registry

    monkeypatch.setattr(registry, "load_backend", lambda spec, options: memorizer())
    out = tmp_path / "run"
    assert main(["probe", "run", "--model", "x:mem", "--task", "arith", "--limit", "12",
                 "--sets", "2", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "variant 'permute' does not apply to arith; skipped" in captured.err
    assert "verdict: symbolic: significant drop of 100.0 points" in captured.out
    result = json.loads((out / PROBE_RESULTS).read_text())
    assert list(result["families"]) == ["symbolic", "noop", "reorder"]
    assert result["families"]["reorder"]["meaning_may_change"] is True
    assert (out / INSTANCE_SETS_PLOT).exists() and (out / "samples.parquet").exists()
