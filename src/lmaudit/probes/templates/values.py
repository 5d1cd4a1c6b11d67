"""Values, errors and exact arithmetic shared by the template evaluator and its helpers.

Numbers are `int` or `Fraction` (never float); `normalise` turns `Fraction(n, 1)` into `int`.
A `Worded` value is a number written as words or a symbol ("twice" is 2, "1/2" is 1/2).
The limits guard against expressions that would exhaust memory or time: every operation
checks its operands' sizes BEFORE computing (a power's result bits, a repetition's length, a
range's length, `round`'s places), helpers that iterate refuse sequences longer than
`MAX_SEQUENCE`, and a `Budget` bounds the total work of one instantiation (all its draws).
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
MAX_RANGE = 10**9  # items of a lazy range (sampled in O(1), never iterated past MAX_SEQUENCE)
MAX_PLACES = 64  # |ndigits| of round()
MAX_WORK = 50_000_000  # work units per Budget (an instantiation: all its draws)
ITEM_UNITS = 10  # units per sequence item touched; one node evaluated costs 1


class TemplateError(LmauditError):
    """A template (or one of its expressions) is malformed or cannot be used."""


class ExpressionRefused(TemplateError):
    """An expression uses a construct outside the whitelist."""


class EvaluationError(TemplateError):
    """An allowed expression failed while evaluating (wrong types, unknown name, limits)."""


class DivisionByZero(EvaluationError):
    """Division or modulo by zero; the sampler treats it as a rejected draw."""


class Budget:
    """A work counter shared by every evaluation of one instantiation.

    An expression node evaluated costs 1 unit, a sequence item built, compared or walked
    `ITEM_UNITS` (about the time of 10 nodes). `charge` raises an EvaluationError once
    `limit` units are spent, so a template whose draws are slow and keep failing stops
    after a bounded amount of work.
    """

    __slots__ = ("limit", "spent")

    def __init__(self, limit: int = MAX_WORK) -> None:
        self.limit = limit
        self.spent = 0

    def charge(self, units: int) -> None:
        self.spent += units
        if self.spent > self.limit:
            raise EvaluationError(f"work budget of {self.limit} units exhausted")


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
    budget: Budget = field(default_factory=Budget)


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
    elif (kind is str and len(value) > MAX_SEQUENCE) or (
        kind in (list, tuple) and item_count(value) > MAX_SEQUENCE
    ):
        raise EvaluationError(f"sequence longer than {MAX_SEQUENCE} items")
    return value


def item_count(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """Items in a (nested) list or tuple, counting the items of inner ones; stops counting
    once over `limit` (so a list repeated into itself is never walked in full)."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        current = stack.pop()
        total += len(current)
        stack.extend(v for v in current if type(v) in (list, tuple))
    return total


def sequence_size(value: Any) -> int:
    """The work units of touching `value`: ITEM_UNITS per item of a list/tuple/str, 1 for
    anything else (a range is lazy: 1)."""
    return ITEM_UNITS * len(value) if type(value) in (list, tuple, str) else 1


def iterable(value: Any, what: str) -> Any:
    """`value` (list, tuple or range) for a helper that walks every item; a range longer
    than MAX_SEQUENCE is refused instead of walked."""
    sequence = as_sequence(value, what)
    if len(sequence) > MAX_SEQUENCE:
        raise EvaluationError(f"{what} has {len(sequence)} items, over the limit {MAX_SEQUENCE}")
    return sequence


def membership(item: Any, container: Any) -> bool:
    """`item in container` without walking a range: a number is in a range when it is an
    integer on the range's grid; anything else is not (Python's answer, in O(1))."""
    if isinstance(container, range):
        value = normalise(unwrap(item))
        if type(value) is int:
            return value in container
        return False
    if isinstance(container, Worded):
        container = (container.text, container.value)
    if not isinstance(container, list | tuple | str):
        raise EvaluationError(f"'in' needs a list, range or text, got {type(container).__name__}")
    if isinstance(container, str):
        if not isinstance(item, str | Worded):
            raise EvaluationError("'in' on text needs text on the left")
        return str(item) in container
    return item in container


def bounded_modulo(a: Any, b: Any) -> Any:
    """a % b on numbers only (on text, `%` would be printf formatting: refused)."""
    if isinstance(a, str | list | tuple) or isinstance(b, str | list | tuple):
        raise EvaluationError("% applies to numbers only")
    return a % b


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
    if not isinstance(a, int | Fraction):
        raise EvaluationError(f"cannot raise a {type(a).__name__} to a power")
    if abs(b) > MAX_EXPONENT:
        raise EvaluationError(f"exponent {b} exceeds the limit of {MAX_EXPONENT}")
    size = Fraction(a).numerator.bit_length() + Fraction(a).denominator.bit_length()
    if size * abs(b) > MAX_INT_BITS:
        raise EvaluationError(f"power result would exceed {MAX_INT_BITS} bits")
    if a == 0 and b < 0:
        raise DivisionByZero("zero raised to a negative power")
    return Fraction(a) ** b


def bounded_repeat(a: Any, b: Any) -> Any:
    """a * b (numbers, or sequence repetition capped at MAX_SEQUENCE items)."""
    seq, count = (a, b) if isinstance(a, list | tuple | str) else (b, a)
    if isinstance(seq, list | tuple | str):
        if not isinstance(count, int):
            raise EvaluationError(f"cannot repeat a sequence {type(count).__name__} times")
        if item_count(seq) * max(count, 0) > MAX_SEQUENCE:
            raise EvaluationError(f"sequence longer than {MAX_SEQUENCE} items")
    return a * b


def as_sequence(value: Any, what: str) -> Sequence[Any]:
    """`value` as an indexable sequence (list, tuple or range), else an EvaluationError."""
    if isinstance(value, list | tuple | range):
        return value
    raise EvaluationError(f"{what} must be a list or range, got {type(value).__name__}")
