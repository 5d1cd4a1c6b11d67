"""GSM-Symbolic on real GSM8K: templates linked to their GSM8K items, probe runs with the
symbolic, p1 and p2 families (issue 12). The published templates and GSM8K are read from
../shared/external; tests that need them skip with one message when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.types import Sample
from lmaudit.probes.linked_templates import (
    link_templates,
    load_links,
    normalize_question,
    template_variants,
)
from lmaudit.probes.runner import PROBE_RESULTS, run_probe
from lmaudit.probes.templates import parse_gsm_symbolic
from lmaudit.tasks.registry import load_task
from test_probes_runner import ScriptedBackend, _question

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"
TEMPLATES = EXTERNAL / "gsm_symbolic" / "templates"
GSM8K_TEST = EXTERNAL / "gsm8k" / "test.jsonl"
needs_shared = pytest.mark.skipif(
    not (TEMPLATES.is_dir() and GSM8K_TEST.is_file()),
    reason=f"GSM-Symbolic templates or GSM8K absent from {EXTERNAL} (external data)",
)


def gsm_sample(sample_id: str, question: str, answer: str = "x\n#### 5") -> Sample:
    return Sample(sample_id, f"Question: {question}\nAnswer:", answer,
                  metadata={"fields": {"question": question, "answer": answer}})


def record(question: str) -> dict[str, str]:
    return {"question": question, "answer": "#### 5", "question_annotated":
            "{name,Ana} has {x,2} pens and {y,3} cups. How many things?\n#init:\n"
            "- name = sample(names)\n- $x = range(2, 9)\n- $y = range(2, 9)\n#answer: x + y"}


def test_questions_are_compared_without_case_spacing_or_punctuation() -> None:
    assert normalize_question("Janet’s  ducks lay 16 eggs. ") == "janet s ducks lay 16 eggs"
    assert normalize_question("Janet's ducks lay 16 eggs") == "janet s ducks lay 16 eggs"
    assert normalize_question("A\u00a0B?") == "a b"


def test_every_template_links_or_is_listed_with_its_reason() -> None:
    samples = [gsm_sample("0", "Ana has 2 pens and 3 cups. How many things?"),
               gsm_sample("1", "Twice asked?"), gsm_sample("2", "twice  asked")]
    templates = [
        parse_gsm_symbolic(record("Ana has 2 pens and 3 cups.  How many things?"), "t/a",
                           "symbolic"),
        parse_gsm_symbolic(record("Ana has 2 pens and 3 cups. How many things?"), "t/b",
                           "symbolic"),
        parse_gsm_symbolic(record("Ana has 2 pens and 3 cups. How many things?"), "t/c", "p1"),
        parse_gsm_symbolic(record("Nobody asked this?"), "t/d", "symbolic"),
        parse_gsm_symbolic(record("Twice asked"), "t/e", "symbolic"),
        parse_gsm_symbolic({**record("x"), "question": ""}, "t/f", "symbolic"),
    ]
    links = link_templates(templates, samples)
    assert {item: {f: t.id for f, t in fam.items()} for item, fam in links.by_item.items()} == {
        "0": {"symbolic": "t/a", "p1": "t/c"}
    }
    assert links.unlinked == [
        ("t/b", "item 0 already has symbolic template t/a"),
        ("t/d", "no item of the task has this question"),
        ("t/e", "2 items have this question: 1, 2"),
        ("t/f", "the template file holds no source question"),
    ]


def test_instance_sets_replace_the_question_and_the_target() -> None:
    sample = gsm_sample("0", "Ana has 2 pens and 3 cups. How many things?")
    template = parse_gsm_symbolic(record(sample.metadata["fields"]["question"]), "t/a")
    variants = template_variants(sample, template, "symbolic", 3)
    assert [v.id for v in variants] == ["0~symbolic0", "0~symbolic1", "0~symbolic2"]
    for k, variant in enumerate(variants):
        question = variant.metadata["instance_question"]
        assert variant.input == f"Question: {question}\nAnswer:"
        x, y = (int(w) for w in question.split() if w.isdigit())
        assert variant.target == str(x + y)
        assert (variant.metadata["original_id"], variant.metadata["variant_set"]) == ("0", k)
        assert variant.metadata["template_id"] == "t/a"


@needs_shared
def test_all_250_published_templates_link_to_their_gsm8k_items() -> None:
    samples = load_task("gsm8k", {"data": str(GSM8K_TEST)}).samples()
    links = load_links(TEMPLATES, samples)
    assert links.unlinked == []
    assert len(links.by_item) == 100
    counts = {f: sum(f in fam for fam in links.by_item.values()) for f in ("symbolic", "p1", "p2")}
    assert counts == {"symbolic": 100, "p1": 100, "p2": 50}
    for item, families in links.by_item.items():
        for family, template in families.items():
            assert template.path is not None
            # the authors' own index of the GSM8K test item agrees with our link
            assert str(json.loads(Path(template.path).read_text())["id_orig"]) == item, family


def _memorizer(samples: list[Sample]) -> ScriptedBackend:
    seen = {s.metadata["fields"]["question"]: s.target.rsplit("####", 1)[1].strip()
            for s in samples}
    return ScriptedBackend(lambda prompt: "#### " + seen.get(_question(prompt), "0"))


@needs_shared
def test_probe_run_on_gsm8k_gives_the_paired_drop_per_family(tmp_path: Path) -> None:
    task = load_task("gsm8k", {"data": str(GSM8K_TEST)})
    links = load_links(TEMPLATES, task.samples())
    out = tmp_path / "run"
    run_probe(task, _memorizer(task.samples()), out, variants=("symbolic", "p1", "p2"),
              n_sets=2, limit=3, model_spec="scripted:mem", show_progress=False, links=links)
    result = json.loads((out / PROBE_RESULTS).read_text())
    # the first three linked GSM8K items, in test-set order
    linked = {x["item_id"] for x in result["templates"]["linked"]}
    assert linked == {"11", "20", "39"}
    assert result["templates"]["n_linked"] == 7  # 3 symbolic + 3 p1 + 1 p2
    assert result["templates"]["n_unlinked"] == 243
    assert all("not among the probed items" in x["reason"]
               for x in result["templates"]["unlinked"])
    assert result["original_accuracy"]["value"] == 1.0 and result["n_items"] == 3
    for family, n_items in (("symbolic", 3), ("p1", 3), ("p2", 1)):
        fam = result["families"][family]
        assert fam["n_items"] == n_items and fam["drop"]["value"] == -1.0
        assert fam["instance_sets"]["per_set"] == [0.0, 0.0]
    import pandas as pd

    rows = pd.read_parquet(out / "samples.parquet")
    links = {row.sample_id: json.loads(row.extra)["probe"] for row in rows.itertuples()}
    # row ids are "<item>~<family><set>"; each variant row names its template
    assert links["11~p11"]["template_id"] == "gsm-symbolic/p1/0036"
    assert links["11~p11"]["original_id"] == "11" and links["11"]["variant"] == "original"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "probe"
    assert json.loads((out / "results.json").read_text())["n_samples"] == 3


@needs_shared
def test_cli_probe_run_on_gsm8k_with_a_tiny_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_backends_hf_tiny import build_model

    model = build_model(tmp_path / "model", "gpt2", n_positions=1024)
    out = tmp_path / "run"
    code = main(["probe", "run", "--model", f"hf:{model}", "--task", "gsm8k",
                 "--task-option", f"data={GSM8K_TEST}", "--variants", "symbolic,noop_numeric",
                 "--templates", str(TEMPLATES / "symbolic"), "--sets", "2", "--limit", "2",
                 "--out", str(out), "--no-progress", "--no-plot"])
    assert code == 0
    captured = capsys.readouterr()
    assert "probe: 2 template(s) linked, 98 not used" in captured.err
    assert "probe: template gsm-symbolic/symbolic/0000 not used: its item 473 is not " \
           "among the probed items (--limit)" in captured.err
    result = json.loads((out / PROBE_RESULTS).read_text())
    assert set(result["families"]) == {"symbolic", "noop_numeric"}
    assert result["families"]["symbolic"]["instance_sets"]["n_sets"] == 2
    assert result["families"]["noop_numeric"]["instance_sets"]["n_sets"] == 1
