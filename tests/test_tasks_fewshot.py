"""Few-shot selection (reproducible, never the sample itself) and context layout."""

from __future__ import annotations

import random

import pytest

from lmaudit.core.types import LmauditError, Sample
from lmaudit.tasks.fewshot import FewshotConfig, FewshotSelector, build_context
from lmaudit.tasks.generic import GenerateTask, MultipleChoiceTask


def pool(n: int, group: str | None = None) -> list[Sample]:
    fields = {"subject": group} if group else {}
    return [
        Sample(f"{group or 's'}{i}", f"Q{i}?", f"A{i}", metadata={"fields": fields})
        for i in range(n)
    ]


def test_context_layout_matches_lm_eval() -> None:
    context = build_context(
        "Q3?", [("Q1?", "A1"), ("Q2?", "A2")], description="Intro.\n\n",
        target_delimiter=" ", fewshot_delimiter="\n\n",
    )
    assert context == "Intro.\n\nQ1? A1\n\nQ2? A2\n\nQ3?"
    assert build_context("Q?", []) == "Q?"


def test_random_draw_is_reproducible_and_follows_the_documented_rule() -> None:
    samples = pool(20)
    first = FewshotSelector(FewshotConfig(3, seed=7), lambda: samples, exclude_self=False)
    again = FewshotSelector(FewshotConfig(3, seed=7), lambda: samples, exclude_self=False)
    other = FewshotSelector(FewshotConfig(3, seed=8), lambda: samples, exclude_self=False)
    target = Sample("x", "Qx?", "Ax")
    ids = [s.id for s in first.examples(target)]
    assert ids == [s.id for s in again.examples(target)]
    assert ids != [s.id for s in other.examples(target)]
    # The rule: shuffle the pool with random.Random("<seed>/<group>"), keep the first n.
    expected = random.Random("7/").sample(samples, len(samples))[:3]
    assert ids == [s.id for s in expected]
    assert first.spec()["candidate_ids"] == ids


def test_same_split_never_shows_a_sample_itself() -> None:
    samples = pool(6)
    selector = FewshotSelector(FewshotConfig(2, seed=1), lambda: samples, exclude_self=True)
    candidates = selector.spec()["candidate_ids"]
    assert len(candidates) == 3  # n + 1 when the pool is the evaluation split
    for sample in samples:
        ids = [s.id for s in selector.examples(sample)]
        assert sample.id not in ids and len(ids) == 2
        assert ids == [c for c in candidates if c != sample.id][:2]


def test_first_n_sampler_and_grouping() -> None:
    samples = pool(3, "algebra") + pool(3, "anatomy")
    config = FewshotConfig(2, sampler="first_n", group_by="subject")
    selector = FewshotSelector(config, lambda: samples, exclude_self=True)
    algebra = Sample("q", "Q?", "A", metadata={"fields": {"subject": "algebra"}})
    assert [s.id for s in selector.examples(algebra)] == ["algebra0", "algebra1"]
    assert [s.id for s in selector.examples(samples[0])] == ["algebra1", "algebra2"]
    assert [s.id for s in selector.examples(samples[4])] == ["anatomy0", "anatomy2"]
    assert selector.spec()["candidate_ids"] == {
        "algebra": ["algebra0", "algebra1", "algebra2"],
        "anatomy": ["anatomy0", "anatomy1", "anatomy2"],
    }


def test_too_small_pool_is_a_clear_error() -> None:
    samples = pool(2)
    selector = FewshotSelector(FewshotConfig(2), lambda: samples, exclude_self=True,
                               pool_name="tiny.jsonl")
    with pytest.raises(LmauditError, match=r"2 examples requested .* tiny\.jsonl has only 1"):
        selector.examples(samples[0])


def test_tasks_render_examples_with_their_answers() -> None:
    gen_pool = pool(4)
    selector = FewshotSelector(FewshotConfig(2, sampler="first_n"), lambda: gen_pool,
                               exclude_self=True)
    task = GenerateTask("g", lambda: gen_pool, scorer="exact", fewshot=selector,
                        fewshot_delimiter="\n###\n")
    (request,) = task.requests(gen_pool[0])
    assert request.prompt == "Q1? A1\n###\nQ2? A2\n###\nQ0?"  # type: ignore[union-attr]

    mc_pool = [Sample(f"m{i}", f"M{i}?", i % 2, choices=("no", "yes")) for i in range(3)]
    mc_selector = FewshotSelector(FewshotConfig(1, sampler="first_n"), lambda: mc_pool,
                                  exclude_self=True)
    mc = MultipleChoiceTask("m", lambda: mc_pool, fewshot=mc_selector)
    first = mc.requests(mc_pool[2])[0]
    assert first.context == "M0? no\n\nM2?"  # type: ignore[union-attr]
    assert mc.spec()["fewshot"]["candidate_ids"] == ["m0", "m1"]
