"""Property-based fuzzing of the template evaluator and the template parsers (issue 11).

Every expression either evaluates or raises lmaudit's own error (`TemplateError`); every
GSM-Symbolic record or lmaudit YAML document either parses or raises a `TemplateError`
naming the template; a parsed template's instances and original either come out or fail
with a `TemplateError` whose message names the template. Each example runs in a forked
child process with a hard time limit (`SECONDS`, the child is killed past it) and a memory
limit (`MEMORY_MB` more than the parent holds, `RLIMIT_AS`): a hang, a memory blow-up, a
crash or any other exception fails the property. Examples are few and small so that the
file runs in seconds.
"""

from __future__ import annotations

import json
import os
import random
import resource
import select
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmaudit.probes.templates import (
    TemplateError,
    instantiate,
    original_instance,
    parse_gsm_symbolic,
    parse_lmaudit_template,
)
from lmaudit.probes.templates.evaluator import ALLOWED_CALLS, evaluate
from lmaudit.probes.templates.helpers import make_functions

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="the per-example limits need fork and RLIMIT_AS (Linux)"
)

SECONDS = 10.0  # generous: the machine may be busy; a real hang still fails
MEMORY_MB = 1024
FUZZ = settings(
    max_examples=70,
    deadline=None,  # the child's hard limit replaces Hypothesis's soft deadline
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def bounded(task: Callable[[], object], seconds: float = SECONDS) -> tuple[str, str]:
    """Run `task` in a forked child under the limits: ("ok", repr of the result),
    ("lmaudit", message), ("other", traceback), ("timeout", "") or ("crash", status)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        os.close(reader)
        try:
            limit = _address_space() + MEMORY_MB * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            outcome = ("ok", repr(task())[:200])
        except TemplateError as error:
            outcome = ("lmaudit", str(error))
        except BaseException:  # reported to the parent, which fails the property
            outcome = ("other", traceback.format_exc()[-2000:])
        os.write(writer, json.dumps(outcome).encode())
        os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], seconds)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", ""
        chunks = []
        while chunk := os.read(reader, 65536):
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(reader)
    if not chunks:
        return "crash", str(status)
    kind, text = json.loads(b"".join(chunks))
    return kind, text


def assert_contained(outcome: tuple[str, str], name: str | None = None) -> None:
    kind, text = outcome
    assert kind in ("ok", "lmaudit"), f"{kind}: {text}"
    if kind == "lmaudit":
        assert text and "\n" not in text, text
        if name is not None:
            assert name in text, text


# --- expressions -----------------------------------------------------------------------------

NAMES = st.sampled_from(["x", "y", "xs", "w", "names", "nope"])
NUMBERS = st.one_of(
    st.integers(-5, 30).map(str),
    st.sampled_from(["0", "10**9", "10**10", "10**12", "10**100", "2**64", "1/3", "0.25",
                     "1e308", "1e-300", "-1", "10**8"]),
)
TEXTS = st.sampled_from(["'x'", "'ab'", "''", "'%d'", "'%999999999d'", "'{}'"])
ATOMS = st.one_of(NAMES, NUMBERS, TEXTS, st.just("[1, 2, 3]"), st.just("()"))
BINARY = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<", "==", " in ", " not in ",
                          " and ", " or "])
CALLS = st.sampled_from(sorted(ALLOWED_CALLS))


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, BINARY, inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(CALLS, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}:{t[2]}]"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(st.sampled_from(["-", "not ", "+"]), inner).map(lambda t: t[0] + t[1]),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=8)
RAW = st.text(alphabet="xyn0129()[]+-*/%<>=!., '\"_:eE", max_size=40)
VARIABLES = {"x": 7, "y": 0, "xs": [1, 2, 3], "w": ("twice", 2), "names": ("Ana", "Ben")}


def _evaluate(source: str) -> Callable[[], object]:
    return lambda: evaluate(source, VARIABLES, make_functions(random.Random(0)))


@FUZZ
@given(EXPRESSIONS)
def test_generated_expressions_evaluate_or_fail_with_our_error(source: str) -> None:
    assert_contained(bounded(_evaluate(source)))


@FUZZ
@given(RAW)
def test_raw_text_evaluates_or_fails_with_our_error(source: str) -> None:
    assert_contained(bounded(_evaluate(source)))


@pytest.mark.parametrize("source", [
    "'x' in range(10**10)", "round(1/3, 10**8)", "sum(range(10**12))", "[1] * 10**10",
    "'ab' * 10**10", "10**10**10", "list(range(10**9))", "[[1] * 10**4] * 10**4",
    "max(range(10**9))", "numbers_within(1, 10**9)", "np.arange(0, 10**9, 1/3)",
])
def test_the_reported_hostile_expressions_are_contained(source: str) -> None:
    kind, text = bounded(_evaluate(source))
    assert kind == "lmaudit", f"{kind}: {text}"


# --- templates -------------------------------------------------------------------------------

SLOT_TEXT = st.sampled_from(["Ana", "12", "1.50", "twice", "half", "", "9" * 5000, "{", "a,b"])
QUESTION = st.lists(
    st.one_of(
        st.sampled_from(["Ana has ", " apples", ". How many?", "\n", "#", "$"]),
        st.tuples(NAMES, SLOT_TEXT).map(lambda t: "{" + t[0] + "," + t[1] + "}"),
        NAMES.map(lambda n: "{" + n + "}"),
    ),
    max_size=6,
).map("".join)
INIT_LINE = st.tuples(st.sampled_from(["$x", "y", "x, y", "$xs", "w", "$", "1x"]),
                      EXPRESSIONS).map(lambda t: f"- {t[0]} = {t[1]}")


@st.composite
def gsm_records(draw: st.DrawFn) -> dict[str, Any]:
    parts = [draw(QUESTION)]
    if draw(st.booleans()):
        parts.append("#init:\n" + "\n".join(draw(st.lists(INIT_LINE, max_size=4))))
    if draw(st.booleans()):
        parts.append("#conditions:\n" + "\n".join(
            "- " + c for c in draw(st.lists(EXPRESSIONS, max_size=3))))
    if draw(st.booleans()):
        parts.append("#answer: " + draw(EXPRESSIONS))
    record: dict[str, Any] = {"question_annotated": "\n".join(parts)}
    if draw(st.booleans()):
        record["question"] = draw(st.text(max_size=20))
    if draw(st.booleans()):
        record["answer"] = "x\n#### " + draw(st.sampled_from(["1", "1,234", "", "x"]))
    return record


def _exercise(build: Callable[[], Any]) -> Callable[[], object]:
    def run() -> object:
        template = build()
        original_instance(template)
        return instantiate(template, 1, max_attempts=50)

    return run


@settings(FUZZ, max_examples=150)
@given(gsm_records())
def test_gsm_symbolic_records_parse_and_instantiate_or_name_the_template(
    record: dict[str, Any],
) -> None:
    outcome = bounded(_exercise(lambda: parse_gsm_symbolic(record, "fuzz/0001")))
    assert_contained(outcome, "fuzz/0001")


YAML_VARIABLE = st.one_of(
    st.fixed_dictionaries({"int": st.lists(st.integers(-5, 10**12), min_size=2, max_size=3)}),
    st.fixed_dictionaries({"expr": EXPRESSIONS}),
    st.fixed_dictionaries({"choices": st.lists(st.sampled_from(["a", "b", 3]), max_size=3)}),
    st.fixed_dictionaries({"words": st.lists(st.sampled_from(["half", "twice", "x"]),
                                             max_size=2)}),
    st.fixed_dictionaries({"vocab": st.sampled_from(["names", "nope", "1"])}),
    st.sampled_from([None, 3, "x", []]),
)


@st.composite
def yaml_documents(draw: st.DrawFn) -> dict[str, Any]:
    variables = draw(st.dictionaries(st.sampled_from(["x", "y", "name", "__x"]), YAML_VARIABLE,
                                     max_size=3))
    document: dict[str, Any] = {
        "id": draw(st.sampled_from(["fuzz-1", "", "bad id"])),
        "question": draw(st.sampled_from(["{name} has {x}. And {y}? Yes.", "{zz}?", "Q?"])),
        "variables": variables,
        "answer": draw(EXPRESSIONS),
        "original": draw(st.dictionaries(st.sampled_from(["x", "y", "name"]),
                                         st.sampled_from([1, "Ana", "half"]), max_size=3)),
    }
    if draw(st.booleans()):
        document["conditions"] = draw(st.lists(EXPRESSIONS, max_size=2))
    return document


@FUZZ
@given(yaml_documents())
def test_lmaudit_templates_parse_and_instantiate_or_name_the_template(
    document: dict[str, Any],
) -> None:
    outcome = bounded(_exercise(lambda: parse_lmaudit_template(document, "fuzz.yaml")))
    assert_contained(outcome)
    kind, text = outcome
    if kind == "lmaudit":
        assert "fuzz.yaml" in text or "fuzz-1" in text, text


FILE_BYTES = st.one_of(
    st.binary(max_size=60),
    gsm_records().map(lambda r: json.dumps(r).encode()),
    st.sampled_from([b"[" * 5000 + b"]" * 5000, b'{"question_annotated": 5}', b"\xff\xfe",
                     b'{"question_annotated": "' + b"9" * 5000 + b'"}', b"null", b"[]"]),
)


@settings(FUZZ, max_examples=40)
@given(FILE_BYTES, st.sampled_from(["symbolic/0001.json", "t.yaml"]))
def test_template_files_load_or_fail_naming_the_file(data: bytes, name: str) -> None:
    import tempfile
    from pathlib import Path

    from lmaudit.probes.templates import load_template_file

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        outcome = bounded(lambda: load_template_file(path))
    kind, text = outcome
    assert_contained(outcome)
    if kind == "lmaudit":
        assert str(path) in text or "symbolic/0001" in text, text


@pytest.mark.parametrize("name", ["symbolic/0001.json", "t.yaml", "vocabularies.yaml"])
def test_deeply_nested_template_files_are_one_clear_error(name: str, tmp_path: Any) -> None:
    from lmaudit.probes.templates import load_template_dir

    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[" * 5000 + "]" * 5000)
    def listed() -> list[bool]:
        failures = load_template_dir(tmp_path)[1]
        return [f"{path}: cannot read" in reason and "nested too deeply" in reason
                for _, reason in failures]

    kind, text = bounded(listed)
    if name == "vocabularies.yaml":  # a broken vocabulary file stops the directory
        assert (kind, text) == ("lmaudit", f"{path}: cannot read YAML: nested too deeply")
    else:  # a broken template file is listed, the directory still loads
        assert (kind, text) == ("ok", "[True]")


# --- the harness itself ----------------------------------------------------------------------


def test_the_harness_reports_hangs_memory_blowups_and_foreign_errors() -> None:
    import time

    assert bounded(lambda: 6 * 7) == ("ok", "42")
    assert bounded(lambda: time.sleep(30), seconds=1)[0] == "timeout"
    kind, text = bounded(lambda: bytearray(4 * MEMORY_MB * 2**20))
    assert kind == "other" and "MemoryError" in text
    kind, text = bounded(lambda: [][1])
    assert kind == "other" and "IndexError" in text
    assert bounded(_evaluate("1 in 5"))[0] == "lmaudit"
