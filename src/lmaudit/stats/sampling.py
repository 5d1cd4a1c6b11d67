"""Metrics over several samples per problem: coverage, majority vote, best-of-N.

Input is one `ProblemSamples` per problem: its samples in sample-index order (the order
the samples were drawn: seed, seed + 1, ...), each with its extracted answer (None when
extraction failed), whether it is correct, and optionally a verifier score.

Conventions (every metric is the plain mean over problems, so each problem weighs the
same; its interval is the clustered t interval of `stats.intervals.mean_estimate` with the
problem as the cluster, kept inside [0, 1]):

- **coverage curve**: the unbiased pass@k of Chen et al. (`stats.passk.pass_at_k`) for
  k = 1, 2, 4, ... up to the smallest number of samples of any problem.
- **maj@k** (self-consistency): the vote over the *first k* samples (not an average over
  subsets). Only extracted answers vote (None abstains); answers are compared as exact
  strings (the scorer's extraction is the normalisation). **Tie rule:** among the answers
  tied for most votes, the one whose first vote came earliest wins. The problem scores 1
  when the winner is correct (the correctness of its earliest sample), 0 otherwise, and 0
  when no sample of the k voted.
- **vote share**: the winner's votes divided by k (abstentions count in the denominator),
  a confidence in [0, 1] that the majority answer is right; `vote_share_calibration` gives
  its ECE and Brier score (`stats.calibration`).
- **best-of-N**: among the first N samples, the one with the highest verifier score is
  chosen (ties: the earliest); the problem scores 1 when that sample is correct. The
  *oracle* verifier (an upper bound) scores 1 when any of the first N is correct. The
  model's own confidence is the mean token log-probability of a sample (natural log), a
  verifier score like any other (higher is better); samples without a score (None) are
  never chosen over a scored one, and a problem with no scored sample picks its first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmaudit.stats.calibration import brier_score, expected_calibration_error
from lmaudit.stats.intervals import Estimate, mean_estimate
from lmaudit.stats.passk import k_values, pass_at_k
from lmaudit.stats.validation import StatsInputError


@dataclass(frozen=True)
class ProblemSamples:
    """One problem's samples in sample-index order (module docstring)."""

    problem: str
    answers: tuple[str | None, ...]
    correct: tuple[bool, ...]
    scores: tuple[float | None, ...] | None = None

    def __post_init__(self) -> None:
        if not self.answers or len(self.answers) != len(self.correct):
            raise StatsInputError(
                f"problem {self.problem}: needs as many answers as correctness flags (>= 1); "
                f"got {len(self.answers)} and {len(self.correct)}"
            )
        if self.scores is not None and len(self.scores) != len(self.answers):
            raise StatsInputError(
                f"problem {self.problem}: {len(self.scores)} verifier scores for "
                f"{len(self.answers)} samples"
            )

    @property
    def n(self) -> int:
        return len(self.answers)


@dataclass(frozen=True)
class Vote:
    """The majority vote over some samples: the winning answer (None when nobody voted),
    its votes, the samples considered, and whether the winner is correct."""

    answer: str | None
    votes: int
    k: int
    correct: bool

    @property
    def share(self) -> float:
        """Votes for the winner / samples considered (abstentions in the denominator)."""
        return self.votes / self.k


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> Vote:
    """The vote over all of `answers` (tie rule: earliest first vote; module docstring)."""
    if not answers or len(answers) != len(correct):
        raise StatsInputError("majority_vote needs as many answers as correctness flags (>= 1)")
    tally: dict[str, list[int]] = {}  # answer -> [votes, index of its first vote]
    for i, answer in enumerate(answers):
        if answer is not None:
            tally.setdefault(answer, [0, i])[0] += 1
    if not tally:
        return Vote(None, 0, len(answers), False)
    winner, (votes, first) = max(tally.items(), key=lambda item: (item[1][0], -item[1][1]))
    return Vote(winner, votes, len(answers), bool(correct[first]))


def best_of_n_pick(scores: Sequence[float | None]) -> int:
    """Index of the sample a verifier picks: the highest score, ties to the earliest;
    None scores lose to any number; with no score at all, the first sample."""
    best, best_score = 0, None
    for i, score in enumerate(scores):
        if score is None or (isinstance(score, float) and np.isnan(score)):
            continue
        if best_score is None or score > best_score:
            best, best_score = i, score
    return best


def _smallest_n(problems: Sequence[ProblemSamples]) -> int:
    if not problems:
        raise StatsInputError("metrics over samples need at least one problem")
    return min(p.n for p in problems)


def _estimate(
    problems: Sequence[ProblemSamples], values: Sequence[float], confidence: float
) -> Estimate:
    labels = np.asarray([p.problem for p in problems], dtype=object)
    return mean_estimate(np.asarray(values, dtype=np.float64), confidence=confidence,
                         clusters=labels, bounds=(0.0, 1.0))


def _ks(problems: Sequence[ProblemSamples], ks: Sequence[int] | None) -> list[int]:
    n_min = _smallest_n(problems)
    chosen = list(ks) if ks is not None else k_values(n_min)
    for k in chosen:
        if not 1 <= k <= n_min:
            raise StatsInputError(f"k={k}: needs 1 <= k <= {n_min} (the fewest samples)")
    return chosen


