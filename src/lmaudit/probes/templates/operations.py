"""The operations a compiled template expression performs: operator tables, exact and
bounded arithmetic, work charging, subscripts (see `evaluator` for the rules)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from lmaudit.probes.templates.values import (
    ITEM_UNITS,
    MAX_SEQUENCE,
    DivisionByZero,
    EvaluationError,
    Scope,
    Worded,
    bounded_modulo,
    bounded_power,
    bounded_repeat,
    check_size,
    exact_divide,
    iterable,
    membership,
    normalise,
    sequence_size,
    unwrap,
)

# helpers that walk every item of their argument (a range argument costs its length)
ITERATING_CALLS = frozenset({"sum", "min", "max", "list", "fix_floats", "shuffle_list"})
Compiled = Callable[[Scope], Any]

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: bounded_repeat,
    ast.Div: exact_divide,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: bounded_modulo,
    ast.Pow: bounded_power,
}
COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: membership,
    ast.NotIn: lambda a, b: not membership(a, b),
}
REFUSED_NODES = {
    ast.Attribute: "attribute access",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.JoinedStr: "f-string",
    ast.NamedExpr: "assignment expression",
    ast.Starred: "starred argument",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def operand(value: Any, other: Any) -> Any:
    """Unwrap a Worded operand unless it meets a string (then it stands for its text)."""
    if isinstance(value, Worded):
        return value.text if isinstance(unwrap(other), str) else value.value
    return value


def arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        x, y = operand(a, b), operand(b, a)
        try:
            return check_size(normalise(op(x, y)))
        except ZeroDivisionError as error:
            raise DivisionByZero("division by zero") from error
        except (TypeError, ValueError, OverflowError) as error:
            raise EvaluationError(
                f"cannot apply operator to {type(x).__name__} and {type(y).__name__}"
            ) from error

    return apply


def charged(scope: Scope, value: Any) -> Any:
    """`value`, after charging the scope's budget for the sequence items it holds."""
    scope.budget.charge(sequence_size(value))
    return value


def dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def call_units(name: str, value: Any) -> int:
    """Work units of passing `value` to helper `name` (a walked range costs its items)."""
    if name in ITERATING_CALLS and type(value) is range:
        return ITEM_UNITS * min(len(value), MAX_SEQUENCE)
    return sequence_size(value)


def index_value(target: Any, index: Any, source: str) -> Any:
    if isinstance(target, Worded):
        target = (target.text, target.value)
    if not isinstance(target, list | tuple | str | range):
        raise EvaluationError(f"cannot subscript a {type(target).__name__} in {source!r}")
    if not isinstance(index, int | slice) or isinstance(index, bool):
        raise EvaluationError(f"index must be an integer in {source!r}")
    if isinstance(index, slice) and not all(
        part is None or (type(part) is int) for part in (index.start, index.stop, index.step)
    ):
        raise EvaluationError(f"slice bounds must be integers in {source!r}")
    try:
        value = target[index]
    except IndexError:
        raise EvaluationError(f"index {index} out of range in {source!r}") from None
    except (ValueError, OverflowError) as error:
        raise EvaluationError(f"bad slice in {source!r}: {error}") from None
    if isinstance(value, range):
        return list(iterable(value, f"a slice in {source!r}"))
    return check_size(value)
