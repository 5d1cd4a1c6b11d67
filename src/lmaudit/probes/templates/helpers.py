"""The helper functions template expressions may call, with their exact semantics.

GSM-Symbolic's published templates use these helpers without defining them; the choices
below are ours, made from the evidence in the 250 published templates (see each docstring):

- `range(a, b[, step])`: Python's half-open range, `b` excluded. The templates are written
  in Python syntax (`list(range(3, 19))`, `list(range(2, 6)) * 10`, `np.arange`), and of
  the originals that lie on a range's grid, 91 sit on its start and only 10 on its stop
  (an inclusive reading would make the two ends alike).
- `numbers_within(a, b)`: the integers a..b INCLUSIVE, as `Worded` number words ("two").
  The name says "within", and `numbers_within(2, 3)` would otherwise hold one value.
- `sample(seq)`: one element, uniformly; `sample(seq, k)`: k distinct positions (as
  `random.sample`), returned as a list in draw order.
- `sample_sequential(seq, k)`: k consecutive elements starting at a uniform position,
  wrapping around the end (the originals include "Saturday, Sunday, Monday").
- `frange(a, b, step)` and `np.arange(a, b, step)`: a + i*step for i = 0, 1, ... while
  below b (half-open, as numpy), computed exactly (0.25 steps stay exact).
- `np.random.randint(lo, hi, size)`: `size` integers drawn uniformly from [lo, hi) (numpy's
  high is exclusive) with the instance's random generator.
- `fix_floats(x)`: rounds a number, or each number of a list, to 2 decimal places (half to
  even); with exact arithmetic it only matters for inputs with more places.
- `shuffle_list(seq)`: a shuffled copy (instance generator).
- `is_int(x)`: x has an integral value. `divides(a, b)`: a / b is an integer ("a is
  divisible by b", false when b == 0); in `divides(x * 12, k * y)` the original values give
  x * 12 = 120 and k * y = 12.
- `int`, `round`, `min`, `max`, `abs`, `sum`, `len`, `list`, `Fraction`: as in Python, on
  exact numbers (`int` truncates toward zero, `round` rounds half to even).

Limits (checked before the work): a range holds at most `MAX_RANGE` items (it is sampled
lazily); helpers that walk a sequence (`sum`, `min`, `max`, `list`, `fix_floats`,
`shuffle_list`) and helpers that build one (`numbers_within`, `arange`, `randint`, `sample`
with a size) stop at `MAX_SEQUENCE` items; `round` takes at most `MAX_PLACES` places.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from lmaudit.probes.templates.evaluator import (
    MAX_RANGE,
    MAX_SEQUENCE,
    EvaluationError,
    Worded,
    as_sequence,
    normalise,
    unwrap,
)
from lmaudit.probes.templates.text import number_words
from lmaudit.probes.templates.values import MAX_PLACES, check_size, iterable


def _integer(value: Any, what: str) -> int:
    value = normalise(unwrap(value))
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvaluationError(f"{what} must be an integer, got {value!r}")
    return value


def _number(value: Any, what: str) -> int | Fraction:
    value = normalise(unwrap(value))
    if not isinstance(value, int | Fraction) or isinstance(value, bool):
        raise EvaluationError(f"{what} must be a number, got {value!r}")
    return value


def _guard_length(length: int) -> None:
    if length > MAX_SEQUENCE:
        raise EvaluationError(f"sequence of {length} items exceeds {MAX_SEQUENCE}")


def int_range(*args: Any) -> range:
    """Python's `range` (half-open) on integer arguments."""
    if not 1 <= len(args) <= 3:
        raise EvaluationError("range() takes 1 to 3 arguments")
    bounds = [_integer(a, "a range() bound") for a in args]
    if len(bounds) == 3 and bounds[2] == 0:
        raise EvaluationError("range() step must not be zero")
    domain = range(*bounds)
    try:
        too_long = len(domain) > MAX_RANGE
    except OverflowError:  # more items than sys.maxsize
        too_long = True
    if too_long:
        raise EvaluationError(f"range{tuple(bounds)} has more than {MAX_RANGE} items")
    return domain


def exact_arange(start: Any, stop: Any, step: Any = 1) -> list[int | Fraction]:
    """start + i*step while below stop (above stop for a negative step), exactly."""
    a, b, s = (_number(x, "an arange() argument") for x in (start, stop, step))
    if s == 0:
        raise EvaluationError("arange() step must not be zero")
    count = max(0, math.ceil(Fraction(b - a) / s))
    _guard_length(count)
    return [normalise(a + i * Fraction(s)) for i in range(count)]


def numbers_within(low: Any, high: Any) -> list[Worded]:
    """The integers low..high inclusive as number words: Worded("two", 2), ..."""
    a, b = _integer(low, "numbers_within() low"), _integer(high, "numbers_within() high")
    _guard_length(b - a + 1)
    return [Worded(number_words(n), n) for n in range(a, b + 1)]


