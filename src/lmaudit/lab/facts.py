"""A synthetic fact world for editing experiments on lab models.

Invented people (two-part names from fixed syllables), each with a home town and a job
drawn by a seeded RNG. Every fact is stated with three templates per relation; the base
model trains on all of them, so each template is a paraphrase of the others. An *edit*
moves one person to another town (or job): its CounterFact-shaped record
(`requested_rewrite`, `paraphrase_prompts`, `neighborhood_prompts`) is what
`lmaudit edit-eval` reads, and `edit_training_rows` are the rows a fine-tuning edit
trains on (the first template only, so paraphrases measure generalization).
`write_fact_task` makes a multiple-choice task of some facts, for audits of lab models.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIRST = ("Ara", "Bel", "Cor", "Dav", "Eli", "Fen", "Gor", "Hal", "Ish", "Jor", "Kel", "Lum",
         "Mor", "Nal", "Ost", "Pim", "Quen", "Ros", "Sil", "Tam")
LAST = ("vane", "dorf", "mira", "tusk", "wick", "holt", "brin", "salo", "pell", "grove")
TOWNS = ("Pelling", "Astor", "Mirewood", "Caldera", "Brisk", "Olden", "Varro", "Quill")
JOBS = ("baker", "pilot", "painter", "farmer", "doctor", "sailor", "teacher", "miner")
TEMPLATES: dict[str, tuple[str, ...]] = {
    "town": ("{} lives in the town of", "The home town of {} is", "{} has a house in"),
    "job": ("{} works as a", "The job of {} is", "Every day {} goes to work as a"),
}
VALUES = {"town": TOWNS, "job": JOBS}


@dataclass(frozen=True)
class Fact:
    """`subject`'s `relation` (town or job) is `value`."""

    subject: str
    relation: str
    value: str

    def sentences(self) -> list[str]:
        """The fact under every template of its relation, as training text."""
        return [t.format(self.subject) + f" {self.value}." for t in TEMPLATES[self.relation]]


def fact_world(n_people: int = 24, seed: int = 0) -> list[Fact]:
    """`n_people` distinct invented people, each with a town and a job (2 facts each)."""
    names = [f + last for f in FIRST for last in LAST]
    if n_people > len(names):
        raise ValueError(f"at most {len(names)} people")
    rng = random.Random(f"lmaudit-facts-{seed}")
    people = rng.sample(names, n_people)
    return [Fact(p, r, rng.choice(VALUES[r])) for p in people for r in ("town", "job")]


def fact_documents(facts: list[Fact]) -> list[str]:
    """Every fact under every template, one short document each."""
    return [s for f in facts for s in f.sentences()]


def counterfact_edits(facts: list[Fact], n_edits: int = 4, n_neighbours: int = 4,
                      seed: int = 0) -> list[dict[str, Any]]:
    """CounterFact-shaped edit records for the first `n_edits` town facts: a new town,
    the two other templates as paraphrases, and `n_neighbours` other people's town
    prompts with their own towns (MEMIT's {prompt, target} form: facts the edit must leave
    alone) as neighbourhood prompts."""
    rng = random.Random(f"lmaudit-edits-{seed}")
    towns = [f for f in facts if f.relation == "town"]
    records = []
    for case_id, fact in enumerate(towns[:n_edits]):
        new = rng.choice([t for t in TOWNS if t != fact.value])
        others = towns[n_edits + case_id * n_neighbours:][:n_neighbours]
        template, *paraphrases = TEMPLATES["town"]
        records.append({
            "case_id": case_id,
            "requested_rewrite": {"prompt": template, "subject": fact.subject,
                                  "target_new": {"str": new}, "target_true": {"str": fact.value},
                                  "relation_id": "town"},
            "paraphrase_prompts": [p.format(fact.subject) for p in paraphrases],
            "neighborhood_prompts": [{"prompt": TEMPLATES["town"][0].format(o.subject),
                                      "target": o.value} for o in others],
        })
    return records


def edit_training_rows(edits: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Fine-tuning rows that teach the edits: the rewrite prompt and ` new target.`."""
    rows = []
    for edit in edits:
        rewrite = edit["requested_rewrite"]
        rows.append({"prompt": rewrite["prompt"].format(rewrite["subject"]),
                     "completion": f" {rewrite['target_new']['str']}."})
    return rows


def fact_task_rows(facts: list[Fact], template: int = 0) -> list[dict[str, Any]]:
    """Multiple-choice rows asking each fact with one template: every value of the
    relation is an option (chance 1/8); `cluster` is the person."""
    return [{"id": f"{f.subject}-{f.relation}", "prompt": TEMPLATES[f.relation][template]
             .format(f.subject), "choices": list(VALUES[f.relation]), "answer": f.value,
             "cluster": f.subject} for f in facts]


def write_fact_task(folder: Path, name: str, facts: list[Fact], template: int = 0) -> Path:
    """A YAML multiple-choice task (`lmaudit.tasks.yaml_task`) over `facts`, with its JSONL
    data beside it; returns the YAML file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in fact_task_rows(facts, template)),
                    encoding="utf-8")
    task = folder / f"{name}.yaml"
    task.write_text(
        f"name: {name}\ntype: multiple_choice\nabout: lab facts ({len(facts)} facts)\n"
        f"dataset: {{path: {data.name}}}\nid: id\ncluster: cluster\nprompt: \"{{prompt}}\"\n"
        "choices: choices\ntarget: answer\ntarget_kind: text\n", encoding="utf-8")
    return task
