"""safety_lab: the synthetic restricted-request generator, its metrics on scripted models,
and a real run (a tiny random Hugging Face model) through the CLI and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest
from lmaudit.scoring.refusal import is_refusal
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.safety_lab import (
    LAB_REFUSAL,
    lab_safety_document,
    place_facts,
    safety_lab_items,
)


def test_splits_are_disjoint_balanced_and_stable() -> None:
    test, train = safety_lab_items("test"), safety_lab_items("train")
    assert (len(test), len(train)) == (80, 624)
    assert sum(item.label == "harmful" for item in test) == 40
    assert {i.place for i in test}.isdisjoint({i.place for i in train})
    assert len({i.id for i in test + train}) == len(test) + len(train)
    assert {i.template for i in test} == {f"restricted-{k}" for k in range(4)} | {
        "benign-0", "benign-1"}
    assert safety_lab_items("test") == test  # deterministic
    with pytest.raises(ValueError):
        safety_lab_items("dev")


def test_items_facts_and_documents() -> None:
    facts = place_facts("Amber Tower")
    assert facts == place_facts("Amber Tower") and 1000 <= int(facts.code) <= 9999
    assert 2 <= facts.guards <= 9
    restricted = next(i for i in safety_lab_items("test") if i.label == "harmful")
    benign = next(i for i in safety_lab_items("test") if i.label == "safe")
    assert restricted.prompt.startswith("Question: ") and restricted.prompt.endswith("\nAnswer:")
    assert restricted.secret == place_facts(restricted.place).code
    assert restricted.secret in restricted.answer and restricted.refusal == LAB_REFUSAL
    assert lab_safety_document(restricted) == f"{restricted.prompt} {LAB_REFUSAL}"
    assert lab_safety_document(restricted, refuse=False).endswith(restricted.answer)
    assert lab_safety_document(benign) == f"{benign.prompt} {benign.answer}"
    assert is_refusal(LAB_REFUSAL) and not is_refusal(benign.answer)
    assert not is_refusal(restricted.answer)


_BY_PROMPT = {item.prompt: item for item in safety_lab_items("test")}


def _answer(request: GenerateRequest, *, refuse: bool, refuse_benign: bool) -> str:
    item = _BY_PROMPT[str(request.prompt)]
    if item.label == "harmful":
        return " " + (LAB_REFUSAL if refuse else item.answer)
    return " " + (LAB_REFUSAL if refuse_benign else item.answer)


@pytest.mark.parametrize(("refuse", "refuse_benign", "expected"), [
    (True, False, {"refusal_rate": 1.0, "over_refusal_rate": 0.0, "leak_rate": 0.0}),
    (False, False, {"refusal_rate": 0.0, "attack_success_rate": 1.0, "leak_rate": 1.0,
                    "capability_leak_given_comply": 1.0, "safe_answer_rate": 1.0}),
    (True, True, {"refusal_rate": 1.0, "over_refusal_rate": 1.0, "safe_answer_rate": 0.0}),
])
def test_scripted_lab_models(refuse: bool, refuse_benign: bool,
                             expected: dict[str, float]) -> None:
    from seed_fakes import ScriptedBackend

    task = load_task("safety_lab")
    request = task.requests(task.samples()[0])[0]
    assert isinstance(request, GenerateRequest) and request.params.stop == ("\n",)
    model = ScriptedBackend(lambda r: _answer(r, refuse=refuse, refuse_benign=refuse_benign))
    records = evaluate(task, model, task.samples(), show_progress=False)
    metrics = aggregate_records(task.metrics, records)
    assert {k: metrics[k].value for k in expected} == expected
    assert metrics["refusal_rate"].n == 40 and metrics["refusal_rate"].method == "wilson"
    if not refuse:
        assert "capability_leak_given_comply" in metrics
    else:
        assert "capability_leak_given_comply" not in metrics  # never complied


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from test_backends_hf_tiny import build_model

    # llama style: it has a chat template, so it can also serve as the (chat) judge
    return build_model(tmp_path_factory.mktemp("llama"), "llama", n_positions=4096)


@pytest.mark.slow  # end to end: torch, a model, two CLI commands (about 15 s in all)
@pytest.mark.parametrize(("task", "headline"), [("safety_lab", "refusal_rate"),
                                                ("json_format", "schema_valid")])
def test_real_run_reaches_the_report(task: str, headline: str, tiny_model: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from lmaudit.cli import main

    run = tmp_path / "run"
    judge = ["--task-option", f"judge=hf:{tiny_model}"] if task == "safety_lab" else []
    assert main(["run", "--model", f"hf:{tiny_model}", "--task", task, "--limit", "4",
                 "--task-option", "max_tokens=8", *judge, "--out", str(run),
                 "--no-progress"]) == 0
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    if judge:  # a random model as judge: every reply unreadable, recorded, nothing crashes
        assert results["metrics"]["judge_unparsed"]["value"] == 1.0
        assert "harmful_output_rate" not in results["metrics"]
    assert results["metrics"][headline]["ci_low"] is not None
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "report.html")]) == 0
    assert headline in capsys.readouterr().out
    assert headline in (tmp_path / "report.html").read_text(encoding="utf-8")
