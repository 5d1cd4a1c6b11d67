"""The restricted template evaluator: what it computes, and every construct it refuses."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates.evaluator import (
    MAX_EXPONENT,
    DivisionByZero,
    EvaluationError,
    ExpressionRefused,
    Worded,
    compile_expression,
    evaluate,
)
from lmaudit.probes.templates.helpers import make_functions


def run(source: str, **variables: object) -> object:
    import random

    return evaluate(source, variables, make_functions(random.Random(0)))


# --- refusals at compile time -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("().__class__", "attribute access"),
        ("(1).real", "attribute access"),
        ("x.__class__.__bases__", "attribute access"),
        ("__import__('os')", "double underscore"),
        ("__builtins__", "double underscore"),
        ("lambda: 1", "lambda"),
        ("open('/etc/passwd')", "call of 'open'"),
        ("eval('1+1')", "call of 'eval'"),
        ("getattr(x, 'y')", "call of 'getattr'"),
        ("os.system('ls')", "call of 'os.system'"),
        ("np.load('x')", "call of 'np.load'"),
        ("(lambda: 1)()", "lambda"),
        ("[i for i in range(3)]", "comprehension"),
        ("{1: 2}", "dict literal"),
        ("{1, 2}", "set literal"),
        ("f'{x}'", "f-string"),
        ("(y := 3)", "assignment expression"),
        ("max(*xs)", "starred"),
        ("round(x, ndigits=2)", "keyword argument"),
        ("x if True else y.z", "attribute access"),
        ("1j", "constant of type complex"),
        ("b'x'", "constant of type bytes"),
        ("x is None", "comparison Is"),
        ("x @ y", "operator MatMult"),
        ("~x", "operator Invert"),
        ("x << 2", "operator LShift"),
    ],
)
def test_refuses_constructs_outside_the_whitelist(source: str, reason: str) -> None:
    with pytest.raises(ExpressionRefused, match="not allowed") as caught:
        compile_expression(source)
    assert reason in str(caught.value)


def test_import_statements_do_not_parse_as_expressions() -> None:
    with pytest.raises(ExpressionRefused, match="cannot parse"):
        compile_expression("import os")


def test_refusals_are_user_errors() -> None:
    with pytest.raises(LmauditError):
        compile_expression("().__class__")


# --- refusals at evaluation time (limits) --------------------------------------------------


def test_exponent_limit() -> None:
    assert run(f"2 ** {MAX_EXPONENT}") == 2**MAX_EXPONENT
    with pytest.raises(EvaluationError, match="exponent"):
        run(f"2 ** {MAX_EXPONENT + 1}")
    with pytest.raises(EvaluationError, match="exponent"):
        run("9 ** 9 ** 9")


def test_power_result_size_limit() -> None:
    # 10**60 has 200 bits; its 60th power (12,000 bits) would exceed MAX_INT_BITS = 4096.
    with pytest.raises(EvaluationError, match="bits"):
        run("(10 ** 60) ** 60")


def test_fractional_exponent_is_refused() -> None:
    with pytest.raises(EvaluationError, match="integer"):
        run("4 ** (1/2)")


def test_sequence_repetition_limit() -> None:
    assert len(run("[1, 2] * 10")) == 20  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="sequence"):
        run("[1] * 10 ** 6")
    with pytest.raises(EvaluationError, match="sequence"):
        run("'ab' * 10 ** 6")
    with pytest.raises(EvaluationError, match="items"):
        run("list(range(10 ** 7))")


def test_unknown_name_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="unknown name 'nope'"):
        run("nope + 1")


def test_division_by_zero_is_its_own_error() -> None:
    with pytest.raises(DivisionByZero):
        run("1 / 0")
    with pytest.raises(DivisionByZero):
        run("5 % (x - x)", x=3)


def test_type_errors_become_evaluation_errors() -> None:
    with pytest.raises(EvaluationError, match="cannot apply"):
        run("'a' - 1")


# --- what it computes ----------------------------------------------------------------------


def test_arithmetic_is_exact() -> None:
    assert run("0.1 + 0.2 == 0.3") is True  # exact decimals, unlike floats
    assert run("7 / 2") == Fraction(7, 2)
    assert run("8 / 2") == 4 and isinstance(run("8 / 2"), int)  # normalised to int
    assert run("7 // 2") == 3
    assert run("-7 // 2") == -4
    assert run("7 % 3") == 1
    assert run("2 ** -2") == Fraction(1, 4)
    assert run("(1/3) * 3") == 1


def test_int_truncates_and_round_is_half_even() -> None:
    assert run("int(7/2)") == 3
    assert run("int(-7/2)") == -3
    assert run("round(5/2)") == 2
    assert run("round(7/2)") == 4
    assert run("round(2.675, 2)") == Fraction("2.68")  # exact: 2.675 is a tie, to even 8
    assert run("round(1.005, 2)") == 1  # exact tie rounds to even 0 → 1.00


def test_comparisons_logic_and_conditionals() -> None:
    assert run("1 < x <= 3", x=3) is True
    assert run("1 < x <= 3", x=4) is False
    assert run("x == 2 and y != 2", x=2, y=3) is True
    assert run("not (x > 1) or y", x=5, y=0) == 0
    assert run("7 if unit == 'week' else 30", unit="week") == 7
    assert run("7 if unit == 'week' else 30", unit="month") == 30
    assert run("'b' in ['a', 'b']") is True
    assert run("3 not in range(3)") is True


def test_subscripts_and_slices() -> None:
    assert run("xs[1]", xs=[4, 5, 6]) == 5
    assert run("xs[:2]", xs=[4, 5, 6]) == [4, 5]
    assert run("xs[-1]", xs=(1, 2)) == 2
    with pytest.raises(EvaluationError, match="out of range"):
        run("xs[5]", xs=[1])
    with pytest.raises(EvaluationError, match="cannot subscript"):
        run("x[0]", x=3)


def test_worded_values_act_as_numbers_and_as_text() -> None:
    twice = Worded("twice", 2)
    half = Worded("half", Fraction(1, 2))
    assert run("k * m", k=7, m=twice) == 14
    assert run("n * f", n=9, f=half) == Fraction(9, 2)
    assert run("m[0]", m=twice) == "twice"
    assert run("m[1]", m=twice) == 2
    assert run("m == 2", m=twice) is True
    assert run("m == 'twice'", m=twice) is True
    assert run("-m", m=twice) == -2


def test_helpers_only_run_when_provided() -> None:
    with pytest.raises(EvaluationError, match="not available"):
        evaluate("is_int(3)")


def test_free_names_and_calls_are_recorded() -> None:
    expression = compile_expression("divides(a * b, c) and is_int(d)")
    assert expression.names == {"a", "b", "c", "d"}
    assert expression.calls == {"divides", "is_int"}


def test_equality_conditions_are_marked_for_solving() -> None:
    solved = compile_expression("ans == n - 3 * k").equality
    assert solved is not None and solved[0] == "ans" and solved[1].source == "n - 3 * k"
    reversed_ = compile_expression("x + 1 == total").equality
    assert reversed_ is not None and reversed_[0] == "total"
    assert compile_expression("x == x + 0").equality is None  # reads itself
    assert compile_expression("x < y").equality is None
