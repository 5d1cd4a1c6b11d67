"""Scorer registry, the ScoreOutcome contract, and the exact / contains string scorers."""

from __future__ import annotations

import dataclasses

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.scoring import (
    ContainsScorer,
    ExactMatchScorer,
    ScoreOutcome,
    Scorer,
    get_scorer,
    normalize_whitespace,
    register_scorer,
    scorer_names,
)
from lmaudit.scoring import registry as registry_module

BUILTINS = ["arc_grid", "contains", "contains_ci", "exact", "exact_ci", "numeric"]


def test_builtin_scorers_are_registered_and_conform() -> None:
    assert set(BUILTINS) <= set(scorer_names())
    versions = set()
    for name in BUILTINS:
        scorer = get_scorer(name)
        assert isinstance(scorer, Scorer)
        assert scorer.name == name
        versions.add(scorer.version)
        outcome = scorer("5", "5")
        assert isinstance(outcome, ScoreOutcome)
        assert tuple(outcome.metrics) == scorer.metric_names()
        assert all(value in (0.0, 1.0) for value in outcome.metrics.values())
    assert len(versions) == len(BUILTINS)  # every scorer is versioned distinctly


def test_default_scorer_is_numeric() -> None:
    assert get_scorer().name == "numeric"


def test_unknown_scorer_lists_the_known_names() -> None:
    with pytest.raises(LmauditError, match=r"unknown scorer 'nope'.*contains.*numeric"):
        get_scorer("nope")


@dataclasses.dataclass(frozen=True)
class _LengthScorer:
    name: str = "test_length_even"
    version: str = "length-v1"

    def metric_names(self) -> tuple[str, ...]:
        return ("acc",)

    def __call__(self, response: str, target: str) -> ScoreOutcome:
        correct = len(response) % 2 == 0
        return ScoreOutcome(correct, response, {"acc": float(correct)})


def test_register_scorer_adds_a_factory_and_refuses_a_clash() -> None:
    def factory() -> Scorer:
        return _LengthScorer()

    try:
        assert register_scorer("test_length_even")(factory) is factory
        assert "test_length_even" in scorer_names()
        assert get_scorer("test_length_even")("ab", "").correct
        register_scorer("test_length_even")(factory)  # same factory again: allowed

        def other() -> Scorer:
            return _LengthScorer()

        with pytest.raises(ValueError, match="already registered"):
            register_scorer("test_length_even")(other)
        with pytest.raises(ValueError, match="non-empty"):
            register_scorer(" ")
    finally:
        registry_module._FACTORIES.pop("test_length_even", None)


def test_score_outcome_is_frozen_with_read_only_metrics() -> None:
    source = {"acc": 1.0}
    outcome = ScoreOutcome(True, "x", source)
    source["acc"] = 0.0  # the outcome keeps its own copy
    assert outcome.metrics["acc"] == 1.0
    with pytest.raises(TypeError):
        outcome.metrics["acc"] = 0.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.correct = False  # type: ignore[misc]
    assert outcome == ScoreOutcome(True, "x", {"acc": 1.0})
    assert hash(outcome) == hash(ScoreOutcome(True, "x", {"acc": 0.0}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  Paris ", "Paris"), ("New\n\tYork  City", "New York City"), ("", ""), ("\n", "")],
)
def test_normalize_whitespace(text: str, expected: str) -> None:
    assert normalize_whitespace(text) == expected


@pytest.mark.parametrize(
    ("response", "target", "exact", "exact_ci"),
    [
        ("Paris", "Paris", True, True),
        ("  Paris\n", "Paris", True, True),
        ("New  York", "New York", True, True),
        ("paris", "Paris", False, True),
        ("STRASSE", "straße", False, True),  # casefold, not lower()
        ("Paris.", "Paris", False, False),
        ("The answer is Paris", "Paris", False, False),
    ],
)
def test_exact_match(response: str, target: str, exact: bool, exact_ci: bool) -> None:
    assert ExactMatchScorer()(response, target).correct is exact
    assert ExactMatchScorer(case_sensitive=False)(response, target).correct is exact_ci
    assert get_scorer("exact")(response, target).metrics["acc"] == float(exact)


def test_exact_match_extracted_is_normalized_response() -> None:
    assert ExactMatchScorer()("  a\n b ", "x").extracted == "a b"
    assert ExactMatchScorer()("   ", "x").extracted is None


@pytest.mark.parametrize(
    ("response", "target", "contains", "contains_ci"),
    [
        ("The capital is Paris.", "Paris", True, True),
        ("The capital is\nNew   York.", "New York", True, True),
        ("the capital is paris", "Paris", False, True),
        ("The capital is Lyon.", "Paris", False, False),
    ],
)
def test_contains(response: str, target: str, contains: bool, contains_ci: bool) -> None:
    outcome = ContainsScorer()(response, target)
    assert outcome.correct is contains
    assert outcome.extracted == (normalize_whitespace(target) if contains else None)
    assert ContainsScorer(case_sensitive=False)(response, target).correct is contains_ci


def test_contains_rejects_an_empty_target() -> None:
    with pytest.raises(LmauditError, match="empty"):
        get_scorer("contains")("anything", "  ")
