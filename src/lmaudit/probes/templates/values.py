"""Values, errors and exact arithmetic shared by the template evaluator and its helpers.

Numbers are `int` or `Fraction` (never float); `normalise` turns `Fraction(n, 1)` into `int`.
A `Worded` value is a number written as words or a symbol ("twice" is 2, "1/2" is 1/2).
The limits guard against expressions that would exhaust memory or time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from lmaudit.core.types import LmauditError

MAX_EXPONENT = 64
MAX_INT_BITS = 4096
MAX_SEQUENCE = 100_000


class TemplateError(LmauditError):
    """A template (or one of its expressions) is malformed or cannot be used."""


class ExpressionRefused(TemplateError):
    """An expression uses a construct outside the whitelist."""


class EvaluationError(TemplateError):
    """An allowed expression failed while evaluating (wrong types, unknown name, limits)."""


class DivisionByZero(EvaluationError):
    """Division or modulo by zero; the sampler treats it as a rejected draw."""


@dataclass(frozen=True)
class Worded:
    """A number written as words or a symbol, e.g. `Worded("twice", 2)`, `Worded("1/2", 1/2)`."""

    text: str
    value: int | Fraction

    def __str__(self) -> str:
        return self.text


Number = int | Fraction


@dataclass(frozen=True)
class Scope:
    """What an expression can see: variable (and vocabulary) values, and helper functions."""

    variables: Mapping[str, Any]
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


def normalise(value: Any) -> Any:
    """`Fraction(n, 1)` → `int(n)`; floats become exact Fractions; anything else unchanged."""
    kind = type(value)  # exact type checks: isinstance on Fraction goes through ABCMeta
    if kind is Fraction:
        return int(value) if value.denominator == 1 else value
    if kind is float:
        return normalise(Fraction(repr(value)))
    return value


def unwrap(value: Any) -> Any:
    """The number behind a `Worded` value; other values unchanged."""
    return value.value if isinstance(value, Worded) else value


def check_size(value: Any) -> Any:
    """`value` unchanged, or an EvaluationError when it exceeds the size limits."""
    kind = type(value)
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:
            raise EvaluationError(f"result has more than {MAX_INT_BITS} bits")
    elif kind is Fraction:
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_INT_BITS:
            raise EvaluationError(f"result has more than {MAX_INT_BITS} bits")
    elif kind in (list, tuple, str) and len(value) > MAX_SEQUENCE:
        raise EvaluationError(f"sequence longer than {MAX_SEQUENCE} items")
    return value


def exact_divide(a: Any, b: Any) -> Any:
    """a / b, exact: two integers give a Fraction (never a float)."""
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool | float):
        if b == 0:
            raise DivisionByZero("division by zero")
        return Fraction(a, b)
    return a / b


def bounded_power(a: Any, b: Any) -> Any:
    """a ** b for an integer |b| <= MAX_EXPONENT whose result stays under MAX_INT_BITS."""
    b = normalise(b)
    if not isinstance(b, int) or isinstance(b, bool):
        raise EvaluationError("the exponent of ** must be an integer")
    if abs(b) > MAX_EXPONENT:
        raise EvaluationError(f"exponent {b} exceeds the limit of {MAX_EXPONENT}")
    if isinstance(a, int | Fraction):
        size = Fraction(a).numerator.bit_length() + Fraction(a).denominator.bit_length()
        if size * abs(b) > MAX_INT_BITS:
            raise EvaluationError(f"power result would exceed {MAX_INT_BITS} bits")
        if a == 0 and b < 0:
            raise DivisionByZero("zero raised to a negative power")
        return Fraction(a) ** b
    return a**b


def bounded_repeat(a: Any, b: Any) -> Any:
    """a * b (numbers, or sequence repetition capped at MAX_SEQUENCE items)."""
    seq, count = (a, b) if isinstance(a, list | tuple | str) else (b, a)
    if (
        isinstance(seq, list | tuple | str)
        and isinstance(count, int)
        and len(seq) * max(count, 0) > MAX_SEQUENCE
    ):
        raise EvaluationError(f"sequence longer than {MAX_SEQUENCE} items")
    return a * b


def as_sequence(value: Any, what: str) -> Sequence[Any]:
    """`value` as an indexable sequence (list, tuple or range), else an EvaluationError."""
    if isinstance(value, list | tuple | range):
        return value
    raise EvaluationError(f"{what} must be a list or range, got {type(value).__name__}")
