"""Denial-of-service bounds of the template evaluator and sampler, and linear solving.

Every hostile expression fails fast with lmaudit's own error; a template fails with one
line naming it and the expression; one bad template does not stop `probe generate`.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from lmaudit.cli import main
from lmaudit.probes.templates import (
    EvaluationError,
    TemplateError,
    instantiate,
    load_template_file,
    parse_gsm_symbolic,
)
from lmaudit.probes.templates.evaluator import evaluate
from lmaudit.probes.templates.helpers import make_functions
from lmaudit.probes.templates.sampler import solvable_equalities
from lmaudit.probes.templates.solving import equation_plan, is_affine
from lmaudit.probes.templates.values import Budget


def run(source: str, **variables: object) -> object:
    return evaluate(source, variables, make_functions(random.Random(0)))


HOSTILE = [
    ("'x' in range(10**10)", "more than 1000000000 items"),
    ("round(1/3, 10**8)", "exceeds the limit 64"),
    ("round(2.5, -10**9)", "exceeds the limit 64"),
    ("sum(range(10**12))", "more than 1000000000 items"),
    ("sum(range(10**8))", "over the limit 100000"),
    ("min(range(10**8))", "over the limit 100000"),
    ("len(range(10**20))", "more than 1000000000 items"),
    ("[1] * 10**9", "sequence longer than 100000"),
    ("'ab' * 10**9", "sequence longer than 100000"),
    ("[[1] * 1000] * 1000", "sequence longer than 100000"),
    ("[1] * 60000 + [2] * 60000", "sequence longer than 100000"),
    ("10**10**10", "exponent 10000000000 exceeds"),
    ("range(0, 10**8)[::1]", "over the limit 100000"),
    ("fix_floats(range(10**8))", "over the limit 100000"),
    ("sample(range(10**8), 10**6)", "exceeds 100000"),
    ("'%999999999d' % 1", "numbers only"),
    ("[1, 2][::0]", "slice step cannot be zero"),
    ("[1][::'a']", "slice bounds must be integers"),
    ("1 in 5", "'in' needs a list"),
    ("1e999", "non-finite"),
    ("9" * 1300, "integer literal over 4096 bits"),
    ("-" * 80 + "1", "nests over 60 deep"),
]


@pytest.mark.parametrize(("source", "message"), HOSTILE)
def test_hostile_expressions_fail_fast_with_our_error(source: str, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        run(source)
    assert message in str(caught.value)
    assert time.perf_counter() - start < 0.5


def test_membership_in_a_range_is_exact_and_constant_time() -> None:
    assert run("5 in range(10)") is True
    assert run("10 in range(10)") is False
    assert run("4 in range(0, 10, 2)") is True and run("5 in range(0, 10, 2)") is False
    assert run("x in range(5)", x=2) is True  # 2 from "4/2" is an integer
    assert run("1/2 in range(5)") is False
    start = time.perf_counter()
    assert run("'x' in range(10**9)") is False
    assert run("10**9 - 1 in range(10**9)") is True
    assert time.perf_counter() - start < 0.05


def test_budget_stops_work_after_its_limit() -> None:
    budget = Budget(1000)
    budget.charge(1000)
    with pytest.raises(EvaluationError, match="work budget of 1000 units exhausted"):
        budget.charge(1)


def gsm(annotated: str) -> dict[str, Any]:
    return {"question": "", "answer": "", "question_annotated": annotated}


def test_a_slow_failing_template_stops_on_its_budget_naming_it() -> None:
    # every draw walks 90,000 items and fails: the 20,000,000-unit budget stops it after
    # about 220 draws instead of 20,000 (minutes)
    template = parse_gsm_symbolic(
        gsm("{x,1}\n#init:\n- $x = range(1, 9)\n#conditions:\n- sum(range(90000)) < 0\n"
            "#answer: x"),
        "t/slow",
    )
    start = time.perf_counter()
    with pytest.raises(EvaluationError) as caught:
        instantiate(template, 1)
    message = str(caught.value)
    assert message.startswith("template t/slow: expression 'sum(range(90000)) < 0': ")
    assert "work budget" in message and "\n" not in message
    assert time.perf_counter() - start < 10


def test_an_init_error_names_template_and_expression() -> None:
    template = parse_gsm_symbolic(
        gsm("{x,1}\n#init:\n- $x = sum(range(10**8))\n#answer: x"), "t/huge"
    )
    with pytest.raises(EvaluationError) as caught:
        instantiate(template, 1)
    assert str(caught.value) == (
        "template t/huge: expression 'sum(range(10**8))': sum() argument has 100000000 "
        "items, over the limit 100000"
    )


def test_gsm_symbolic_json_without_init_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "0001.json"
    path.write_text(json.dumps(gsm("{x,1} apples\n#answer: x")))
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    assert str(caught.value).startswith(f"{path}: question_annotated has no #init section")


def test_generate_writes_good_templates_and_lists_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "symbolic"
    folder.mkdir()
    good = "{x,2} apples and {y,3} pears. How many?\n#init:\n- $x = range(1, 9)\n" \
           "- $y = range(1, 9)\n#answer: x + y"
    (folder / "0000.json").write_text(json.dumps(gsm(good)))
    (folder / "0001.json").write_text(json.dumps(gsm(
        "{x,1}\n#init:\n- $x = range(1, 9)\n#conditions:\n- 'x' in [1] * 10**9\n#answer: x")))
    (folder / "0002.json").write_text(json.dumps(gsm("{x,1}\n#answer: x")))
    out = tmp_path / "out.jsonl"
    assert main(["probe", "generate", "--templates", str(folder), "--n", "3",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["template_id"] for x in lines] == ["gsm-symbolic/symbolic/0000"] * 3
    assert all(int(x["answer"]) == x["variables"]["x"] + x["variables"]["y"] for x in lines)
    skipped = sorted(line for line in err.splitlines() if line.startswith("skipped "))
    assert len(skipped) == 2
    assert "0001.json: template gsm-symbolic/symbolic/0001: expression" in skipped[0]
    assert "sequence longer than 100000 items" in skipped[0]
    assert "0002.json: question_annotated has no #init section" in skipped[1]


# --- linear equalities ---------------------------------------------------------------------

EGGS = gsm(
    "{n1,3} a day for {d1,30} days, then {n2,5} a day, for {k,2} weeks.\n#init:\n"
    "- $n1 = range(2, 11)\n- $n2 = range(4, 13)\n- $d1 = range(10, 110)\n"
    "- $d2 = range(10, 110)\n- $k = range(2, 15)\n#conditions:\n- k * 7 == d1 + d2\n"
    "- n2 > n1\n- divides(n1*d1 + n2*d2, 12)\n#answer: (n1*d1 + n2*d2) // 12"
)


def test_affinity_is_read_from_the_syntax() -> None:
    import ast

    def affine(source: str, name: str) -> bool:
        return is_affine(ast.parse(source, mode="eval").body, name)

    assert affine("3 * x - (y + 2) / 4", "x")
    assert affine("-(x * k) / 7", "x")
    assert not affine("x * x", "x")
    assert not affine("12 / x", "x")
    assert not affine("int(x)", "x")
    assert not affine("x // 2", "x")


def test_an_affine_equality_is_solved_for_its_widest_variable() -> None:
    template = parse_gsm_symbolic(EGGS, "t/eggs")
    assert solvable_equalities(template) == {}  # no bare `name == ...` side
    plan = equation_plan(template, {}, make_functions(random.Random(0)))
    assert list(plan) == ["d2"]  # d1 and d2 have 100 values each; d2 comes later
    assert plan["d2"].index == 0
    for index in range(1, 51):
        values = instantiate(template, index, max_attempts=2000).variables
        assert values["k"] * 7 == values["d1"] + values["d2"]
        assert 10 <= values["d2"] < 110 and values["n2"] > values["n1"]


# --- backtracking search ---------------------------------------------------------------------


def test_rare_conditions_are_met_by_the_seeded_search() -> None:
    from lmaudit.probes.templates import TemplateUnsatisfiable

    # acceptance 8 / 99**3 (about 1 draw in 120,000): rejection sampling gives up
    template = parse_gsm_symbolic(
        gsm("{a,37} {b,41} {c,43}\n#init:\n- $a = range(1, 100)\n- $b = range(1, 100)\n"
            "- $c = range(1, 100)\n#conditions:\n- divides(a, 37)\n- divides(b, 41)\n"
            "- divides(c, 43)\n#answer: a + b + c"),
        "t/rare",
    )
    with pytest.raises(TemplateUnsatisfiable, match="most often failed"):
        instantiate(template, 1, max_attempts=2000)
    seen = set()
    for index in range(1, 21):
        values = instantiate(template, index).variables
        assert values["a"] in (37, 74) and values["b"] in (41, 82) and values["c"] in (43, 86)
        seen.add((values["a"], values["b"], values["c"]))
        assert instantiate(template, index).variables == values  # deterministic
    assert len(seen) >= 4  # the search's random orders reach several of the 8 solutions
