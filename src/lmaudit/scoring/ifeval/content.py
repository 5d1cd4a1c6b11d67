"""IFEval checkers for keywords, language, length and content instructions.

Each checker takes the response and the instruction's arguments (keyword-only, as named
in the IFEval data) and says whether the response follows the instruction. Conventions
follow the IFEval authors' reference checkers; where this module departs from them the
docstring says so. Counting relations are `"less than"` (count < n) and `"at least"`
(count >= n). Text measurements are in `lmaudit.scoring.ifeval.text`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lmaudit.core.types import LmauditError
from lmaudit.scoring.ifeval.text import count_sentences, count_words, detect_language

RELATIONS = ("less than", "at least")


def compare(count: int, relation: str, threshold: int) -> bool:
    """`count < threshold` for "less than", `count >= threshold` for "at least"."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise LmauditError(f"relation must be one of {RELATIONS}, got {relation!r}")


# --- keywords ------------------------------------------------------------------------------


def keyword_existence(response: str, *, keywords: Sequence[str]) -> bool:
    """Every keyword occurs somewhere, case-insensitively, as a substring (no word
    boundaries: "art" is found in "start"). Keywords are literal text (the reference uses
    them as regular expressions; no IFEval keyword holds a special character)."""
    text = response.lower()
    return all(str(keyword).lower() in text for keyword in keywords)


def keyword_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """Non-overlapping, case-insensitive substring occurrences of the (stripped) keyword,
    compared with `frequency` under `relation`."""
    pattern = re.compile(re.escape(keyword.strip()), re.IGNORECASE)
    return compare(len(pattern.findall(response)), relation, int(frequency))


def forbidden_words(response: str, *, forbidden_words: Sequence[str]) -> bool:
    """No forbidden word occurs as a whole word (between `\\b` boundaries), ignoring case."""
    return not any(
        re.search(r"\b" + re.escape(str(word)) + r"\b", response, re.IGNORECASE)
        for word in forbidden_words
    )


def letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """Occurrences of `letter` in the lower-cased response, compared under `let_relation`.

    Departure: the reference replaces any `letter` that is not one ASCII letter (IFEval
    has "#" and "!") by a random letter, so its verdict on those two prompts changes from
    run to run; here the character given is counted, which is what the prompts ask.
    """
    target = letter.strip().lower() or letter.lower()
    if len(target) != 1:
        raise LmauditError(f"letter_frequency needs one character, got {letter!r}")
    return compare(response.lower().count(target), let_relation, int(let_frequency))


# --- language ------------------------------------------------------------------------------


def response_language(response: str, *, language: str) -> bool:
    """`langdetect` (seeded) names `language` (an ISO 639-1 code) for the whole response;
    a response it cannot classify passes, as in the reference."""
    detected = detect_language(response)
    return detected is None or detected == language


# --- length ----------------------------------------------------------------------------------


def number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """Punkt sentence count compared with `num_sentences` under `relation`."""
    return compare(count_sentences(response), relation, int(num_sentences))


def number_words(response: str, *, num_words: int, relation: str) -> bool:
    """`\\w+` word count compared with `num_words` under `relation`."""
    return compare(count_words(response), relation, int(num_words))


def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by the markdown divider `***`.

    The response is split on `***` with at most one whitespace character on each side;
    an empty piece at the start or end is not counted, an empty piece in the middle (two
    dividers in a row) fails the instruction.
    """
    pieces = re.split(r"\s?\*\*\*\s?", response)
    count = 0
    for index, piece in enumerate(pieces):
        if piece.strip():
            count += 1
        elif 0 < index < len(pieces) - 1:
            return False
    return count == int(num_paragraphs)


_FIRST_WORD_STOP = frozenset(".,?!'\"")


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters = []
    for char in word:
        if char in _FIRST_WORD_STOP:
            break
        letters.append(char.lower())
    return "".join(letters)


def nth_paragraph_first_word(
    response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str
) -> bool:
    """Exactly `num_paragraphs` non-blank paragraphs (separated by "\\n\\n"), and
    paragraph `nth_paragraph` (1-based) starts with `first_word`, ignoring case.

    As in the reference: the count skips blank pieces but the n-th paragraph is the n-th
    piece of the raw split (a blank one fails); the first word is the first
    whitespace-separated token without leading quotes, cut at the first of . , ? ! ' ".
    """
    pieces = response.split("\n\n")
    count = sum(1 for piece in pieces if piece.strip())
    nth = int(nth_paragraph)
    if not 1 <= nth <= count:
        return False
    paragraph = pieces[nth - 1].strip()
    if not paragraph:
        return False
    return count == int(num_paragraphs) and _first_word(paragraph) == first_word.lower()


# --- content and punctuation -----------------------------------------------------------------


def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least `num_placeholders` square-bracket placeholders (`[...]`, shortest match,
    not spanning lines)."""
    return len(re.findall(r"\[.*?\]", response)) >= int(num_placeholders)


def postscript(response: str, *, postscript_marker: str) -> bool:
    """The response contains the postscript marker, ignoring case: "P.S." also matches
    "p. s."; "P.P.S" also matches "p. p. s"; any other marker is matched as given."""
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = re.escape(marker.lower())
    return re.search(pattern, response.lower()) is not None


def no_comma(response: str) -> bool:
    """No ASCII comma anywhere."""
    return "," not in response
