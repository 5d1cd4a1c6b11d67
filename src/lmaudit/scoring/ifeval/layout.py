"""IFEval checkers for format, case, start/end and combination instructions.

Same conventions as `lmaudit.scoring.ifeval.content`: the response first, the
instruction's arguments keyword-only, True when the response follows the instruction.
"""

from __future__ import annotations

import json
import re

from lmaudit.scoring.ifeval.content import compare
from lmaudit.scoring.ifeval.text import detect_language, word_tokens

CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
TWO_RESPONSES_SEPARATOR = "******"

# --- detectable_format -----------------------------------------------------------------------


def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly `num_bullets` markdown bullet lines: a line starting (after whitespace)
    with "*" not followed by another "*", or with "-"."""
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == int(num_bullets)


def constrained_response(response: str) -> bool:
    """The response contains one of "My answer is yes.", "... no.", "... maybe."."""
    text = response.strip()
    return any(option in text for option in CONSTRAINED_OPTIONS)


def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least `num_highlights` highlights, counted as the reference counts them: the
    `*text*` spans within one line whose text is not blank, plus the `**text**` spans
    whose text is not blank (the single-star scan sees a bold span as two empty "**"
    pairs, so "*a*" and "**a**" each count once)."""
    count = sum(1 for span in re.findall(r"\*[^\n\*]*\*", response) if span.strip("*").strip())
    count += sum(1 for span in re.findall(r"\*\*[^\n\*]*\*\*", response) if span[2:-2].strip())
    return count >= int(num_highlights)


def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least `num_sections` section headers "<spliter> <number>" (the spliter, e.g.
    "SECTION" or "Section", is case-sensitive; optional single spaces around it and after
    the number)."""
    marker = re.escape(section_spliter.strip())
    pieces = re.split(r"\s?" + marker + r"\s?\d+\s?", response)
    return len(pieces) - 1 >= int(num_sections)


def json_format(response: str) -> bool:
    """The stripped response parses as JSON (Python's `json.loads`) once the prefixes
    ```json, ```Json, ```JSON and ``` are removed in that order (each when present) and
    one trailing ``` fence."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def title(response: str) -> bool:
    """A title in double angular brackets, `<<title>>`, on one line and not blank."""
    return any(span.lstrip("<").rstrip(">").strip() for span in re.findall(r"<<[^\n]+>>", response))


# --- change_case -------------------------------------------------------------------------------


def capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """NLTK word tokens that are all upper case (`str.isupper`), counted and compared with
    `capital_frequency` under `capital_relation`."""
    count = sum(1 for token in word_tokens(response) if token.isupper())
    return compare(count, capital_relation, int(capital_frequency))


def english_capital(response: str) -> bool:
    """All cased characters upper case (`str.isupper`) and detected as English (a text
    `langdetect` cannot classify passes the language part, as in the reference)."""
    return response.isupper() and detect_language(response) in (None, "en")


def english_lowercase(response: str) -> bool:
    """All cased characters lower case (`str.islower`) and detected as English (same
    rule for undetectable text)."""
    return response.islower() and detect_language(response) in (None, "en")


# --- startend ----------------------------------------------------------------------------------


def end_checker(response: str, *, end_phrase: str) -> bool:
    """The response, stripped of whitespace and then of double quotes, ends with
    `end_phrase` (stripped), ignoring case."""
    text = response.strip().strip('"').lower()
    return text.endswith(end_phrase.strip().lower())


def quotation(response: str) -> bool:
    """The stripped response is at least two characters and starts and ends with '"'."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


# --- combination -------------------------------------------------------------------------------


def two_responses(response: str) -> bool:
    """Exactly two non-blank parts separated by "******", different after stripping; a
    blank part is allowed only before the first or after the last separator."""
    parts = response.split(TWO_RESPONSES_SEPARATOR)
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif 0 < index < len(parts) - 1:
            return False
    return len(kept) == 2 and kept[0] != kept[1]


def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """The stripped response starts with the stripped request, ignoring case."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())
