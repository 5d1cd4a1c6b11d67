"""YAML task files: working tasks of each type, and every validation error."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from lmaudit.core.types import (
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingLoglikelihoodRequest,
)
from lmaudit.data.loading import file_sha256
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.yaml_task import config_sha256

ARC_ROWS = [  # the shape of Hugging Face allenai/ai2_arc rows
    {"id": "q1", "question": "Sky colour?",
     "choices": {"text": ["red", "blue"], "label": ["A", "B"]}, "answerKey": "B"},
    {"id": "q2", "question": "Grass colour?",
     "choices": {"text": ["green", "pink"], "label": ["A", "B"]}, "answerKey": "A"},
]

MC_YAML = """\
name: colours
type: multiple_choice
dataset:
  path: data/colours.jsonl
id: id
prompt: "Question: {question}\\nAnswer:"
choices: choices
target: answerKey
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def mc_file(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "data" / "colours.jsonl", ARC_ROWS)
    return write(tmp_path / "colours.yaml", MC_YAML)


def test_multiple_choice_yaml_with_relative_path_and_labels(mc_file: Path) -> None:
    task = load_task(str(mc_file))
    samples = task.samples()
    assert [(s.id, s.target, s.choices) for s in samples] == [
        ("q1", 1, ("red", "blue")), ("q2", 0, ("green", "pink")),
    ]
    assert task.requests(samples[0]) == [
        LoglikelihoodRequest("Question: Sky colour?\nAnswer:", " red"),
        LoglikelihoodRequest("Question: Sky colour?\nAnswer:", " blue"),
    ]
    record = task.score(samples[0], [LoglikelihoodResult(-5.0, False, 1),
                                     LoglikelihoodResult(-1.0, True, 1)])
    assert record.metrics["acc"] == 1.0 and record.response == "blue"


def test_spec_has_normalized_config_and_hashes(mc_file: Path) -> None:
    spec = load_task(str(mc_file)).spec()
    config = spec["config"]
    assert config["dataset"] == {"path": "data/colours.jsonl", "split": None, "name": None}
    assert config["target_delimiter"] == " " and config["fewshot_delimiter"] == "\n\n"
    assert config["target_kind"] == "auto" and config["fewshot"] is None
    assert spec["config_sha256"] == config_sha256(config)
    data_file = mc_file.parent / "data" / "colours.jsonl"
    assert spec["data"]["eval"]["sha256"] == file_sha256(data_file)
    assert spec["n_samples"] == 2


