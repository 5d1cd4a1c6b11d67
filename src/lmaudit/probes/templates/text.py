"""Numbers as text: number words, phrases such as "twice" or "two-thirds", and rendering.

`number_words(42) == "forty-two"` (American style, no "and"). `parse_number_phrase` reads
digits ("12", "1.50", "1,200", "1/16"), number words ("forty-two"), multiplicatives
("twice", "thrice", "double", "triple", "quadruple", "three times") and fractions ("half",
"a third", "one-fifth", "two-thirds", "three quarters"); it returns an exact int or Fraction,
or None. `render_value` writes a value into a question: a `Worded` value as its text, an
integer plainly, a terminating fraction as its shortest decimal (or with a fixed number of
decimals, see `decimals_of`), any other fraction as "p/q".
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from lmaudit.probes.templates.evaluator import Worded, normalise

_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((1_000_000, "million"), (1000, "thousand"), (100, "hundred"))
_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "sixteenth": 16, "twentieth": 20, "hundredth": 100,
}
_MULTIPLES = {"twice": 2, "thrice": 3, "double": 2, "triple": 3, "quadruple": 4}
_WORD_VALUES = {word: i for i, word in enumerate(_UNITS)} | {
    word: 10 * i for i, word in enumerate(_TENS) if i >= 2
}
MAX_PHRASE_CHARS = 200  # longer text is never read as a number (Python refuses 4,300 digits)
_DECIMAL = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")


def number_words(n: int) -> str:
    """English words for a non-negative integer below one billion: 42 → "forty-two"."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + ("" if unit == 0 else "-" + _UNITS[unit])
    for scale, word in _SCALES:
        if n >= scale:
            if n >= 1000 * 1_000_000:
                raise ValueError(f"number_words supports numbers below one billion, got {n}")
            head, rest = divmod(n, scale)
            return f"{number_words(head)} {word}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError("unreachable")


def _parse_words(text: str) -> int | None:
    """"forty-two" → 42, "one hundred twenty" → 120; None when not a number in words."""
    total, current = 0, 0
    words = text.replace("-", " ").replace(" and ", " ").split()
    if not words:
        return None
    for word in words:
        if word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "million"):
            total += max(current, 1) * (1000 if word == "thousand" else 1_000_000)
            current = 0
        else:
            return None
    return total + current


def _parse_count(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text in ("a", "an"):
        return 1
    return _parse_words(text)


def _parse_fraction_words(text: str) -> Fraction | None:
    words = text.replace("-", " ").split()
    if not words:
        return None
    last = words[-1]
    singular = last[:-1] if last.endswith("s") and last[:-1] in _DENOMINATORS else last
    if singular not in _DENOMINATORS:
        return None
    count = 1 if len(words) == 1 else _parse_count(" ".join(words[:-1]))
    return None if count is None else Fraction(count, _DENOMINATORS[singular])


def parse_number_phrase(text: str) -> int | Fraction | None:
    """The exact value of a number written in digits or words, or None (see module doc;
    None, too, for text over MAX_PHRASE_CHARS characters)."""
    phrase = " ".join(text.strip().lower().split())
    if not phrase or len(phrase) > MAX_PHRASE_CHARS:
        return None
    match = _DECIMAL.fullmatch(phrase)
    if match:
        return normalise(Fraction(phrase.replace(",", "")))
    if re.fullmatch(r"\d+\s*/\s*[1-9]\d*", phrase):
        numerator, denominator = phrase.split("/")
        return normalise(Fraction(int(numerator), int(denominator)))
    if phrase in _MULTIPLES:
        return _MULTIPLES[phrase]
    if phrase.endswith(" times"):
        head = phrase.removesuffix(" times")
        return _parse_count(head) if head not in ("a", "an") else None
    words = _parse_words(phrase)
    if words is not None:
        return words
    fraction = _parse_fraction_words(phrase)
    return None if fraction is None else normalise(fraction)


def decimals_of(original: str) -> int | None:
    """Fixed decimal places implied by an original number's text: "1.50" → 2, "0.03" → 2.

    Only originals written with two or more decimal places (money-like) fix the style;
    "1.5" or "12" leave it free (shortest exact decimal).
    """
    match = _DECIMAL.fullmatch(original.strip())
    if match and match.group(1) and len(match.group(1)) >= 2:
        return len(match.group(1))
    return None


def _terminating_decimal(value: Fraction) -> str | None:
    """The exact decimal string of `value`, or None when its expansion does not terminate."""
    from lmaudit.scoring.numeric import canonical

    text = canonical(value)
    return None if "/" in text else text


def _fixed(value: Fraction, places: int) -> str:
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def render_value(value: Any, decimals: int | None = None) -> str:
    """The text of a value in a question (see module doc); `decimals` fixes decimal places."""
    if isinstance(value, Worded):
        return value.text
    if isinstance(value, bool):
        return str(value)
    value = normalise(value)
    if isinstance(value, int | Fraction):
        exact = Fraction(value)
        if decimals is not None and (exact * 10**decimals).denominator == 1:
            return _fixed(exact, decimals)
        if isinstance(value, int):
            return str(value)
        as_decimal = _terminating_decimal(exact)
        return as_decimal if as_decimal is not None else f"{exact.numerator}/{exact.denominator}"
    return str(value)


def canonical_number(value: Any) -> str:
    """An answer's canonical text: "42", "-3", "2.5", "1/3" (no separators, no trailing 0)."""
    return render_value(value)
