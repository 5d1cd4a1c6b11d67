"""Hostile inputs to the dataset, task, responses and corpus readers (issue 11): each gives
one clear error naming the file (and line, row or field), never a traceback or a silently
wrong value."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.contamination.corpus_io import iter_chunks, plan_shards
from lmaudit.core.preflight import preflight
from lmaudit.core.rescore import read_responses
from lmaudit.core.types import LmauditError
from lmaudit.data.loading import load_rows
from lmaudit.data.textio import CSV_FIELD_LIMIT
from lmaudit.tasks.yaml_task import load_yaml_task

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000


def _task(tmp_path: Path, rows: str, extra: str = "", name: str = "d.jsonl") -> Path:
    (tmp_path / name).write_text(rows, encoding="utf-8")
    task = tmp_path / "t.yaml"
    task.write_text(
        f"name: t\ntype: generate\ndataset: {{path: {name}}}\n"
        f'prompt: "Q: {{question}}"\ntarget: answer\n{extra}',
        encoding="utf-8",
    )
    return task


def _error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(LmauditError) as error:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(error.value)


def test_null_prompt_field_is_an_error_naming_file_row_and_field(tmp_path: Path) -> None:
    task = _task(tmp_path, '{"question": "a", "answer": "1"}\n{"question": null, "answer": "2"}\n')
    message = _error(load_yaml_task(task).samples)
    assert message == (
        f"{task}: {tmp_path / 'd.jsonl'}: row 1: prompt template needs field 'question', "
        "which is null"
    )


def test_null_target_never_becomes_the_text_none(tmp_path: Path) -> None:
    task = _task(tmp_path, '{"question": "a", "answer": null}\n')
    assert _error(load_yaml_task(task).samples).endswith("row 0: field 'answer' is null")


@pytest.mark.parametrize(
    "prompt", ["{question.__class__}", "{question[0]}", "{question:>999999999}"]
)
def test_unsafe_template_is_rejected_at_load_naming_file_and_key(
    tmp_path: Path, prompt: str
) -> None:
    task = tmp_path / "t.yaml"  # the data file does not even exist: no row is read
    task.write_text(
        f'name: t\ntype: generate\ndataset: {{path: missing.jsonl}}\nprompt: "{prompt}"\n'
        "target: answer\n"
    )
    message = _error(load_yaml_task, task)
    assert message.startswith(f"{task}: key 'prompt': malformed template (field {prompt}: ")


def test_yaml_duplicate_keys_name_the_key_and_line(tmp_path: Path) -> None:
    task = _task(tmp_path, '{"question": "a", "answer": "1"}\n', extra="target: other\n")
    assert _error(load_yaml_task, task) == (
        f"{task}: line 6: malformed YAML (duplicate key 'target' (first at line 5))"
    )


def test_yaml_that_is_not_utf8(tmp_path: Path) -> None:
    task = tmp_path / "t.yaml"
    task.write_bytes(b"name: caf\xe9\n")
    assert _error(load_yaml_task, task) == (
        f"{task}: not UTF-8 text (byte 0xe9 at offset 9); save the file as UTF-8"
    )


def test_data_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"question": "ok"}\n{"question": "\xff"}\n')
    assert _error(load_rows, str(path)).startswith(f"{path}: not UTF-8 text (byte 0xff")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (DEEP, "JSON nested too deeply to read"),
        ('{"q": ' + HUGE_INT + "}", "unreadable JSON value (Exceeds the limit (4300 digits)"),
    ],
)
def test_json_too_deep_or_too_big(tmp_path: Path, text: str, reason: str) -> None:
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"q": 1}\n' + text + "\n")
    assert _error(load_rows, str(jsonl)).startswith(f"{jsonl}: line 2: {reason}")
    whole = tmp_path / "d.json"
    whole.write_text(text)
    assert _error(load_rows, str(whole)).startswith(f"{whole}: {reason}")


def test_csv_field_over_128_kib_loads_and_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    big = "x" * (200 * 1024)
    path.write_text(f"\ufeffquestion,answer\n{big},1\n", encoding="utf-8")
    rows = load_rows(str(path))
    assert list(rows[0]) == ["question", "answer"]
    assert rows[0]["question"] == big


def test_csv_field_over_the_raised_limit_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("question\nok\n" + '"' + "x" * (CSV_FIELD_LIMIT + 1) + '"\n')
    assert _error(load_rows, str(path)) == (
        f"{path}: line 3: malformed CSV (a field is longer than {CSV_FIELD_LIMIT:,} characters)"
    )


def test_corrupt_gzip_dataset(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"q": 1}\n' * 100)[:30])
    assert _error(load_rows, str(path)).startswith(f"{path}: cannot read (")


def test_empty_dataset_is_an_early_error(tmp_path: Path) -> None:
    task = _task(tmp_path, "\n\n")
    assert _error(load_yaml_task(task).samples) == (
        f"{task}: {tmp_path / 'd.jsonl'}: no samples to evaluate (0 rows)"
    )


def test_too_many_fewshot_examples_fail_before_the_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(json.dumps({"question": str(i), "answer": str(i)}) + "\n" for i in range(3))
    task = _task(tmp_path, rows, extra="fewshot: {n: 5}\n")
    message = _error(preflight, load_yaml_task(task))
    assert "5 examples requested for sample 0" in message
    assert "has only 2 usable rows" in message
    # The CLI fails on the data, not on the (nonexistent) model.
    model = f"hf:{tmp_path / 'no-such-model'}"
    assert main(["run", "--model", model, "--task", str(task), "--out", str(tmp_path / "r")]) == 2
    assert "5 examples requested" in capsys.readouterr().err


def test_responses_repeated_id_null_field_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"id": "a", "response": "1", "target": "1"}\n'
        '{"id": "a", "response": "2", "target": "2"}\n'
    )
    assert _error(read_responses, path) == f"{path}: line 2: id 'a' repeats line 1"
    path.write_text('{"response": null, "target": "1"}\n')
    assert _error(read_responses, path) == f"{path}: line 1: field 'response' is null"
    path.write_bytes(b'{"response": "\xc3", "target": "1"}\n')
    assert _error(read_responses, path).startswith(f"{path}: not UTF-8 text (byte 0xc3")
    path.write_text('{"response": "1", "target": "1"}\n' + DEEP + "\n")
    assert _error(read_responses, path) == f"{path}: line 2: JSON nested too deeply to read"


def test_responses_default_ids_are_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('\ufeff{"response": "1", "target": "1"}\n\n{"response": "2", "target": "3"}\n')
    rows = read_responses(path)
    assert [(r["id"], r["_line"]) for r in rows] == [("1", 1), ("3", 3)]


@pytest.mark.parametrize("name", ["c.jsonl.gz", "c.txt.gz"])
def test_corrupt_gzip_corpus_is_one_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b'{"text": "hello world"}\n' * 1000)[:100])
    (shard,) = plan_shards([str(path)])
    message = _error(lambda: list(iter_chunks(shard)))
    assert message.startswith(f"{path}: damaged gzip ")
    assert message.endswith("re-download it or remove it from --corpus")


def test_null_fewshot_group_is_an_error_not_a_group_named_none(tmp_path: Path) -> None:
    rows = "".join(
        json.dumps({"question": str(i), "answer": str(i), "subject": s}) + "\n"
        for i, s in enumerate(["a", "a", None, None])
    )
    task = _task(tmp_path, rows, extra="fewshot: {n: 1, group_by: subject}\n")
    assert _error(preflight, load_yaml_task(task)) == (
        "sample 2: few-shot group_by field 'subject' is null"
    )


def test_arc_task_file_unreadable(tmp_path: Path) -> None:
    from lmaudit.tasks.arc_agi import arc_samples

    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    assert _error(arc_samples, [deep]) == f"{deep}: JSON nested too deeply to read"
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"train": "\xe9"}')
    assert _error(arc_samples, [latin]).startswith(f"{latin}: not UTF-8 text (byte 0xe9")


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    from lmaudit.tasks.yaml_task import read_yaml

    path = tmp_path / "m.yaml"
    path.write_text("base: &b {n: 1, seed: 2}\nfewshot:\n  <<: *b\n  n: 3\n")
    assert read_yaml(path) == {"base": {"n": 1, "seed": 2}, "fewshot": {"n": 3, "seed": 2}}
    path.write_text("x: {a: 1, a: 2}\n")
    assert _error(read_yaml, path).endswith("(duplicate key 'a' (first at line 1))")


def test_text_corpus_reads_through_the_shared_reader(tmp_path: Path) -> None:
    from lmaudit.tasks.text_corpus import document_samples

    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\n\r\nsecond\r\n")
    samples = document_samples([path], whole_files=False, clustered=False)
    assert [s.input for s in samples] == ["first", "second"]
    path.write_bytes(b"caf\xe9\n")
    assert _error(document_samples, [path], whole_files=True, clustered=False).startswith(
        f"{path}: not UTF-8 text (byte 0xe9 at offset 3)"
    )
