"""Sampling: seeded determinism, rejection, solving `v == expr`, originals (GSM-Symbolic form).

The records below are written for these tests in GSM-Symbolic's published layout; none is
copied from its data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lmaudit.probes.templates import (
    TemplateUnsatisfiable,
    Worded,
    check_conformance,
    failed_conditions,
    instantiate,
    original_instance,
    parse_gsm_symbolic,
)
from lmaudit.probes.templates.sampler import solvable_equalities


def record(annotated: str, question: str = "", answer: str = "") -> dict[str, Any]:
    return {"question": question, "answer": answer, "question_annotated": annotated}


APPLES = record(
    "{name, Ana} has {x, 12} apples and gives {y, 3} to {friend,Ben}. How many are left?\n\n"
    "#init:\n- name, friend = sample(names, 2)\n- $x = range(10, 50)\n- $y = range(1, 10)\n\n"
    "#conditions:\n- y < x\n- divides(x, y)\n\n#answer: x - y",
    question="Ana has 12 apples and gives 3 to Ben. How many are left?",
    answer="Ana keeps 12 - 3 = <<12-3=9>>9.\n#### 9",
)


def test_original_values_reproduce_question_and_answer() -> None:
    template = parse_gsm_symbolic(APPLES, "t/apples")
    original = original_instance(template)
    assert original.question == APPLES["question"]
    assert original.answer == "9"
    assert original.instance == 0 and original.conditions_hold
    assert dict(original.variables) == {"name": "Ana", "friend": "Ben", "x": 12, "y": 3}
    assert instantiate(template, 0) == original
    assert check_conformance(template).ok


def test_instances_are_deterministic_and_meet_conditions() -> None:
    template = parse_gsm_symbolic(APPLES, "t/apples")
    first = [instantiate(template, i) for i in range(1, 60)]
    again = [instantiate(template, i) for i in range(1, 60)]
    assert first == again
    assert len({item.question for item in first}) > 50  # different instances differ
    for item in first:
        assert failed_conditions(template, item.variables) == []
        x, y = item.variables["x"], item.variables["y"]
        assert 10 <= x < 50 and 1 <= y < 10 and x % y == 0  # range is half-open
        assert item.answer == str(x - y)
        assert item.variables["name"] != item.variables["friend"]


def test_instances_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "import json, sys; from lmaudit.probes.templates import parse_gsm_symbolic, instantiate;"
        "t = parse_gsm_symbolic(json.loads(sys.argv[1]), 't/apples');"
        "print(instantiate(t, 7).question)"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code, json.dumps(APPLES)],
            capture_output=True, text=True, env=env, check=True,
        )
        outputs.add(result.stdout)
    template = parse_gsm_symbolic(APPLES, "t/apples")
    assert outputs == {instantiate(template, 7).question + "\n"}


def test_unsatisfiable_template_names_its_condition() -> None:
    template = parse_gsm_symbolic(
        record("{x,1} and {y,2}.\n#init:\n- $x = range(1, 5)\n- $y = range(1, 5)\n"
               "#conditions:\n- x > 0\n- x + y > 100\n#answer: x"),
        "t/impossible",
    )
    with pytest.raises(TemplateUnsatisfiable, match=r"x \+ y > 100.*200 times"):
        instantiate(template, 1, max_attempts=200)


HIDDEN = record(
    "A box has {r,4} red and {b,5} blue pens, {total,15} in all. How many are green?\n\n"
    "#init:\n- $r = range(2, 20)\n- $b = range(2, 20)\n- $total = range(30, 60)\n"
    "- $ans = range(20, 90)\n\n#conditions:\n- r + b + ans == total\n\n#answer: $ans",
    question="A box has 4 red and 5 blue pens, 15 in all. How many are green?",
    answer="#### 6",
)


def test_hidden_variable_is_solved_even_below_its_range() -> None:
    template = parse_gsm_symbolic(HIDDEN, "t/hidden")
    original = original_instance(template)
    # ans = 15 - 4 - 5 = 6 lies below range(20, 90): the domain is widened down to 0.
    assert original.answer == "6" and original.conditions_hold
    assert check_conformance(template).ok


def test_equality_is_solved_instead_of_guessed() -> None:
    template = parse_gsm_symbolic(HIDDEN, "t/hidden")
    # `r + b + ans == total` fixes total (the bare name), drawn after the others.
    assert set(solvable_equalities(template)) == {"total"}
    # Guessing total succeeds in about 1 draw of 80, so 60 draws would fail about half the
    # instances; solving succeeds whenever r + b + ans lands in range(30, 60) (about 1 in 3).
    for i in range(1, 40):
        item = instantiate(template, i, max_attempts=60)
        values = item.variables
        assert values["r"] + values["b"] + values["ans"] == values["total"]
        assert 30 <= values["total"] < 60 and 20 <= values["ans"] < 90


def test_solving_keeps_the_rejection_sampling_distribution() -> None:
    # ans is drawn from [2, 3, 3, 4]: rejection sampling keeps (x, y) with weight
    # count(x + y), i.e. P(sum 2) = 1/8, P(sum 3) = 2*2/8, P(sum 4) = 3/8 for x, y in 1..3.
    template = parse_gsm_symbolic(
        record("{x,1}+{y,1}\n#init:\n- $x = range(1, 4)\n- $y = range(1, 4)\n"
               "- $ans = [2, 3, 3, 4]\n#conditions:\n- ans == x + y\n#answer: ans"),
        "t/weights",
    )
    n = 3000
    sums = Counter(int(instantiate(template, i).answer) for i in range(1, n + 1))
    for total, probability in ((2, 1 / 8), (3, 4 / 8), (4, 3 / 8)):
        sd = (probability * (1 - probability) / n) ** 0.5
        assert abs(sums[total] / n - probability) < 4 * sd
    assert set(sums) == {2, 3, 4}


def test_gsm_symbolic_constructs() -> None:
    annotated = (
        "{c,Red} pens cost {cur,$}{p,1.50}. {name,Mia} buys {m,twice} as many as {n,two} "
        "{c,red} pens on {d1,Saturday} and {d2,Sunday}, using a {die,six-sided} die.\n\n"
        "#init:\n- c = sample(colors)\n- cur = sample(currencies_sym)\n"
        "- $p = np.arange(0.5, 3, 0.25)\n- name = sample(names)\n"
        "- $m = sample(multiple_ice + multi_times)\n- $n = numbers_within(2, 5)\n"
        "- d1, d2 = sample_sequential(weekdays, 2)\n"
        "- $die = sample([(\"four-sided\", 4), (\"six-sided\", 6)])\n\n"
        "#answer = {$m * n * p * die}"
    )
    template = parse_gsm_symbolic(record(annotated), "t/constructs")
    original = original_instance(template)
    assert original.question == (
        "Red pens cost $1.50. Mia buys twice as many as two red pens on Saturday and Sunday, "
        "using a six-sided die."
    )
    assert original.answer == "36"  # 2 * 2 * 1.5 * 6
    assert original.variables["die"] == Worded("six-sided", 6)
    for i in range(1, 30):
        item = instantiate(template, i)
        p = item.variables["p"]
        assert item.question.split()[0][0].isupper()  # a capitalised slot stays capitalised
        expected = (
            item.variables["m"].value * item.variables["n"].value * Fraction(p)
            * item.variables["die"].value
        )
        assert Fraction(item.answer) == expected
        rendered_price = f"{Fraction(p).numerator / Fraction(p).denominator:.2f}"
        assert f"{item.variables['cur']}{rendered_price}" in item.question  # 2 decimals kept


def test_conflicting_originals_are_notes_not_failures() -> None:
    template = parse_gsm_symbolic(
        record("{n,Garrett} met {n,Garret}.\n#init:\n- n = sample(names)\n#answer: 1"),
        "t/slip",
    )
    assert template.notes == ("slot 'n' has two originals ('Garrett' and 'Garret')",)
    assert original_instance(template).question == "Garrett met Garret."  # as annotated


def test_conformance_reports_mismatches() -> None:
    wrong = dict(APPLES, answer="#### 10", question="Ana has 12 apples.")
    report = check_conformance(parse_gsm_symbolic(wrong, "t/wrong"))
    assert report.question_matches is False and report.answer_matches is False
    assert any("question differs at char" in p for p in report.problems)
    assert "answer 9 != 10" in report.problems


def test_p1_files_do_not_claim_to_reproduce_their_source(tmp_path: Path) -> None:
    folder = tmp_path / "p1"
    folder.mkdir()
    (folder / "0001.json").write_text(json.dumps(dict(APPLES, question="Other text.")))
    from lmaudit.probes.templates import load_template_file

    template = load_template_file(folder / "0001.json")
    assert template.id == "gsm-symbolic/p1/0001" and not template.reproduces_source
    assert check_conformance(template).question_matches is None
