"""The lab fact world behind the fine-tuning experiments: deterministic facts, CounterFact
edits that `lmaudit edit-eval` reads, edit training rows and the multiple-choice task."""

from __future__ import annotations

import json
from pathlib import Path

from lmaudit.editing import read_edits
from lmaudit.lab.facts import (
    TEMPLATES,
    TOWNS,
    counterfact_edits,
    edit_training_rows,
    fact_documents,
    fact_world,
    write_fact_task,
)
from lmaudit.tasks.registry import load_task


def test_world_is_deterministic_and_documents_state_every_fact() -> None:
    facts = fact_world(10, seed=3)
    assert facts == fact_world(10, seed=3) and facts != fact_world(10, seed=4)
    assert len(facts) == 20 and len({f.subject for f in facts}) == 10
    docs = fact_documents(facts)
    assert len(docs) == 20 * 3
    assert docs[0] == TEMPLATES[facts[0].relation][0].format(facts[0].subject) + \
        f" {facts[0].value}."


def test_edits_round_trip_through_edit_eval_records(tmp_path: Path) -> None:
    facts = fact_world(12)
    edits = counterfact_edits(facts, n_edits=3, n_neighbours=2)
    path = tmp_path / "edits.json"
    path.write_text(json.dumps(edits))
    cases = read_edits(path)
    towns = {f.subject: f.value for f in facts if f.relation == "town"}
    for case in cases:
        assert case.target_true == towns[case.subject] != case.target_new
        assert case.target_new in TOWNS and len(case.paraphrases) == 2
        assert all(p.answer == towns[p.prompt.split(" lives")[0]] for p in case.neighbourhood)
        assert case.subject not in {p.prompt.split(" lives")[0] for p in case.neighbourhood}
    edited = {c.subject for c in cases}
    neighbours = {p.prompt for c in cases for p in c.neighbourhood}
    assert not any(s in n for s in edited for n in neighbours)
    rows = edit_training_rows(edits)
    assert rows[0] == {"prompt": cases[0].prompt, "completion": f" {cases[0].target_new}."}


def test_fact_task_loads_as_a_yaml_multiple_choice_task(tmp_path: Path) -> None:
    facts = fact_world(4)
    task = load_task(str(write_fact_task(tmp_path, "facts", facts)))
    samples = list(task.samples())
    assert len(samples) == 8 and samples[0].cluster == facts[0].subject
    assert samples[0].choices is not None and len(samples[0].choices) == 8
