"""IFEval checkers: known pass/fail cases for each of the 25 instruction types, the strict
and loose rules, argument checking, and the offline text measurements."""

from __future__ import annotations

from typing import Any

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.scoring.ifeval import (
    INSTRUCTION_IDS,
    build_instruction,
    build_instructions,
    judge_prompt,
    loose_variants,
    metric_specs,
)
from lmaudit.scoring.ifeval.text import (
    count_sentences,
    count_words,
    detect_language,
    split_sentences,
    word_tokens,
)

ENGLISH = (
    "The quick brown fox jumps over the lazy dog near the river bank. "
    "It was a sunny day and everyone in the village was happy about the weather."
)

# (instruction id, kwargs, response, expected verdict on the response as given)
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    # keywords
    ("keywords:existence", {"keywords": ["river", "Fox"]}, ENGLISH, True),
    ("keywords:existence", {"keywords": ["river", "cat"]}, ENGLISH, False),
    ("keywords:existence", {"keywords": ["art"]}, "Let us start.", True),  # substring
    (
        "keywords:frequency",
        {"keyword": "the", "frequency": 4, "relation": "at least"},
        ENGLISH,
        True,
    ),  # "The", 3 x "the", and the "the" inside "weather"
    (
        "keywords:frequency",
        {"keyword": "fox", "frequency": 2, "relation": "at least"},
        ENGLISH,
        False,
    ),
    (
        "keywords:frequency",
        {"keyword": "fox", "frequency": 2, "relation": "less than"},
        ENGLISH,
        True,
    ),
    (
        "keywords:frequency",
        {"keyword": "ab", "frequency": 2, "relation": "less than"},
        "ABab",
        False,
    ),  # case-insensitive, two non-overlapping matches
    ("keywords:forbidden_words", {"forbidden_words": ["cat", "dog"]}, ENGLISH, False),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A category of things.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "One CAT.", False),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 1, "let_relation": "at least"},
        "Zebra",
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
        "zz",
        False,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "#", "let_frequency": 2, "let_relation": "at least"},
        "#a #b",
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "!", "let_frequency": 3, "let_relation": "at least"},
        "Wow! Yes!",
        False,
    ),
    # language
    ("language:response_language", {"language": "en"}, ENGLISH, True),
    ("language:response_language", {"language": "fr"}, ENGLISH, False),
    (
        "language:response_language",
        {"language": "de"},
        "Das ist ein schöner Tag, und wir gehen heute Abend mit unseren Freunden spazieren.",
        True,
    ),
    ("language:response_language", {"language": "fr"}, "12345 !!!", True),  # undetectable
    # length
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "at least"},
        ENGLISH,
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "less than"},
        ENGLISH,
        False,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "less than"},
        "Dr. Smith met Mr. Jones at 5 p.m. in the U.S. office.",
        True,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 10, "relation": "less than"},
        "one two three",
        True,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 4, "relation": "at least"},
        "don't stop-me now",
        True,
    ),  # \w+ runs: don, t, stop, me, now
    (
        "length_constraints:number_words",
        {"num_words": 6, "relation": "at least"},
        "don't stop-me now",
        False,
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "a\n***\nb\n***\nc", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\na\n***\nb\n***", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n***\n***\nb", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n\nb", False),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"},
        'First part.\n\n"Then, the second."',
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
        "First part.\n\nAnd then.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "then"},
        "First part.\n\nThen more.",
        False,
    ),  # wrong paragraph count
    # detectable_content
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], at [address].",
        True,
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 3},
        "Dear [name], at [address].",
        False,
    ),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\n\np. s. bye", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi. PS bye", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.P.S. bye", True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.S. bye", False),
    # detectable_format
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n* b\n- c\nd", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n** bold\n* b\n", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b\n* c", False),
    ("detectable_format:constrained_response", {}, "Hmm. My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is Yes.", False),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*one* and **two**",
        True,
    ),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*one* and * *",
        False,
    ),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 1},
        "*across\nlines*",
        False,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\nfoo\nSection 2\nbar",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "Section 1\nfoo\nSection 2\nbar",
        False,
    ),  # case-sensitive
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, '  {"a": 1}  ', True),
    ("detectable_format:json_format", {}, 'Here: {"a": 1}', False),
    ("detectable_format:title", {}, "<<A Poem>>\ntext", True),
    ("detectable_format:title", {}, "<<   >>\ntext", False),
    ("detectable_format:title", {}, "<<A\nPoem>>", False),
    # combination
    ("combination:two_responses", {}, "Yes it is.\n******\nNo it is not.", True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False),
    ("combination:two_responses", {}, "a\n******\n******\nb", False),
    ("combination:two_responses", {}, "a\n******\nb\n******\nc", False),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        "write a POEM. Roses are red.",
        True,
    ),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        "Sure! Write a poem. Roses are red.",
        False,
    ),
    # startend
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        'Done. "any other questions?"  ',
        True,
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        "Any other questions? Bye.",
        False,
    ),
    ("startend:quotation", {}, '  "Wrapped."  ', True),
    ("startend:quotation", {}, '"', False),
    ("startend:quotation", {}, '"Half wrapped.', False),
    # change_case
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "The USA and the UK agreed.",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "The USA and the UK agreed.",
        False,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 1, "capital_relation": "less than"},
        "I don't know.",
        False,
    ),  # "I" is upper case
    ("change_case:english_capital", {}, ENGLISH.upper(), True),
    ("change_case:english_capital", {}, ENGLISH, False),
    (
        "change_case:english_capital",
        {},
        "DAS IST EIN SCHÖNER TAG, UND WIR GEHEN HEUTE ABEND MIT UNSEREN FREUNDEN SPAZIEREN.",
        False,
    ),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), True),
    ("change_case:english_lowercase", {}, ENGLISH, False),
    # punctuation
    ("punctuation:no_comma", {}, "No commas here.", True),
    ("punctuation:no_comma", {}, "One, two.", False),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "expected"), CASES)
