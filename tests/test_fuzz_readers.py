"""Property-based fuzzing of lmaudit's readers (issue 11, item 8).

Every input to a reader (task YAML, dataset rows in JSONL and CSV, stored responses, battle
files, prompt templates) either loads or raises `LmauditError` with a message: never
another exception, never a hang (each example has a deadline), never a null turned into
the text "None". Examples are few and small so that the file runs in seconds.
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmaudit.arena.battles import read_battles
from lmaudit.core.rescore import read_responses
from lmaudit.core.types import LmauditError
from lmaudit.data.loading import is_null, load_rows
from lmaudit.tasks.prompting import MAX_FORMAT_WIDTH, render_template, template_fields
from lmaudit.tasks.yaml_task import load_yaml_task

FUZZ = settings(
    max_examples=60,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

# JSON-ish leaves that readers mishandle most often.
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "x", "y", "", " "]),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["question", "answer", "id", "response", "target", "model_a", "model_b", "winner",
     "count", "weight", "tokens_a", "cluster", "choices"]
)
ROWS = st.dictionaries(FIELDS, VALUES, max_size=6)
# Raw line fragments: valid-looking JSON, junk, non-standard constants, deep nesting.
JUNK = st.sampled_from(
    ["", "{", "}", "[]", "null", "NaN", "-Infinity", '{"a": NaN}', "[" * 3000 + "]" * 3000,
     '{"count": ' + "9" * 5000 + "}", "\ufeff", '{"a": 1, "a": 2}', "\x00", "{'a': 1}"]
)


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, allow_nan=True)


LINES = st.lists(st.one_of(ROWS.map(_line), JUNK), max_size=6)
BAD_BYTES = st.sampled_from([b"", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\r\n", b"\x00"])


@contextmanager
def _file(name: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        yield path


def _loads_or_lmaudit_error(read: Callable[[], Any]) -> Any:
    """The reader's result, or None when it raised LmauditError with a message."""
    try:
        return read()
    except LmauditError as error:
        assert str(error).strip(), "an LmauditError must carry a message"
        return None


@FUZZ
@given(lines=LINES, prefix=BAD_BYTES, suffix=BAD_BYTES)
def test_jsonl_rows_load_or_fail_cleanly(lines: list[str], prefix: bytes, suffix: bytes) -> None:
    data = prefix + "\n".join(lines).encode("utf-8", "surrogatepass") + suffix
    with _file("d.jsonl", data) as path:
        rows = _loads_or_lmaudit_error(lambda: load_rows(str(path)))
    if rows is not None:
        assert all(isinstance(row, dict) for row in rows)


CSV_CELLS = st.text(alphabet=string.printable + "é\ufeff", max_size=20)


@FUZZ
@given(
    header=st.lists(st.sampled_from(["question", "answer", "a", "", '"q"']), max_size=4),
    cells=st.lists(st.lists(CSV_CELLS, max_size=5), max_size=5),
    prefix=BAD_BYTES,
)
def test_csv_rows_load_or_fail_cleanly(
    header: list[str], cells: list[list[str]], prefix: bytes
) -> None:
    text = "\n".join([",".join(header), *(",".join(row) for row in cells)])
    with _file("d.csv", prefix + text.encode("utf-8", "surrogatepass")) as path:
        rows = _loads_or_lmaudit_error(lambda: load_rows(str(path)))
    if rows is not None:
        assert all(not str(key).startswith("\ufeff") for row in rows for key in row)


@FUZZ
@given(lines=LINES, prefix=BAD_BYTES)
def test_responses_load_or_fail_cleanly(lines: list[str], prefix: bytes) -> None:
    with _file("r.jsonl", prefix + "\n".join(lines).encode("utf-8", "surrogatepass")) as path:
        rows = _loads_or_lmaudit_error(lambda: read_responses(path))
    if rows is not None:
        ids = [row["id"] for row in rows]
        assert len(set(ids)) == len(ids)
        assert all(row["response"] is not None and row["target"] is not None for row in rows)


