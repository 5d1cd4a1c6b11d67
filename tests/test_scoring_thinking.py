"""Thinking segments: removed before extraction, counted per sample."""

from __future__ import annotations

import pytest

from lmaudit.scoring.thinking import DEFAULT_TAGS, parse_tags, split_thinking


def test_closed_segment_is_removed_and_counted() -> None:
    split = split_thinking("<think>two plus two\nis four</think>\nThe answer is 4.")
    assert split.answer == "The answer is 4."
    assert split.thinking == ("two plus two\nis four",)
    assert split.thinking_words == 5 and not split.unclosed


def test_unclosed_think_at_the_start_leaves_no_answer() -> None:
    split = split_thinking("<think>let me see... 3? or \\boxed{5}")
    assert split.answer == "" and split.unclosed
    assert "\\boxed{5}" in split.thinking[0]


def test_close_without_open_means_the_prompt_opened_it() -> None:
    split = split_thinking("hmm, 6 * 7 = 42</think>\n\\boxed{42}")
    assert split.answer == "\\boxed{42}"
    assert split.thinking == ("hmm, 6 * 7 = 42",)


def test_several_segments_and_configured_tags() -> None:
    text = "[R]a b[/R]x [R]c[/R]y"
    split = split_thinking(text, ("[R]", "[/R]"))
    assert split.answer == "x y" and split.thinking == ("a b", "c")
    assert split_thinking(text, None).answer == text


def test_reasoning_tokens_are_prorated_by_characters() -> None:
    text = "<think>" + "x" * 80 + "</think>" + "y" * 5
    split = split_thinking(text)
    counts = split.counts(completion_tokens=100, response_chars=len(text))
    assert counts["reasoning_tokens"] == round(100 * 80 / len(text))
    assert split.counts()["reasoning_tokens"] is None


def test_parse_tags() -> None:
    assert parse_tags(None) == DEFAULT_TAGS
    assert parse_tags("none") is None
    assert parse_tags("<reasoning>,</reasoning>") == ("<reasoning>", "</reasoning>")
    with pytest.raises(ValueError):
        parse_tags("<think>")