def test_checker_verdicts(
    instruction_id: str, kwargs: dict[str, Any], response: str, expected: bool
) -> None:
    assert build_instruction(instruction_id, kwargs).follows(response) is expected


def test_every_instruction_type_has_a_passing_and_a_failing_case() -> None:
    assert len(INSTRUCTION_IDS) == 25
    for instruction_id in INSTRUCTION_IDS:
        verdicts = {expected for i, _, _, expected in CASES if i == instruction_id}
        assert verdicts == {True, False}, instruction_id


def test_strict_fails_a_blank_response_and_loose_tries_the_variants() -> None:
    comma = build_instructions(["punctuation:no_comma"], [{}])
    assert judge_prompt(comma, "   ").strict == (False,)
    assert judge_prompt(comma, "   ").loose == (False,)
    # an opening line with a comma: strict fails, loose passes with the first line removed
    verdict = judge_prompt(comma, "Sure, here it is:\nNo commas below.")
    assert verdict.strict == (False,) and verdict.loose == (True,)
    # markdown emphasis hides the end phrase from the strict rule only
    end = build_instructions(["startend:end_checker"], [{"end_phrase": "Bye now."}])
    verdict = judge_prompt(end, "Text.\n**Bye now.**")
    assert verdict.strict == (False,) and verdict.loose == (True,)
    # a closing line after the requested end: only the loose rule forgives it
    verdict = judge_prompt(end, "Text. Bye now.\nLet me know!")
    assert verdict.strict == (False,) and verdict.loose == (True,)


def test_loose_variants_are_the_authors_eight() -> None:
    variants = loose_variants("first *a*\nmiddle\nlast")
    assert variants == [
        "first *a*\nmiddle\nlast",
        "first a\nmiddle\nlast",
        "middle\nlast",
        "first *a*\nmiddle",
        "middle",
        "middle\nlast",
        "first a\nmiddle",
        "middle",
    ]


def test_prompt_metrics_count_instructions_and_types() -> None:
    instructions = build_instructions(
        ["punctuation:no_comma", "punctuation:no_comma", "detectable_format:title"],
        [{}, None, {}],
    )
    metrics = judge_prompt(instructions, "Sure, here:\n<<T>> no commas").metrics()
    # strict: the comma fails both no_comma instructions; loose: without the first line
    # every instruction passes
    assert metrics["prompt_strict"] == 0.0 and metrics["prompt_loose"] == 1.0
    assert metrics["n_instructions"] == 3.0
    assert metrics["inst_strict_followed"] == 1.0
    assert metrics["inst_loose_followed"] == 3.0
    assert metrics["n.punctuation:no_comma"] == 2.0
    assert metrics["followed_strict.detectable_format:title"] == 1.0
    assert "n.keywords:existence" not in metrics
    names = {spec.name for spec in metric_specs()}
    assert {"prompt_strict", "inst_strict", "prompt_loose", "inst_loose"} <= names
    assert "inst_loose.keywords:existence" in names and len(names) == 4 + 2 * 25


def test_arguments_are_checked_once_and_none_values_dropped() -> None:
    hf_style = {
        "num_words": 5,
        "relation": "less than",
        "keywords": [],
        "language": None,
        "letter": "",
    }
    assert build_instruction("length_constraints:number_words", hf_style).follows("a b")
    with pytest.raises(LmauditError, match="unknown IFEval instruction"):
        build_instruction("keywords:rhymes", {})
    with pytest.raises(LmauditError, match="missing argument 'relation'"):
        build_instruction("length_constraints:number_words", {"num_words": 5})
    with pytest.raises(LmauditError, match="unexpected argument 'keyword'"):
        build_instruction("punctuation:no_comma", {"keyword": "x"})
    with pytest.raises(LmauditError, match="must be one of"):
        build_instruction("length_constraints:number_words", {"num_words": 5, "relation": "<"})
    with pytest.raises(LmauditError, match="wrong type"):
        build_instruction(
            "length_constraints:number_words", {"num_words": "5", "relation": "at least"}
        )
    with pytest.raises(LmauditError, match="2 instruction ids but 1"):
        build_instructions(["punctuation:no_comma", "detectable_format:title"], [{}])


def test_sentences_and_words_follow_nltk_conventions() -> None:
    text = "Dr. Watson arrived at 5 p.m. on Monday. He left! Did he? Yes."
    assert split_sentences(text) == [
        "Dr. Watson arrived at 5 p.m. on Monday.",
        "He left!",
        "Did he?",
        "Yes.",
    ]
    assert count_sentences("") == 0
    assert count_words("It's 3-4 o'clock, naïve café.") == 8
    assert word_tokens("I can't go, OK?") == ["I", "ca", "n't", "go", ",", "OK", "?"]


def test_language_detection_is_repeatable() -> None:
    text = "ok"  # short texts are where unseeded langdetect varies between calls
    assert len({detect_language(text) for _ in range(5)}) == 1
    assert detect_language("Bonjour à tous, je suis très heureux d'être ici aujourd'hui.") == "fr"
    assert detect_language("!!! 123") is None