@FUZZ
@given(lines=LINES, suffix=st.sampled_from(["b.jsonl", "b.csv", "b.json"]), prefix=BAD_BYTES)
def test_battle_files_load_or_fail_cleanly(lines: list[str], suffix: str, prefix: bytes) -> None:
    if suffix == "b.csv":
        body = "model_a,model_b,winner,count\n" + "\n".join(
            ",".join(line.split(",")[:4]) for line in lines
        )
    elif suffix == "b.json":
        body = "[" + ",".join(line for line in lines if line.strip()) + "]"
    else:
        body = "\n".join(lines)
    with _file(suffix, prefix + body.encode("utf-8", "surrogatepass")) as path:
        battles = _loads_or_lmaudit_error(lambda: read_battles(path, skip_bad_rows=True))
    if battles is not None:
        counts = battles.frame["count"].to_numpy()
        assert ((counts >= 0) & (counts <= 1e12) & (counts == counts.round())).all()
        assert set(battles.frame["winner"]) <= {"model_a", "model_b", "tie", "tie (bothbad)"}


TEMPLATE_ALPHABET = "{}[]:.!<>^=,_0123456789qarsx%# "


@FUZZ
@given(
    template=st.text(alphabet=TEMPLATE_ALPHABET, max_size=24),
    row=st.fixed_dictionaries({"q": VALUES, "a": st.text(max_size=5)}),
)
def test_templates_render_or_fail_cleanly(template: str, row: dict[str, Any]) -> None:
    text = _loads_or_lmaudit_error(
        lambda: render_template(template, row, source="fuzz", row_index=0)
    )
    if text is not None:
        values = sum(len(str(v)) for v in row.values())
        assert len(text) <= len(template) * (MAX_FORMAT_WIDTH + values + 1)
        if is_null(row["q"]):  # a null field was never filled in
            assert "q" not in template_fields(template)


TASK_KEYS = st.sampled_from(
    ["name", "type", "dataset", "prompt", "target", "choices", "fewshot", "id", "cluster",
     "target_kind", "scorer", "stop", "max_tokens", "text", "description", "bogus"]
)
TASK_VALUES = st.one_of(
    VALUES,
    st.sampled_from(["generate", "multiple_choice", "perplexity", "{question}", "answer",
                     "Q: {question.__class__}", "{question:>999999999}", "{question[0]}"]),
    st.just({"path": "d.jsonl"}),
    st.just({"n": 2}),
)
BASE_TASK = {"name": "t", "type": "generate", "dataset": {"path": "d.jsonl"},
             "prompt": "Q: {question}", "target": "answer"}
DATA = (
    '{"question": "one", "answer": "1", "id": "a", "choices": ["x", "y"]}\n'
    '{"question": null, "answer": "2", "id": "b", "choices": ["x", "y"]}\n'
)


@FUZZ
@given(
    changes=st.dictionaries(TASK_KEYS, TASK_VALUES, max_size=4),
    duplicate=st.booleans(),
    junk=st.sampled_from(["", "\n!!python/object:os.system x\n", "\n- [", "\n" + "[" * 2000]),
)
def test_task_yaml_loads_or_fails_cleanly(
    changes: dict[str, Any], duplicate: bool, junk: str
) -> None:
    text = yaml.safe_dump({**BASE_TASK, **changes}, allow_unicode=True)
    if duplicate:
        text += text.splitlines()[0] + "\n"
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "d.jsonl").write_text(DATA)
        path = Path(directory) / "t.yaml"
        path.write_text(text + junk, encoding="utf-8")
        task = _loads_or_lmaudit_error(lambda: load_yaml_task(path))
        samples = None if task is None else _loads_or_lmaudit_error(task.samples)
    for sample in samples or []:
        assert "None" not in sample.input and sample.target != "None"
