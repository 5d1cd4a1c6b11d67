"""Vocabularies that templates draw from with `sample(<name>)`: our own word lists.

The names are those GSM-Symbolic's templates refer to (`names`, `names_male`,
`fractions`, `multi_times`, `weekdays`, ...); the contents are written for lmaudit (common
first names, everyday words), not taken from any data set. Number-like vocabularies hold
`Worded` values whose number is read from the phrase ("twice" → 2, "a third" → 1/3).
Order matters where templates slice (`fraction_nums[:4]`) or take runs (`weekdays`).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from lmaudit.probes.templates.evaluator import Worded
from lmaudit.probes.templates.text import parse_number_phrase

NAMES_FEMALE = (
    "Alice", "Amara", "Beatriz", "Chloe", "Daniela", "Elif", "Fatima", "Gemma", "Hannah",
    "Ingrid", "Jasmine", "Keiko", "Laura", "Mei", "Nadia", "Olivia", "Priya", "Quinn",
    "Rosa", "Sofia", "Tamar", "Uma", "Valeria", "Wendy", "Ximena", "Yara", "Zainab",
    "Clara", "Irene", "Lucia", "Marta", "Nora", "Paula", "Ruth", "Vera",
)
NAMES_MALE = (
    "Adam", "Bruno", "Carlos", "Dmitri", "Emeka", "Farid", "Gabriel", "Hiro", "Ibrahim",
    "Jonas", "Kwame", "Lucas", "Mateo", "Nikhil", "Oscar", "Pedro", "Rafael", "Samuel",
    "Tariq", "Umar", "Victor", "Walter", "Xavier", "Yusuf", "Zoltan", "Anton", "Diego",
    "Felix", "Hugo", "Ivan", "Leon", "Milan", "Omar", "Paolo", "Tomas",
)
NAMES = NAMES_FEMALE + NAMES_MALE


def _worded(*phrases: str) -> tuple[Worded, ...]:
    values = []
    for phrase in phrases:
        value = parse_number_phrase(phrase)
        if value is None:
            raise ValueError(f"vocabulary phrase {phrase!r} has no number")
        values.append(Worded(phrase, value))
    return tuple(values)


def _decimals(*texts: str) -> tuple[int | Fraction, ...]:
    return tuple(Fraction(t) for t in texts)


VOCABULARIES: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "names": NAMES,
        "names_female": NAMES_FEMALE,
        "names_male": NAMES_MALE,
        "fractions": _worded("half", "a third", "a quarter", "a fifth", "a tenth"),
        "fraction_alnum": _worded(
            "half", "one-third", "a quarter", "two-thirds", "three-quarters", "one-fifth",
            "1/3", "1/4", "1/5", "2/5", "3/4", "1/8",
        ),
        "fraction_alph": _worded("half", "a third", "a quarter", "a fifth", "a tenth"),
        "fraction_nums": _worded("1/2", "1/3", "1/4", "1/5", "1/6", "1/8", "1/10", "2/3", "3/4"),
        "fraction_decimals": _decimals("0.1", "0.2", "0.25", "0.4", "0.5", "0.75"),
        "multiple_ice": _worded("twice", "thrice"),
        "multi_times": _worded("two times", "three times", "four times", "five times"),
        "multiple": _worded("double", "triple", "quadruple"),
        "weekdays": (
            "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
        ),
        "colors": ("red", "blue", "green", "yellow", "purple", "orange", "black", "white"),
        "fruits": ("apple", "pear", "plum", "peach", "mango", "orange", "lemon", "apricot"),
        "sports": ("football", "tennis", "hockey", "volleyball", "cricket", "rugby"),
        "cities": ("Lisbon", "Nairobi", "Osaka", "Toronto", "Lima", "Oslo", "Cairo", "Perth"),
        "currencies_sym": ("$", "€", "£"),
        "weights_sm": ("ounce", "gram"),
        "weights_med": ("pound", "kilogram"),
        "length_lg": ("mile", "kilometer"),
    }
)
