"""Fuzzing the run store's readers: journal lines, manifest/results JSON and cache database
files. Whatever the bytes, each reader returns exactly what was written or raises one
`LmauditError`: no traceback, no hang, no silent coercion."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lmaudit.commands._finished import print_finished_run
from lmaudit.core.cache import CACHE_FILE, RequestCache
from lmaudit.core.journal import JOURNAL, ResponseJournal, read_journal
from lmaudit.core.serialize import response_to_dict
from lmaudit.core.store import read_json_object, run_dir_state
from lmaudit.core.types import (
    Generation,
    LmauditError,
    LoglikelihoodResult,
    RollingLoglikelihoodResult,
    Usage,
)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)
FLOATS = st.floats(allow_nan=False)
USAGES = st.none() | st.builds(
    Usage, st.integers(0, 10**6), st.integers(0, 10**6), st.floats(0, 1e3)
)
RESPONSES = st.one_of(
    st.builds(
        LoglikelihoodResult,
        FLOATS,
        st.booleans(),
        st.integers(0, 100),
        st.lists(FLOATS, max_size=4).map(tuple),
        usage=USAGES,
    ),
    st.builds(
        RollingLoglikelihoodResult,
        FLOATS,
        st.integers(0, 100),
        st.lists(FLOATS, max_size=4).map(tuple),
        usage=USAGES,
    ),
    st.builds(
        Generation,
        st.text(max_size=30),
        st.sampled_from(["stop", "length"]),
        st.integers(0, 100),
        st.integers(0, 100),
        usage=USAGES,
    ),
)


@contextmanager
def _directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _entry_line(key: str, response: Any) -> bytes:
    return json.dumps({"k": key, "r": response_to_dict(response)}).encode() + b"\n"


@FUZZ
@given(answers=st.dictionaries(st.text(min_size=1, max_size=8), RESPONSES, max_size=6))
def test_journal_round_trips_exactly(answers: dict[str, Any]) -> None:
    with _directory() as root:
        journal = ResponseJournal(root)
        for key, response in answers.items():
            journal.append(key, response)
        journal.close()
        read, good = read_journal(root / JOURNAL)
        size = (root / JOURNAL).stat().st_size
    assert read == answers  # equal values, and the same types: nothing coerced
    assert all(type(read[k]) is type(v) for k, v in answers.items())
    assert all(read[k].usage == v.usage for k, v in answers.items())
    assert good == size


PIECES = st.one_of(
    st.binary(max_size=40),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda r, field, value: json.dumps(
            {"k": "x", "r": {**response_to_dict(r), field: value}}
        ).encode(),
        RESPONSES,
        st.sampled_from(["t", "lp", "g", "n", "tl", "x", "f", "p", "c", "u"]),
        JSON_VALUES,
    ),
    st.builds(_entry_line, st.text(max_size=6), RESPONSES).map(lambda b: b.rstrip(b"\n")),
)


@FUZZ
@given(pieces=st.lists(PIECES, max_size=6), newline_at_end=st.booleans())
def test_any_journal_bytes_read_or_fail_in_one_line(
    pieces: list[bytes], newline_at_end: bool
) -> None:
    data = b"\n".join(p.replace(b"\n", b" ") for p in pieces) + (b"\n" if newline_at_end else b"")
    with _directory() as root:
        (root / JOURNAL).write_bytes(data)
        try:
            answers, good = read_journal(root / JOURNAL)
        except LmauditError as error:
            assert "\n" not in str(error) and "unreadable journal line" in str(error)
            return
    assert 0 <= good <= len(data)
    for key, answer in answers.items():
        assert isinstance(key, str)
        assert isinstance(answer, LoglikelihoodResult | RollingLoglikelihoodResult | Generation)
        if isinstance(answer, Generation):
            assert isinstance(answer.text, str) and isinstance(answer.prompt_tokens, int)
        else:
            assert isinstance(answer.logprob, float) and isinstance(answer.n_tokens, int)
            assert not isinstance(answer.n_tokens, bool)


@FUZZ
@given(content=st.one_of(st.binary(max_size=80), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_manifest_bytes_read_exactly_or_fail_in_one_line(content: bytes) -> None:
    with _directory() as root:
        (root / "manifest.json").write_bytes(content)
        try:
            value = read_json_object(root / "manifest.json")
        except LmauditError as error:
            assert str(error).startswith(f"{root / 'manifest.json'} ") and "\n" not in str(error)
            return
        assert value == json.loads(content) and isinstance(value, dict)
        try:
            state = run_dir_state(root, "run")
        except LmauditError as error:
            assert "\n" not in str(error) and value.get("kind", "run") != "run"
            return
        assert state == "unfinished"


METRIC = st.fixed_dictionaries(
    {}, optional={k: JSON_VALUES for k in ("value", "ci_low", "ci_high", "n", "method")}
)
RESULTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"metrics": st.dictionaries(st.text(max_size=8), METRIC | JSON_VALUES, max_size=3)},
        optional={"usage": JSON_VALUES, "task": JSON_VALUES, "n_samples": JSON_VALUES},
    ),
)


@FUZZ
@given(results=RESULTS)
def test_a_finished_run_with_any_results_prints_or_fails_in_one_line(results: Any) -> None:
    with _directory() as root:
        (root / "manifest.json").write_text(json.dumps({"kind": "score", "seed": 0}))
        (root / "results.json").write_text(json.dumps(results))
        out = StringIO()
        try:
            with redirect_stdout(out):
                assert print_finished_run(root, "score", {"seed": 0}) is True
        except LmauditError as error:
            assert str(error).startswith(f"{root / 'results.json'} is damaged")
            assert "\n" not in str(error)
            return
    assert out.getvalue().endswith("(nothing was run again)\n")


def _valid_cache(root: Path) -> bytes:
    with RequestCache(root) as cache:
        cache.put_many([(f"k{i}", "m@1", Generation(f"answer {i}")) for i in range(20)])
        cache.record_served("m", "m@1", "fp")
    db = sqlite3.connect(root / CACHE_FILE)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return (root / CACHE_FILE).read_bytes()


with tempfile.TemporaryDirectory() as _name:
    VALID_CACHE = _valid_cache(Path(_name))


def _use_cache(root: Path) -> None:
    with RequestCache(root, busy_timeout_s=1.0) as cache:
        found = cache.get_many([f"k{i}" for i in range(20)])
        assert all(isinstance(g, Generation) and isinstance(g.text, str) for g in found.values())
        cache.stats()
        cache.served("m")
        cache.put_many([("new", "m@1", Generation("x"))])


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID_CACHE) - 1), st.binary(min_size=1, max_size=8)),
        max_size=4,
    ),
    cut=st.none() | st.integers(0, len(VALID_CACHE)),
)
@example(edits=[(3768, b"\x80")], cut=None)  # a non-UTF-8 byte inside the schema's text
def test_a_damaged_cache_file_works_or_fails_in_one_line(
    edits: list[tuple[int, bytes]], cut: int | None
) -> None:
    data = bytearray(VALID_CACHE)
    for offset, patch in edits:
        data[offset : offset + len(patch)] = patch
    if cut is not None:
        del data[cut:]
    with _directory() as root:
        (root / CACHE_FILE).write_bytes(bytes(data))
        try:
            _use_cache(root)
        except LmauditError as error:
            assert "\n" not in str(error) and str(root / CACHE_FILE) in str(error)


def _without_usage(value: Any) -> Any:
    return {k: v for k, v in value.items() if k != "u"} if isinstance(value, dict) else value


STORED_BODIES = st.one_of(
    st.text(max_size=40),
    JSON_VALUES.map(json.dumps),
    RESPONSES.map(lambda r: json.dumps(response_to_dict(r))),
    st.builds(
        lambda r, field, value: json.dumps({**response_to_dict(r), field: value}),
        RESPONSES,
        st.sampled_from(["t", "lp", "g", "n", "tl", "x", "f", "p", "c", "u"]),
        JSON_VALUES,
    ),
)


@FUZZ
@given(body=STORED_BODIES)
@example(body='{"t": "g", "x": "", "f": "stop", "p": 0, "c": 0, "u": null, "tl": null}')
@example(body='{"t": "l", "lp": 0.0, "g": true, "n": 0, "tl": [], "u": null, "tg": []}')
def test_a_stored_answer_of_any_shape_is_exact_or_reported(body: str) -> None:
    with _directory() as root:
        (root / CACHE_FILE).write_bytes(VALID_CACHE)
        db = sqlite3.connect(root / CACHE_FILE)
        db.execute("INSERT INTO answers VALUES ('bad', 'm@1', 'Generation', ?, 0)", (body,))
        db.commit()
        db.close()
        with RequestCache(root) as cache:
            try:
                found = cache.get_many(["bad"])
            except LmauditError as error:
                assert str(error).startswith(f"the request cache {root / CACHE_FILE} is not")
                assert "\n" not in str(error)
                return
    stored = json.loads(body)
    assert _without_usage(response_to_dict(found["bad"])) == _without_usage(stored)
