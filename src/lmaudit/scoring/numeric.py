"""Numeric answers: normalization, extraction (strict and flexible) and exact comparison.

Conventions (version `strict-v1` / `flexible-v1`; changing any rule means bumping them):

- A number is an optional sign (`-`, `+`, or the Unicode minus `−`), an optional currency
  symbol (`$ € £ ¥ ₹`, before or after the sign), then one of: an integer with US thousands
  separators (`1,234,567`, groups of exactly three digits) or without (`1234567`), with an
  optional decimal part (`1,234.50`); a leading-dot decimal (`.5`); a fraction of two
  integers (`3/4`). Integers and decimals may carry an exponent (`1.5e3`, |exponent| <= 100).
  A digit run longer than 4,000 characters (degenerate output) is not a number.
  Decimal commas (`1,5`) and mixed numbers (`1 1/2`) are not supported.
- `%` is stripped as a unit: `"50%"` normalizes to `"50"`, not to `"0.5"`. GSM8K answers
  are plain integers, and a response "50%" to a question whose answer is 50 (percent) must
  count as correct.
- Trailing units are stripped when they contain no digit: `"5 apples"`, `"12 km"`,
  `"1,234.00 dollars"`. `"5 m^2"` is not a number (the unit holds a digit).
- `\\boxed{...}` / `\\fbox{...}` are unwrapped, `\\frac{a}{b}` becomes `a/b`, `\\$` and `\\%`
  lose their backslash, LaTeX thousands separators `{,}` and `\\,` become plain commas.
- The canonical form of a value is its exact decimal expansion when it terminates
  (`"1234"`, `"0.75"`, `"-1.5"`, no trailing zeros, no exponent) and the reduced fraction
  `"p/q"` otherwise (`"1/3"`). Comparison is exact, with `fractions.Fraction`: no tolerance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from lmaudit.core.types import LmauditError
from lmaudit.scoring.registry import (
    STRICT_FLEXIBLE_METRICS,
    ScoreOutcome,
    Scorer,
    register_scorer,
    strict_flexible_outcome,
)

STRICT_VERSION = "strict-v1"
FLEXIBLE_VERSION = "flexible-v1"
NUMERIC_SCORER_VERSION = f"numeric-v1/{STRICT_VERSION}/{FLEXIBLE_VERSION}"
GSM8K_MARKER = "####"

_MAX_EXPONENT = 100
_MAX_DIGITS = 4000  # longer digit runs are degenerate output (and exceed int->str limits)
_CURRENCY = "$€£¥₹"
_SIGN = "+\\-\u2212"

# The unsigned magnitude of a number (see the module docstring for the accepted forms).
_MAGNITUDE = (
    r"(?:"
    r"(?P<fraction>[0-9]+/[0-9]+)(?![0-9]|\.[0-9])"
    r"|(?P<decimal>(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
    r"(?P<exponent>[eE][-+]?[0-9]+)?"
    r")"
)

# A number token inside free text. It never starts inside another number (no digit or '.'
# before it), and a sign only counts when it does not follow a letter, digit or ')':
# in "16-3" the '-' is an operator and the token is "3".
_TOKEN_RE = re.compile(
    r"(?<![0-9.])"
    rf"(?:(?<![0-9A-Za-z)\]])(?P<sign1>[{_SIGN}]))?"
    rf"(?:(?P<currency>[{re.escape(_CURRENCY)}])(?P<sign2>[{_SIGN}])?)?" + _MAGNITUDE
)

# A whole answer string: sign/currency, the number, then an optional % and a digit-free unit.
_WHOLE_RE = re.compile(
    rf"\s*(?P<sign1>[{_SIGN}])?\s*"
    rf"(?:(?P<currency>[{re.escape(_CURRENCY)}])\s*(?P<sign2>[{_SIGN}])?)?"
    + _MAGNITUDE
    + r"\s*%?(?P<unit>[^0-9]*)"
)

_TRAILING_PUNCTUATION = ".,;:!?)]}\"'*` \t\r\n"
_LEADING_PUNCTUATION = "([{\"'*` \t\r\n"
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{\s*([^{}]*?)\s*\}\s*\{\s*([^{}]*?)\s*\}")
_TEXT_RE = re.compile(r"\\(?:text|textrm|mathrm|mbox)\s*\{([^{}]*)\}")


def _unwrap_boxed(text: str) -> str:
    """The content of the last `\\boxed{...}` (balanced braces), or `text` if there is none."""
    matches = list(_BOXED_RE.finditer(text))
    if not matches:
        return text
    start = matches[-1].end()
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start:index]
    return text[start:]


def normalize_text(text: str) -> str:
    """Rewrite LaTeX number notation into plain text (used before any number search)."""
    text = _FRAC_RE.sub(r"\1/\2", text)
    text = _TEXT_RE.sub(r" \1", text)
    text = text.replace("{,}", ",").replace("\\,", ",").replace("\\!", "")
    return text.replace("\\$", "$").replace("\\%", "%")


def _value(match: re.Match[str]) -> Fraction | None:
    """The exact value of a `_MAGNITUDE` match with its signs, or None if undefined."""
    if len(match.group("fraction") or match.group("decimal")) > _MAX_DIGITS:
        return None
    signs = [match.group(g) for g in ("sign1", "sign2") if match.group(g)]
    if len(signs) > 1:  # "-$-5": ambiguous
        return None
    negative = bool(signs) and signs[0] in ("-", "\u2212")
    if match.group("fraction") is not None:
        numerator, denominator = (int(part) for part in match.group("fraction").split("/"))
        if denominator == 0:
            return None
        value = Fraction(numerator, denominator)
    else:
        exponent = match.group("exponent")
        if exponent is not None and abs(int(exponent[1:])) > _MAX_EXPONENT:
            return None
        try:
            value = Fraction(Decimal(match.group("decimal").replace(",", "") + (exponent or "")))
        except InvalidOperation:  # pragma: no cover - the regex only admits valid decimals
            return None
    return -value if negative else value


def canonical(value: Fraction) -> str:
    """Exact decimal string of `value` if it terminates ("0.75", "-12"), else "p/q"."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = value.numerator * (10**places) // value.denominator
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def parse_number(raw: str) -> Fraction | None:
    """The exact value of an answer string (rules in the module docstring), None if none."""
    text = normalize_text(_unwrap_boxed(raw)).strip()
    if text.startswith("$") and text.endswith("$") and len(text) > 1 and text.count("$") == 2:
        text = text[1:-1]  # inline math delimiters "$42$"
    text = text.rstrip(_TRAILING_PUNCTUATION).lstrip(_LEADING_PUNCTUATION)
    match = _WHOLE_RE.fullmatch(text)
    if match is None:
        return None
    return _value(match)


