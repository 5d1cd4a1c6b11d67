"""Verifiers for best-of-N: each gives every sampled answer of a problem a score (higher is
better); `lmaudit.stats.sampling.best_of_n_pick` then picks the highest among the first N.

Built-in verifiers (`parse_verifier` reads the CLI spelling `--verifier SPEC`):

- `judge=MODEL_SPEC`: an LLM judge through any lmaudit backend (`verifiers.judge`): it
  rates each answer 0-10; the score is that rating / 10. Output without a rating is a
  recorded failure (score None), never a crash.
- `reward=PATH_OR_HUB_ID`: a Hugging Face sequence-classification reward model
  (`verifiers.reward`): the score is its logit (one label) or the log-probability of its
  last label (several labels).
- `self`: the model's own confidence, the mean natural-log probability of the answer's
  tokens (`Generation.token_logprobs`; None when the backend gave none).
- `oracle`: 1 for a correct answer, 0 otherwise: best-of-N's upper bound (a correct
  answer among the first N is always picked).

A score of None never wins over a number (`best_of_n_pick`); the share of answers without a
score is reported per verifier (`verifier_failed:LABEL`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lmaudit.core.types import LmauditError

VERIFIER_HELP = (
    "best-of-N verifier, repeatable: judge=MODEL_SPEC (an LLM judge through any backend), "
    "reward=PATH_OR_HUB_ID (a Hugging Face sequence-classification reward model), self (the "
    "model's mean token log-probability) or oracle (a correct answer when there is one: the "
    "upper bound); reports best_of_N:LABEL for N = 1, 2, 4, ... samples"
)


@dataclass(frozen=True)
class Candidate:
    """One sampled answer to verify: the problem's prompt, the answer text (thinking
    removed), its extracted answer, whether the task's scorer found it correct, and its
    token log-probabilities (natural log) when the backend returned them."""

    prompt: str
    text: str
    extracted: str | None
    correct: bool
    token_logprobs: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Verdict:
    """A verifier's score of one candidate (higher is better), or None with the reason;
    `prompt_tokens`, `completion_tokens`: what a model-based verifier's backend counted for
    this candidate (0 when it ran no counted model), for the cost of best-of-N."""

    score: float | None
    failure: str | None = None
    prompt_tokens: int = field(default=0, compare=False)
    completion_tokens: int = field(default=0, compare=False)


class Verifier(Protocol):
    """Scores all candidates of one problem at once (one batch per problem)."""

    @property
    def label(self) -> str:
        """Short name used in metric names (`best_of_4:judge`)."""
        ...

    @property
    def needs_logprobs(self) -> bool:
        """Whether the sampled answers must carry token log-probabilities."""
        ...

    def spec(self) -> dict[str, Any]:
        """What identifies the verifier (goes into the task spec and the manifest)."""
        ...

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]: ...


class OracleVerifier:
    """1.0 for a correct candidate, 0.0 otherwise (best-of-N's upper bound)."""

    label = "oracle"
    needs_logprobs = False

    def spec(self) -> dict[str, Any]:
        return {"kind": "oracle"}

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        return [Verdict(float(c.correct)) for c in candidates]


class SelfConfidenceVerifier:
    """The mean token log-probability (nats) of each candidate; None without log-probs."""

    label = "self"
    needs_logprobs = True

    def spec(self) -> dict[str, Any]:
        return {"kind": "self", "score": "mean token log-probability (natural log)"}

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        from lmaudit.stats.sampling import mean_token_logprob

        verdicts = []
        for c in candidates:
            value = None if c.token_logprobs is None else mean_token_logprob(c.token_logprobs)
            verdicts.append(Verdict(value, None if value is not None else
                                    "no token log-probabilities from the backend"))
        return verdicts


def parse_verifier(spec: str, *, model_options: Mapping[str, Any] | None = None) -> Verifier:
    """The verifier a `--verifier` spec names (module docstring). A judge model is loaded
    with `model_options` (dtype, device, ...)."""
    kind, sep, target = spec.partition("=")
    kind = kind.strip()
    if kind == "oracle" and not sep:
        return OracleVerifier()
    if kind == "self" and not sep:
        return SelfConfidenceVerifier()
    if kind == "judge" and target:
        from lmaudit.backends.registry import load_backend
        from lmaudit.verifiers.judge import JudgeVerifier

        return JudgeVerifier(load_backend(target, model_options), target)
    if kind == "reward" and target:
        from lmaudit.verifiers.reward import RewardModelVerifier

        return RewardModelVerifier(target)
    raise LmauditError(
        f"--verifier {spec!r}: expected judge=MODEL_SPEC, reward=PATH_OR_HUB_ID, self or oracle"
    )


def numbered_labels(kinds: Sequence[str]) -> list[str]:
    """Each kind numbered from its second occurrence (`judge`, `judge2`): the labels of the
    metrics (`best_of_4:judge2`) and of a stored run's verifier specs."""
    seen: dict[str, int] = {}
    labels = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        labels.append(kind if seen[kind] == 1 else f"{kind}{seen[kind]}")
    return labels


def unique_labels(verifiers: Sequence[Verifier]) -> list[str]:
    """Each verifier's label, numbered from the second of a kind (`numbered_labels`)."""
    return numbered_labels([v.label for v in verifiers])


def run_verifiers(
    verifiers: Sequence[Verifier], candidates: Sequence[Candidate]
) -> dict[str, list[Verdict]]:
    """`{label: one Verdict per candidate}` for every verifier."""
    results = {}
    for label, verifier in zip(unique_labels(verifiers), verifiers, strict=True):
        verdicts = verifier.verify(candidates)
        if len(verdicts) != len(candidates):
            raise LmauditError(f"verifier {label} returned {len(verdicts)} verdicts for "
                               f"{len(candidates)} answers")
        results[label] = list(verdicts)
    return results