def is_int(value: Any) -> bool:
    """True when `value` is a number with an integral value."""
    value = unwrap(value)
    return isinstance(value, int | Fraction) and Fraction(value).denominator == 1


def divides(a: Any, b: Any) -> bool:
    """True when a / b is an integer ("a is divisible by b"); False when b == 0."""
    x, y = _number(a, "divides() argument"), _number(b, "divides() argument")
    return y != 0 and Fraction(x, 1) / y == int(Fraction(x, 1) / y)


def fix_floats(value: Any) -> Any:
    """Round a number (or each number of a list) to 2 decimal places, half to even."""
    if isinstance(value, list | tuple | range):
        return [fix_floats(v) for v in iterable(value, "fix_floats() argument")]
    return normalise(round(Fraction(_number(value, "fix_floats() argument")), 2))


def to_fraction(numerator: Any, denominator: Any = 1) -> int | Fraction:
    """`Fraction(a[, b])` on exact numbers (Worded values give their number)."""
    a = _number(numerator, "Fraction() numerator")
    b = _number(denominator, "Fraction() denominator")
    if b == 0:
        raise ZeroDivisionError("Fraction() with zero denominator")
    return normalise(Fraction(a) / Fraction(b))


def to_int(value: Any) -> int:
    """Python's int(): truncate toward zero."""
    return int(_number(value, "int() argument"))


def round_half_even(value: Any, places: Any = None) -> int | Fraction:
    """Python's round(): half to even; an int without `places`."""
    number = Fraction(_number(value, "round() argument"))
    if places is None:
        return round(number)
    digits = _integer(places, "round() places")
    if abs(digits) > MAX_PLACES:
        raise EvaluationError(f"round() to {digits} places exceeds the limit {MAX_PLACES}")
    return normalise(round(number, digits))


def to_list(value: Any) -> list[Any]:
    """Python's list() of a list, tuple, range or string, size-guarded."""
    if isinstance(value, list | tuple | range | str):
        _guard_length(len(value))
        return check_size(list(value))
    raise EvaluationError(f"list() needs a sequence, got {type(value).__name__}")


def _numbers(values: Iterable[Any]) -> list[Any]:
    if isinstance(values, list | tuple | range):
        values = iterable(values, "a min()/max()/sum() argument")
    return [unwrap(v) for v in values]


def bounded_sum(values: Any) -> Any:
    """sum() of numbers, stopping as soon as a partial sum exceeds the size limits."""
    total: Any = 0
    for value in iterable(values, "sum() argument"):
        total = check_size(normalise(total + unwrap(value)))
    return total


def _extremum(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        if len(args) == 1 and isinstance(args[0], list | tuple | range):
            return pick(_numbers(args[0]))
        return pick(_numbers(args))

    return apply


def make_functions(rng: random.Random) -> dict[str, Callable[..., Any]]:
    """The helper table for one instance; random helpers draw from `rng`."""

    def sample(population: Any, k: Any = None) -> Any:
        items = as_sequence(population, "sample() population")
        if len(items) == 0:
            raise EvaluationError("sample() from an empty population")
        if k is None:
            return items[rng.randrange(len(items))]
        count = _integer(k, "sample() size")
        _guard_length(count)
        if not 0 <= count <= len(items):
            raise EvaluationError(f"sample() of {count} from {len(items)} items")
        return [items[i] for i in rng.sample(range(len(items)), count)]

    def sample_sequential(population: Any, k: Any) -> list[Any]:
        items = as_sequence(population, "sample_sequential() population")
        count = _integer(k, "sample_sequential() size")
        _guard_length(count)
        if not 0 < count <= len(items):
            raise EvaluationError(f"sample_sequential() of {count} from {len(items)} items")
        start = rng.randrange(len(items))
        return [items[(start + i) % len(items)] for i in range(count)]

    def shuffle_list(population: Any) -> list[Any]:
        items = to_list(population)
        rng.shuffle(items)
        return items

    def randint(low: Any, high: Any, size: Any = None) -> Any:
        a, b = _integer(low, "randint() low"), _integer(high, "randint() high")
        if b <= a:
            raise EvaluationError("randint() needs low < high")
        if size is None:
            return rng.randrange(a, b)
        count = _integer(size, "randint() size")
        _guard_length(count)
        return [rng.randrange(a, b) for _ in range(count)]

    return {
        "range": int_range,
        "sample": sample,
        "sample_sequential": sample_sequential,
        "shuffle_list": shuffle_list,
        "np.random.randint": randint,
        "np.arange": exact_arange,
        "frange": exact_arange,
        "numbers_within": numbers_within,
        "is_int": is_int,
        "divides": divides,
        "fix_floats": fix_floats,
        "Fraction": to_fraction,
        "int": to_int,
        "round": round_half_even,
        "abs": lambda x: abs(_number(x, "abs() argument")),
        "min": _extremum(min),
        "max": _extremum(max),
        "sum": bounded_sum,
        "len": lambda xs: len(as_sequence(xs, "len() argument")),
        "list": to_list,
    }