def normalize_number(raw: str) -> str | None:
    """Canonical decimal string of an answer ("$1,234.00" -> "1234"), None if not a number."""
    value = parse_number(raw)
    return None if value is None else canonical(value)


def numbers_equal(a: str, b: str) -> bool:
    """Exact equality of two answer strings as numbers ("0.5" == "1/2" == ".50").

    `%` is a unit, so "50%" equals "50" (not "0.5"). False when either is not a number.
    """
    left, right = parse_number(a), parse_number(b)
    return left is not None and right is not None and left == right


def find_numbers(text: str) -> list[str]:
    """Canonical strings of every number in `text`, in order of appearance."""
    found = []
    for match in _TOKEN_RE.finditer(normalize_text(text)):
        value = _value(match)
        if value is not None:
            found.append(canonical(value))
    return found


def extract_strict(text: str, marker: str = GSM8K_MARKER) -> str | None:
    """GSM8K convention: the first number on the line after the last `marker` ("#### 42").

    Returns the canonical number, or None when there is no marker or no number follows it
    on its line. `marker` lets a task use another final-answer marker (e.g. "A:").
    """
    position = text.rfind(marker)
    if position < 0:
        return None
    line = text[position + len(marker) :].split("\n", 1)[0]
    numbers = find_numbers(line)
    return numbers[0] if numbers else None


def extract_flexible(text: str) -> str | None:
    """The last number anywhere in `text` (canonical form), None if the text has none."""
    numbers = find_numbers(text)
    return numbers[-1] if numbers else None


def parse_gsm8k_target(target: str) -> str:
    """Canonical number of a GSM8K target: a bare answer ("$1,200") or a full solution.

    A target that contains "####" is read with `extract_strict`; otherwise the whole
    string must be one number (units allowed). Raises LmauditError when no number is found.
    """
    value = extract_strict(target) if GSM8K_MARKER in target else normalize_number(target)
    if value is None:
        shown = target if len(target) <= 60 else target[:57] + "..."
        raise LmauditError(f"GSM8K target has no numeric answer: {shown!r}")
    return value


@dataclass(frozen=True)
class NumericScorer:
    """GSM8K-style numeric scorer: strict and flexible extraction, exact comparison.

    The target goes through `parse_gsm8k_target`. Metrics (0/1): `acc_strict`,
    `acc_flexible`, `extract_fail_strict`, `extract_fail_flexible` (1.0 when extraction
    found nothing). The primary verdict is `acc_flexible`; `extracted` is the flexible
    answer. `strict_marker` replaces "####" for prompts that ask for another final-answer
    marker; a non-default marker is part of `version`.
    """

    strict_marker: str = GSM8K_MARKER

    def __post_init__(self) -> None:
        if not self.strict_marker.strip():
            raise ValueError("NumericScorer.strict_marker must be a non-blank string")

    @property
    def name(self) -> str:
        return "numeric"

    @property
    def version(self) -> str:
        if self.strict_marker == GSM8K_MARKER:
            return NUMERIC_SCORER_VERSION
        return f"{NUMERIC_SCORER_VERSION}/marker={self.strict_marker!r}"

    def metric_names(self) -> tuple[str, ...]:
        return STRICT_FLEXIBLE_METRICS

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        expected = parse_gsm8k_target(target)
        strict = extract_strict(response, marker=self.strict_marker)
        flexible = extract_flexible(response)
        strict_ok = strict is not None and numbers_equal(strict, expected)
        flexible_ok = flexible is not None and numbers_equal(flexible, expected)
        return strict_flexible_outcome(strict, flexible, strict_ok, flexible_ok)


@register_scorer("numeric")
def _numeric_scorer() -> Scorer:
    return NumericScorer()
