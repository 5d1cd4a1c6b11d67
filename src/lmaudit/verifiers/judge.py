"""An LLM judge as a best-of-N verifier, through any lmaudit backend.

The judge reads the problem and one candidate answer and replies with a line
`Score: N`, N an integer from 0 (certainly wrong) to 10 (certainly right); the verifier's
score is N / 10. The last `Score:` line of the reply counts. A reply without one, or with a
number outside 0-10, is a recorded failure (score None, the reason kept), not an error.
The judge decodes greedily (temperature 0) so a rerun gives the same scores; with the
run's request cache (`use_cache`, called by `run_task`) a rerun or a resumed run asks the
judge nothing twice, while it serves the same model: the judge is identified when the cache
is bound, once per run, and an API judge now serving another model behind the same name
has its cached replies deleted, with a warning (`lmaudit.core.served_cache`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lmaudit.core.backend import Backend
from lmaudit.core.types import GenerateRequest, Generation, GenerationParams
from lmaudit.verifiers import Candidate, Verdict

if TYPE_CHECKING:
    from lmaudit.core.cache import RequestCache
    from lmaudit.core.served_cache import ServedCache

JUDGE_PROMPT_VERSION = "judge-score-v1"
JUDGE_PROMPT = (
    "You are checking a candidate's answer to a problem. Work out whether the candidate's "
    "final answer is right, then rate how sure you are that it is right, from 0 (surely "
    "wrong) to 10 (surely right).\n\n"
    "### Problem\n{problem}\n\n"
    "### Candidate answer\n{answer}\n\n"
    "End your reply with a line of the form `Score: N`, where N is a whole number from 0 "
    "to 10.\n"
)
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
MAX_SCORE = 10.0


def parse_judge_score(text: str) -> Verdict:
    """The verdict in a judge's reply: the last `Score: N` line, N in [0, 10], as N / 10;
    otherwise a failure naming what was wrong."""
    found = _SCORE.findall(text)
    if not found:
        shown = text.strip().replace("\n", " ")
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return Verdict(None, f"judge reply has no `Score: N` line: {shown!r}")
    value = float(found[-1])
    if not 0.0 <= value <= MAX_SCORE:
        return Verdict(None, f"judge score {found[-1]} is outside 0-10")
    return Verdict(value / MAX_SCORE)


class JudgeVerifier:
    """Asks `backend` to rate every candidate (one batch per problem; module docstring)."""

    label = "judge"
    needs_logprobs = False

    def __init__(self, backend: Backend, model_spec: str, *, max_tokens: int = 256) -> None:
        self.backend = backend
        self.model_spec = model_spec
        self.max_tokens = max_tokens
        self.served: ServedCache | None = None

    def use_cache(self, cache: RequestCache | None) -> None:
        """Keep the judge's replies in `cache` (None: no cache); identifies the judge now
        (an API judge asks its server once), so call it once per run."""
        from lmaudit.core.served_cache import ServedCache

        self.served = None if cache is None else ServedCache(self.backend, cache)

    def spec(self) -> dict[str, Any]:
        from lmaudit.core.redact import redact

        return {"kind": "judge", "model": redact(self.model_spec),
                "prompt_version": JUDGE_PROMPT_VERSION, "max_tokens": self.max_tokens}

    def requests(self, candidates: Sequence[Candidate]) -> list[GenerateRequest]:
        params = GenerationParams(self.max_tokens, 0.0)
        return [
            GenerateRequest(JUDGE_PROMPT.format(problem=c.prompt.strip(), answer=c.text.strip()),
                            params=params)
            for c in candidates
        ]

    def _replies(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """The judge's replies, from the cache where it has still-valid ones."""
        if self.served is None:
            return list(self.backend.generate(requests))
        return [r for r in self.served.answer(requests) if isinstance(r, Generation)]

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """One verdict per candidate, with the tokens the judge's backend counted for it
        (a cached reply keeps the count of when it was made: the method's cost)."""
        from lmaudit.core.usage import response_tokens

        verdicts = []
        for reply in self._replies(self.requests(candidates)):
            prompt, completion = response_tokens(reply)
            verdicts.append(dataclasses.replace(parse_judge_score(reply.text),
                                                prompt_tokens=prompt,
                                                completion_tokens=completion))
        return verdicts
