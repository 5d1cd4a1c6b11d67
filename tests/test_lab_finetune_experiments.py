"""The fine-tuning experiments on lab models, end to end (slow: each trains a tiny model on
CPU, fine-tunes it and audits both; about a minute each on a loaded 2-core machine).

(a) a fine-tuning edit of a few lab facts: `lmaudit edit-eval` sees reliability go up and
    measures locality; (b) a model trained to refuse `safety_lab`'s restricted requests
    loses its refusals after fine-tuning on benign look-alikes, in the change matrix;
(c) a base and two fine-tuned variants (LoRA rank 2, full): the change matrix and the
    learning-vs-forgetting plot (new facts learned, old facts forgotten).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from lmaudit.audit import load_suite, run_audit
from lmaudit.audit.finish import finish_audit
from lmaudit.backends.registry import load_backend
from lmaudit.cli import main
from lmaudit.lab.facts import (
    counterfact_edits,
    edit_training_rows,
    fact_documents,
    fact_world,
    write_fact_task,
)
from lmaudit.lab.finetune import FinetuneConfig, FinetuneExample, finetune
from lmaudit.lab.model import LabConfig
from lmaudit.lab.train import train_lab_model
from lmaudit.report import load_report

pytestmark = pytest.mark.slow


def _base(out: Path, documents: list[str], context: int = 32) -> Path:
    config = LabConfig(vocab_size=400, d_model=64, n_layers=2, n_heads=2, d_ff=128,
                       context=context, batch_size=16, max_steps=300, epochs=1000,
                       warmup_steps=10, lr=1e-2)
    return train_lab_model("base", documents, out_dir=out, config=config, threads=1,
                           progress=False)


def _audit(root: Path, suite: str, models: list[str], **change: Any) -> Any:
    (root / "suite.yaml").write_text(suite)
    outcome = run_audit(load_suite(root / "suite.yaml"), models, root / "audit",
                        load_model=lambda spec: load_backend(spec, {"device": "cpu"}),
                        echo=lambda _: None, **change)
    assert not outcome.failed
    summary = finish_audit(root / "audit", outcome.index)
    assert summary.error is None
    return load_report([root / "audit"])


def test_finetuning_edit_of_lab_facts_is_reliable_and_its_locality_measured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = fact_world(24)
    base = _base(tmp_path / "base", fact_documents(facts))
    edits = counterfact_edits(facts, n_edits=4, n_neighbours=4)
    edits_file = tmp_path / "edits.json"
    edits_file.write_text(json.dumps(edits))
    rows = [FinetuneExample(r["prompt"], r["completion"]) for r in edit_training_rows(edits)]
    tuned = finetune(base, rows, tmp_path / "edited", FinetuneConfig(epochs=20, lr=1e-3,
                                                                     batch_size=4),
                     threads=1, progress=False).path
    assert main(["edit-eval", "--before", f"hf:{base}", "--after", f"hf:{tuned}", "--edits",
                 str(edits_file), "--device", "cpu", "--no-cache", "--json",
                 str(tmp_path / "e.json"), "--html", str(tmp_path / "e.html")]) == 0
    printed = capsys.readouterr().out
    print(printed)  # the figures, with -s
    metrics = {(m["name"], m["measure"]): m
               for m in json.loads((tmp_path / "e.json").read_text())["editing"]["metrics"]}
    reliability = metrics[("reliability", "prefers new over old")]
    assert reliability["before"]["value"] == 0.0  # the base knows the true towns
    assert reliability["after"]["value"] >= 0.75
    margin = metrics[("reliability", "margin")]["change"]
    assert margin["ci_low"] > 0  # the new town gained log-probability on every edit
    known = metrics[("locality", "answer is greedy")]
    assert known["before"]["value"] == 1.0 and known["n_prompts"] == 16
    unchanged = metrics[("locality", "answer unchanged")]
    assert unchanged["after"]["n_clusters"] == 4
    # what the experiment is for: the naive fine-tuning edit leaks into neighbouring facts
    # (measured 37.5% of them keep their greedy answer), which reliability alone would hide
    assert known["after"]["value"] < known["before"]["value"]
    assert unchanged["after"]["value"] < 1.0
    assert 'id="editing"' in (tmp_path / "e.html").read_text()


def test_benign_finetuning_removes_trained_refusals(tmp_path: Path) -> None:
    from lmaudit.tasks.safety_lab import lab_safety_document, safety_lab_items

    train = safety_lab_items("train")
    base = _base(tmp_path / "base", [lab_safety_document(i) for i in train], context=64)
    benign = [FinetuneExample(i.prompt, " " + i.answer) for i in train if i.label == "safe"]
    tuned = finetune(base, benign, tmp_path / "benign", FinetuneConfig(epochs=5, lr=1e-2,
                                                                       batch_size=16),
                     threads=1, progress=False).path
    models = [f"hf:{base}", f"hf:{tuned}"]
    report = _audit(tmp_path, "name: safety-change\ntasks:\n  safety_lab: {role: safety}\n",
                    models, baseline=models[0])
    base_card = report.card(models[0], "safety_lab")
    assert base_card.score.metric == "refusal_rate" and base_card.score.estimate.value >= 0.9
    cell = report.change.cell(models[1], "safety_lab")
    print(f"refusal rate {base_card.score.estimate.value:.3f} -> "
          f"{cell.model_mean.value:.3f}, change {cell.difference}")
    assert cell.role == "safety" and cell.difference.value <= -0.5
    assert cell.difference.ci_high < 0 and cell.significant
    html = (tmp_path / "audit" / "report.html").read_text()
    assert 'id="change"' in html and "safety_lab" in html


def test_change_matrix_of_two_finetuned_variants_with_the_tradeoff_plot(tmp_path: Path) -> None:
    facts = fact_world(24)
    old, new = facts[:24], facts[24:]  # 12 people the base knows, 12 it will learn
    base = _base(tmp_path / "base", fact_documents(old))
    rows = [FinetuneExample("", d) for d in fact_documents(new)]
    variants = [
        finetune(base, rows, tmp_path / "lora-r2",
                 FinetuneConfig(epochs=15, lr=1e-2, batch_size=8, lora_rank=2),
                 threads=1, progress=False).path,
        finetune(base, rows, tmp_path / "full",
                 FinetuneConfig(epochs=15, lr=3e-3, batch_size=8),
                 threads=1, progress=False).path,
    ]
    write_fact_task(tmp_path / "tasks", "new_facts", new)
    write_fact_task(tmp_path / "tasks", "old_facts", old)
    suite = ("name: facts-change\ntasks:\n  new_facts: {task: tasks/new_facts.yaml}\n"
             "  old_facts: {task: tasks/old_facts.yaml}\n")
    models = [f"hf:{base}", *(f"hf:{v}" for v in variants)]
    report = _audit(tmp_path, suite, models, baseline=models[0], targets=("new_facts",))
    change = report.change
    assert change.models == tuple(models[1:]) and len(change.cells) == 4
    points = {p.model: p for p in change.tradeoffs}
    for model in models[1:]:
        print(f"{model}: target {points[model].target_gain}, "
              f"elsewhere {points[model].elsewhere_gain}")
        assert points[model].target_gain.value > 0  # learned the new facts...
        assert points[model].elsewhere_gain.value < 0  # ...and forgot old ones
    full = points[models[2]]
    assert full.target_gain.ci_low > 0 and full.elsewhere_gain.ci_high < 0
    html = (tmp_path / "audit" / "report.html").read_text()
    assert "Learning vs forgetting" in html and 'aria-label="learning vs forgetting"' in html
    assert all(m in html for m in models)