def test_generate_yaml_with_fewshot_from_a_train_split(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "math" / "test.jsonl", [{"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}])
    write_jsonl(tmp_path / "math" / "train.jsonl", [{"q": "1+1", "a": "2"},
                                                    {"q": "1+2", "a": "3"}])
    path = write(tmp_path / "math.yaml", """\
name: sums
type: generate
dataset: {path: math, split: test}
prompt: "Q: {q}\\nA:"
target: a
scorer: numeric
stop: ["\\n"]
max_tokens: 8
fewshot: {n: 2, split: train, sampler: first_n}
""")
    task = load_task(str(path))
    sample = task.samples()[1]
    (request,) = task.requests(sample)
    assert request.prompt == "Q: 1+1\nA: 2\n\nQ: 1+2\nA: 3\n\nQ: 3+3\nA:"  # type: ignore[union-attr]
    assert request.params.stop == ("\n",) and request.params.max_tokens == 8  # type: ignore[union-attr]
    assert task.score(sample, [Generation(" 6")]).metrics["acc_flexible"] == 1.0
    spec = task.spec()
    assert spec["fewshot"]["candidate_ids"] == ["0", "1"] and not spec["fewshot"]["exclude_self"]


def test_perplexity_yaml_and_template_target(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "docs.jsonl", [{"title": "T", "body": "one two"}])
    path = write(tmp_path / "p.yaml", """\
name: docs
type: perplexity
dataset: {path: docs.jsonl}
text: "{title}\\n{body}"
""")
    task = load_task(str(path))
    (sample,) = task.samples()
    assert task.requests(sample) == [RollingLoglikelihoodRequest("T\none two")]


def test_task_options_override_data_and_fewshot(mc_file: Path, tmp_path: Path) -> None:
    other = write_jsonl(tmp_path / "other.jsonl", ARC_ROWS * 1 + [
        {"id": "q3", "question": "Snow?", "choices": {"text": ["white", "black"],
                                                      "label": ["A", "B"]}, "answerKey": "A"},
    ])
    task = load_task(str(mc_file), {"data": str(other), "fewshot": "1", "fewshot_seed": "3"})
    assert len(task.samples()) == 3
    spec = task.spec()
    assert spec["config"]["fewshot"]["n"] == 1 and spec["config"]["fewshot"]["seed"] == 3
    assert spec["fewshot"]["exclude_self"] is True
    with pytest.raises(LmauditError, match=r"colours\.yaml: unknown task option 'subject'"):
        load_task(str(mc_file), {"subject": "x"})


# --- validation errors: each names the file and the key (or row and field) -------------

BAD_CASES = [
    ("name: x\ntype: multiple_choice\n  bad: indent\n", r"line \d+: malformed YAML"),
    ("- a\n- b\n", r"expected a mapping of task keys"),
    ("name: x\ndataset: {path: d.jsonl}\n", r"key 'type': is required"),
    ("name: x\ntype: ranking\n",
     r"key 'type': must be one of multiple_choice, generate, perplexity"),
    (MC_YAML + "temperature: 0.5\n",
     r"key 'temperature': unknown key for type multiple_choice; valid keys: name, type, about,"),
    (MC_YAML.replace("target: answerKey\n", ""), r"key 'target': is required"),
    (MC_YAML.replace("name: colours\n", "name: 5\n"), r"key 'name': must be a string, got int"),
    (MC_YAML.replace("  path: data/colours.jsonl\n", "  file: x.jsonl\n"),
     r"key 'dataset.file': unknown key; valid keys: path, split, name"),
    (MC_YAML.replace("  path: data/colours.jsonl\n", "  split: test\n"),
     r"key 'dataset.path': is required"),
    (MC_YAML.replace("Answer:", "Answer: {"), r"key 'prompt': malformed template"),
    (MC_YAML.replace("choices: choices", "choices: [only_one]"), r"key 'choices': must be"),
    (MC_YAML.replace("target: answerKey", "target: answerKey\ntarget_kind: letter"),
     r"key 'target_kind': must be one of auto, index, label, text"),
    (MC_YAML + "fewshot: {n: 2, shuffle: true}\n",
     r"key 'fewshot.shuffle': unknown key; valid keys: n, split, seed, sampler, group_by"),
    (MC_YAML + "fewshot: {n: -1}\n", r"key 'fewshot.n': must be >= 0, got -1"),
    (MC_YAML + "fewshot: {n: two}\n", r"key 'fewshot.n': must be an integer, got str"),
    (MC_YAML + "fewshot: {n: 1, sampler: best}\n", r"key 'fewshot.sampler': must be one of"),
    (MC_YAML + "fewshot: 3\n", r"key 'fewshot': must be a mapping, got int"),
]

GEN_YAML = """\
name: g
type: generate
dataset: {path: d.jsonl}
prompt: "{q}"
target: a
"""

BAD_CASES += [
    (GEN_YAML + "scorer: fuzzy\n", r"key 'scorer': unknown scorer 'fuzzy'; known: .*numeric"),
    (GEN_YAML + "stop: \"\\n\"\n", r"key 'stop': must be a list of strings, got str"),
    (GEN_YAML + "stop: [1]\n", r"key 'stop\[0\]': must be a string, got int"),
    (GEN_YAML + "max_tokens: ten\n", r"key 'max_tokens': must be an integer, got str"),
    (GEN_YAML + "max_tokens: 0\n", r"key 'max_tokens': must be >= 1, got 0"),
    (GEN_YAML + "choices: x\n", r"key 'choices': unknown key for type generate"),
    ("name: p\ntype: perplexity\ndataset: {path: d.jsonl}\nprompt: x\ntext: t\n",
     r"key 'prompt': unknown key for type perplexity; valid keys: name, type, about, dataset"),
]


@pytest.mark.parametrize(("text", "pattern"), BAD_CASES)
def test_validation_errors_name_file_and_key(tmp_path: Path, text: str, pattern: str) -> None:
    path = write(tmp_path / "bad_task.yaml", text)
    with pytest.raises(LmauditError) as error:
        load_task(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    assert re.search(pattern, message), message


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", "name: x\ntype: generate\nprompt: \"unclosed\n")
    with pytest.raises(LmauditError, match=r"t\.yaml: line 3: malformed YAML"):
        load_task(str(path))


def test_missing_task_file_and_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(LmauditError, match=r"nope\.yaml: no such task file"):
        load_task(str(tmp_path / "nope.yaml"))
    path = write(tmp_path / "t.yaml", MC_YAML)
    with pytest.raises(LmauditError, match=r"colours\.jsonl: no such file or directory"):
        load_task(str(path)).samples()


def test_row_errors_name_task_file_data_file_row_and_field(mc_file: Path) -> None:
    data = mc_file.parent / "data" / "colours.jsonl"
    write_jsonl(data, [ARC_ROWS[0], {"id": "q2", "choices": ARC_ROWS[1]["choices"],
                                     "answerKey": "A"}])
    with pytest.raises(LmauditError) as error:
        load_task(str(mc_file)).samples()
    assert str(error.value) == (
        f"{mc_file}: {data}: row 1: prompt template needs field 'question' "
        "(fields present: id, choices, answerKey)"
    )
    write_jsonl(data, [{**ARC_ROWS[0], "answerKey": "E"}])
    with pytest.raises(LmauditError, match=r"colours\.yaml: .*colours\.jsonl: row 0: target: 'E'"):
        load_task(str(mc_file)).samples()
    write_jsonl(data, [ARC_ROWS[0], ARC_ROWS[0]])
    with pytest.raises(LmauditError, match=r"row 1: sample id 'q1' repeats row 0"):
        load_task(str(mc_file)).samples()


def test_bundled_arc_easy_yaml_on_local_rows(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "arc.jsonl", ARC_ROWS)
    task = load_task("arc_easy", {"data": str(data)})
    assert task.name == "arc_easy"
    sample = task.samples()[0]
    assert (sample.id, sample.target) == ("q1", 1)
    specs = {m.name for m in task.metrics}
    assert {"acc", "acc_norm"} <= specs
    # Same option text lengths (3 vs 4 chars): acc_norm differs from acc here.
    record = task.score(sample, [LoglikelihoodResult(-3.0, False, 1),
                                 LoglikelihoodResult(-3.5, False, 1)])
    assert record.metrics["acc"] == 0.0 and record.metrics["acc_norm"] == 1.0
    assert math.isclose(record.metrics["p_correct"], 1 / (1 + math.exp(0.5)))