def coverage_curve(
    problems: Sequence[ProblemSamples], ks: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> dict[int, Estimate]:
    """`{k: unbiased pass@k}` for k = 1, 2, 4, ... (or `ks`), clustered by problem."""
    return {
        k: _estimate(problems, [pass_at_k(p.n, sum(p.correct), k) for p in problems], confidence)
        for k in _ks(problems, ks)
    }


def maj_at_k(
    problems: Sequence[ProblemSamples], ks: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> dict[int, Estimate]:
    """`{k: maj@k}`: accuracy of the vote over each problem's first k samples."""
    return {
        k: _estimate(
            problems,
            [float(majority_vote(p.answers[:k], p.correct[:k]).correct) for p in problems],
            confidence,
        )
        for k in _ks(problems, ks)
    }


@dataclass(frozen=True)
class VoteCalibration:
    """How well the vote share predicts that the majority answer is right."""

    k: int
    ece: float
    brier: float
    mean_share: float
    accuracy: float


def vote_share_calibration(
    problems: Sequence[ProblemSamples], k: int | None = None, n_bins: int = 10
) -> VoteCalibration:
    """ECE (equal-mass bins) and Brier score of the vote share of the first k samples
    (default: the fewest samples of any problem) as the probability the vote is right."""
    k = k if k is not None else _smallest_n(problems)
    _ks(problems, [k])
    votes = [majority_vote(p.answers[:k], p.correct[:k]) for p in problems]
    shares = np.asarray([v.share for v in votes])
    hits = np.asarray([v.correct for v in votes], dtype=bool)
    return VoteCalibration(
        k,
        expected_calibration_error(shares, hits, n_bins=min(n_bins, len(votes))),
        brier_score(shares, hits),
        float(shares.mean()),
        float(hits.mean()),
    )


def best_of_n(
    problems: Sequence[ProblemSamples], ns: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> dict[int, Estimate]:
    """`{N: accuracy of the verifier's pick among the first N samples}` (needs scores)."""
    values: dict[int, Estimate] = {}
    for n in _ks(problems, ns):
        picks = []
        for p in problems:
            if p.scores is None:
                raise StatsInputError(f"problem {p.problem}: best-of-N needs verifier scores")
            picks.append(float(p.correct[best_of_n_pick(p.scores[:n])]))
        values[n] = _estimate(problems, picks, confidence)
    return values


def oracle_best_of_n(
    problems: Sequence[ProblemSamples], ns: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> dict[int, Estimate]:
    """`{N: share of problems with a correct sample among the first N}`: what a perfect
    verifier would reach (the upper bound of best-of-N)."""
    return {
        n: _estimate(problems, [float(any(p.correct[:n])) for p in problems], confidence)
        for n in _ks(problems, ns)
    }


def mean_token_logprob(logprobs: Sequence[float]) -> float | None:
    """The model's own confidence in a sample: mean natural-log probability of its tokens
    (None for an empty sample)."""
    return float(np.mean(logprobs)) if len(logprobs) else None


def sample_metric_names(n: int, *, verifier: bool = False) -> list[str]:
    """Per-problem metric names `per_problem_metrics` gives for n samples per problem:
    `pass@k` for k = 2, 4, ... <= n (pass@1 is the mean accuracy already), `maj@k` for
    k = 1, 2, 4, ... <= n (maj@1 is the first sample's accuracy), `vote_share` (of all n
    samples), `vote_brier` ((vote share - whether the vote over all n is right)^2: its mean
    is the Brier score of the vote share as a confidence), and with verifier scores
    `best_of_{k}` for the same k."""
    ks = k_values(n)
    names = [f"pass@{k}" for k in ks if k > 1] + [f"maj@{k}" for k in ks]
    names += ["vote_share", "vote_brier"]
    if verifier:
        names += [f"best_of_{k}" for k in ks]
    return names


def per_problem_metrics(samples: ProblemSamples) -> dict[str, float]:
    """One problem's values of `sample_metric_names(samples.n, verifier=...)`; their means
    over problems (with a problem-clustered interval) are the benchmark's metrics."""
    ks = k_values(samples.n)
    c = sum(samples.correct)
    values = {f"pass@{k}": pass_at_k(samples.n, c, k) for k in ks if k > 1}
    for k in ks:
        values[f"maj@{k}"] = float(majority_vote(samples.answers[:k], samples.correct[:k]).correct)
    vote = majority_vote(samples.answers, samples.correct)
    values["vote_share"] = vote.share
    values["vote_brier"] = (vote.share - float(vote.correct)) ** 2
    if samples.scores is not None:
        values.update((f"best_of_{k}", v) for k, v in best_of_k(samples.correct,
                                                                samples.scores).items())
    return values


def best_of_k(correct: Sequence[bool], scores: Sequence[float | None]) -> dict[int, float]:
    """`{k: 1.0 when the verifier's pick among the first k samples is correct, else 0.0}`
    for k = 1, 2, 4, ... <= the number of samples (one problem; `best_of_n_pick`)."""
    if len(correct) != len(scores):
        raise StatsInputError(f"{len(scores)} verifier scores for {len(correct)} samples")
    return {k: float(correct[best_of_n_pick(scores[:k])]) for k in k_values(len(correct))}
