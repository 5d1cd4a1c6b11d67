"""Metrics over samples (`lmaudit.stats.sampling`): known values, tie rule, verifiers, and
the reasoning tasks' and `lmaudit score`'s use of them."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.runner import evaluate
from lmaudit.stats.sampling import (
    ProblemSamples,
    best_of_n,
    best_of_n_pick,
    coverage_curve,
    maj_at_k,
    majority_vote,
    mean_token_logprob,
    oracle_best_of_n,
    per_problem_metrics,
    sample_metric_names,
    vote_share_calibration,
)
from lmaudit.stats.validation import StatsInputError
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl


def _problem(name: str, answers: str, target: str = "a",
             scores: tuple[float | None, ...] | None = None) -> ProblemSamples:
    """Answers as one letter per sample ('-' = extraction failed)."""
    extracted = tuple(None if a == "-" else a for a in answers)
    return ProblemSamples(name, extracted, tuple(a == target for a in extracted), scores)


def test_coverage_curve_matches_the_closed_form_including_n_minus_c_below_k() -> None:
    # 8 samples: p1 has 3 correct, p2 has 7 correct (n - c = 1 < k for k >= 2), p3 none.
    problems = [_problem("p1", "aaabbbbb"), _problem("p2", "aaaaaaab"), _problem("p3", "bbbbbbbb")]
    curve = coverage_curve(problems)
    assert list(curve) == [1, 2, 4, 8]
    for k, estimate in curve.items():
        expected = [1 - comb(8 - c, k) / comb(8, k) for c in (3, 7, 0)]
        assert estimate.value == pytest.approx(sum(expected) / 3, abs=1e-12)
        assert estimate.n_clusters == 3
        assert 0.0 <= estimate.ci_low <= estimate.value <= estimate.ci_high <= 1.0
    assert curve[2].value == pytest.approx((1 - comb(5, 2) / 28 + 1.0 + 0.0) / 3)
    assert curve[8].value == pytest.approx(2 / 3)
    values = [e.value for e in curve.values()]
    assert values == sorted(values)  # coverage never falls with k


def test_majority_vote_tie_goes_to_the_earliest_first_vote() -> None:
    vote = majority_vote(["b", "a", "a", "b"], [False, True, True, False])
    assert (vote.answer, vote.votes, vote.correct, vote.share) == ("b", 2, False, 0.5)
    vote = majority_vote([None, "a", "b", "b", "a"], [False, True, False, False, True])
    assert (vote.answer, vote.correct, vote.share) == ("a", True, 0.4)  # abstention counts in k
    assert majority_vote([None, None], [False, False]).answer is None
    assert majority_vote(["c", "a", "a"], [False, True, True]).answer == "a"  # plain majority


def test_maj_at_k_uses_the_first_k_samples() -> None:
    problems = [_problem("p1", "bbaa"), _problem("p2", "abab"), _problem("p3", "----")]
    maj = maj_at_k(problems)
    assert maj[1].value == pytest.approx(1 / 3)  # p2's first answer
    assert maj[2].value == pytest.approx(1 / 3)  # p1: b; p2: tie a/b -> a (earliest)
    assert maj[4].value == pytest.approx(1 / 3)  # p1: tie b/a -> b (earliest); p2: a
    with pytest.raises(StatsInputError, match="k=8"):
        maj_at_k(problems, ks=[8])


def test_best_of_n_with_a_scripted_verifier_and_the_oracle_bound() -> None:
    problems = [
        _problem("p1", "baba", scores=(0.9, 0.1, 0.2, 0.95)),   # N=4 picks sample 3: 'a'
        _problem("p2", "abbb", scores=(0.5, 0.5, None, 0.1)),    # tie at 0.5 -> sample 0
        _problem("p3", "bbbb", scores=(None, None, None, None)),  # no score: first sample
    ]
    picked = best_of_n(problems)
    assert picked[1].value == pytest.approx(1 / 3)  # p1 b, p2 a, p3 b
    assert picked[2].value == pytest.approx(1 / 3)  # p1 picks 0 (b), p2 picks 0 (a)
    assert picked[4].value == pytest.approx(2 / 3)  # p1 picks 3 (a)
    oracle = oracle_best_of_n(problems)
    assert [e.value for e in oracle.values()] == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert all(picked[n].value <= oracle[n].value for n in picked)
    assert best_of_n_pick([float("nan"), 0.3]) == 1
    with pytest.raises(StatsInputError, match="verifier"):
        best_of_n([_problem("p", "ab")])


def test_self_confidence_is_the_mean_token_logprob() -> None:
    assert mean_token_logprob([-1.0, -3.0]) == -2.0
    assert mean_token_logprob([]) is None


def test_vote_share_calibration() -> None:
    problems = [_problem("p1", "aaaa"), _problem("p2", "bbbb", target="x"),
                _problem("p3", "aabc"), _problem("p4", "bbca")]
    cal = vote_share_calibration(problems, n_bins=2)
    assert cal.k == 4 and cal.accuracy == 0.5
    assert cal.mean_share == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    # shares (1, 1, .5, .5) vs hits (1, 0, 1, 0): Brier = (0 + 1 + .25 + .25) / 4
    assert cal.brier == pytest.approx(0.375)
    assert cal.ece == pytest.approx(0.5 * 0.5 + 0.5 * 0.0)
    per_problem = [per_problem_metrics(p)["vote_brier"] for p in problems]
    assert sum(per_problem) / len(per_problem) == pytest.approx(cal.brier)


def test_per_problem_metrics_and_names_agree() -> None:
    samples = _problem("p", "babb", scores=(0.0, 1.0, 0.0, 0.0))
    values = per_problem_metrics(samples)
    assert list(values) == sample_metric_names(4, verifier=True)
    assert values["pass@2"] == pytest.approx(1 - comb(3, 2) / comb(4, 2))
    assert values["pass@4"] == 1.0
    assert values["maj@1"] == 0.0 and values["maj@2"] == 0.0  # tie b/a -> b
    assert values["vote_share"] == 0.75
    assert values["vote_brier"] == 0.75**2  # the vote (b) is wrong
    assert values["best_of_2"] == 1.0 and values["best_of_1"] == 0.0
    with pytest.raises(StatsInputError):
        ProblemSamples("p", ("a",), (True, False))


AIME = [{"id": 60, "problem": "Find 2*102.", "solution": "204", "answer": "204", "url": "u"},
        {"id": 61, "problem": "Find 3*3.", "solution": "9", "answer": "9", "url": "u"}]


def test_reasoning_task_reports_the_sample_metrics(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "aime.jsonl", AIME)
    task = load_task("aime24", {"data": str(data), "samples": "4"})
    names = {m.name for m in task.metrics}
    assert {"pass@2", "pass@4", "maj@1", "maj@4", "vote_share"} <= names
    replies = iter(["\\boxed{205}", "\\boxed{204}", "\\boxed{205}", "\\boxed{204}",
                    "\\boxed{9}", "\\boxed{8}", "\\boxed{8}", "\\boxed{9}"])
    records = evaluate(task, ScriptedBackend(lambda r: next(replies)), task.samples(),
                       show_progress=False)
    first, second = records
    assert first.metrics["maj@4"] == 0.0  # tie 205/204 -> 205 (earliest)
    assert second.metrics["maj@4"] == 1.0  # tie 9/8 -> 9
    assert first.metrics["pass@2"] == pytest.approx(1 - 1 / 6)
    assert first.metrics["vote_share"] == 0.5


def test_score_stored_rows_with_sample_index_and_verifier_scores(tmp_path: Path) -> None:
    rows = [  # written out of order: sample_index puts them back
        {"id": "p1", "target": "204", "sample_index": 1, "response": "\\boxed{204}",
         "verifier_score": 0.9},
        {"id": "p1", "target": "204", "sample_index": 0, "response": "\\boxed{205}",
         "verifier_score": 0.2},
        {"id": "p2", "target": "9", "sample_index": 0, "response": "\\boxed{9}",
         "verifier_score": 0.1},
        {"id": "p2", "target": "9", "sample_index": 1, "response": "\\boxed{8}",
         "verifier_score": 0.7},
    ]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    out = tmp_path / "run"
    assert main(["score", "--task", "aime24", "--responses", str(responses),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    assert metrics["maj@1"]["value"] == pytest.approx(0.5)  # p1 first is 205, p2 first is 9
    assert metrics["maj@2"]["value"] == pytest.approx(0.5)  # ties -> the first sample
    assert metrics["pass@2"]["value"] == 1.0
    assert metrics["best_of_2"]["value"] == pytest.approx(0.5)  # p1: 204 (ok); p2: 8 (wrong)
    assert metrics["best_of_1"]["value"] == pytest.approx(0.5)


def test_score_refuses_repeated_sample_index(tmp_path: Path) -> None:
    rows = [{"id": "p1", "target": "1", "sample_index": 0, "response": "1"},
            {"id": "p1", "target": "1", "sample_index": 0, "response": "2"}]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    assert main(["score", "--task", "aime24", "--responses", str(responses),
                 "--out", str(tmp_path / "run")]) != 0
