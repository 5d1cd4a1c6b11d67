"""The data that flows through a run: samples, requests, responses, per-sample records.

Conventions: log-probabilities are natural logs (nats). Every type is frozen; requests are
hashable so that a request's hash (with the model fingerprint) can key a cache.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


class LmauditError(Exception):
    """A user-facing error: the CLI prints its message in one line, without a traceback."""


class RequestKind(enum.Enum):
    """The three things a backend can be asked to compute."""

    LOGLIKELIHOOD = "loglikelihood"
    LOGLIKELIHOOD_ROLLING = "loglikelihood_rolling"
    GENERATE = "generate"


@dataclass(frozen=True)
class Sample:
    """One benchmark item.

    `target` is the option index for multiple choice, otherwise the reference text.
    `metadata` holds anything else a task or a statistic needs; `metadata["cluster"]`
    (when present) groups samples for clustered standard errors.
    """

    id: str
    input: str
    target: str | int
    choices: tuple[str, ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def cluster(self) -> str | None:
        value = self.metadata.get("cluster")
        return None if value is None else str(value)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), summed over the continuation's tokens (nats).

    As in lm-evaluation-harness, the continuation usually starts with its separator
    (e.g. `" Paris"`), and trailing spaces of the context move to the continuation.
    """

    context: str
    continuation: str

    kind: Literal[RequestKind.LOGLIKELIHOOD] = field(
        default=RequestKind.LOGLIKELIHOOD, init=False, repr=False
    )


@dataclass(frozen=True)
class RollingLoglikelihoodRequest:
    """log P(text) of a whole document, scored in disjoint windows with maximal context."""

    text: str

    kind: Literal[RequestKind.LOGLIKELIHOOD_ROLLING] = field(
        default=RequestKind.LOGLIKELIHOOD_ROLLING, init=False, repr=False
    )


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str
    content: str


@dataclass(frozen=True)
class ThinkingControl:
    """How long a reasoning model may think (budget forcing, Muennighoff et al. 2025, "s1").

    `budget`: at most this many thinking tokens (tokens the model generated between the
    `tags` delimiters; the delimiters and inserted `wait` text not counted); on reaching it
    without closing, the backend appends the close tag and `answer_prefix` and the model
    writes its answer. `extend`: the first `extend` times the model closes its thinking, the
    close tag is replaced by `wait` and thinking goes on; `min_tokens`: likewise, every time
    the model closes before this many thinking tokens. `effort`: a reasoning-effort level
    passed to APIs that take one (`reasoning_effort`, e.g. low / medium / high).
    `max_tokens` of the request still caps every completion token (thinking, inserted text
    and answer together). Backends: `backends.budget_forcing` (HF), `vllm_budget` (rounds),
    `openai_protocol` (budget and effort passed through).
    """

    budget: int | None = None
    extend: int = 0
    tags: tuple[str, str] = ("<think>", "</think>")
    wait: str = "Wait"
    answer_prefix: str = ""
    effort: str | None = None
    min_tokens: int = 0

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"thinking budget must be >= 0 tokens, got {self.budget}")
        if self.extend < 0 or self.min_tokens < 0:
            raise ValueError(f"thinking extend and min_tokens must be >= 0, got "
                             f"{self.extend} and {self.min_tokens}")

    @property
    def forcing(self) -> bool:
        """Whether generation must be steered token by token (a budget or extensions)."""
        return self.budget is not None or self.extend > 0 or self.min_tokens > 0

    def extends(self, thinking_tokens: int, extensions: int) -> bool:
        """Whether a close tag the model just wrote is replaced by the wait text."""
        return extensions < self.extend or thinking_tokens < self.min_tokens


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. `temperature == 0` means greedy; `seed` makes sampling repeatable.

    `logprobs`: ask the backend for each generated token's log-probability
    (`Generation.token_logprobs`). `thinking`: a thinking budget (`ThinkingControl`)."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    thinking: ThinkingControl | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class GenerateRequest:
    """Generate from a plain prompt or from chat messages (exactly one of the two)."""

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    params: GenerationParams = GenerationParams()

    kind: Literal[RequestKind.GENERATE] = field(
        default=RequestKind.GENERATE, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("GenerateRequest needs exactly one of `prompt` or `messages`")


Request = LoglikelihoodRequest | RollingLoglikelihoodRequest | GenerateRequest


def request_key(request: Request) -> str:
    """A stable hex digest of a request, independent of Python's hash seed."""
    payload: dict[str, object] = {"kind": request.kind.value}
    if isinstance(request, LoglikelihoodRequest):
        payload.update(context=request.context, continuation=request.continuation)
    elif isinstance(request, RollingLoglikelihoodRequest):
        payload.update(text=request.text)
    else:
        payload.update(
            prompt=request.prompt,
            messages=[[m.role, m.content] for m in request.messages or ()],
            params=[
                request.params.max_tokens,
                request.params.temperature,
                request.params.top_p,
                list(request.params.stop),
                request.params.seed,
            ],
        )
        # Added later: keys of requests without them stay as they were (caches stay valid).
        if request.params.logprobs:
            payload["logprobs"] = True
        if request.params.thinking is not None:
            payload["thinking"] = dataclasses.asdict(request.params.thinking)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Usage:
    """What answering one request cost: tokens as the server counted them, wall seconds
    from sending the request to its answer, and whether it came from the request cache."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class LoglikelihoodResult:
    """Answer to a LoglikelihoodRequest.

    `logprob`: summed natural-log probability of the continuation's tokens.
    `is_greedy`: every continuation token is the argmax of its next-token distribution.
    `token_logprobs`: per-token log-probabilities (nats), in order.
    `token_greedy`: per token, whether it is the argmax of its next-token distribution
    (teacher-forced); empty where the backend or an older stored answer does not say.
    """

    logprob: float
    is_greedy: bool
    n_tokens: int
    token_logprobs: tuple[float, ...] = ()
    token_greedy: tuple[bool, ...] = ()
    usage: Usage | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RollingLoglikelihoodResult:
    """Answer to a RollingLoglikelihoodRequest: summed nats over all `n_tokens` tokens."""

    logprob: float
    n_tokens: int
    token_logprobs: tuple[float, ...] = ()
    usage: Usage | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ThinkingTrace:
    """What budget forcing did to one generation: `tokens` the model generated inside
    its thinking (delimiters and inserted text not counted), `forced_stop` when the budget
    ran out and the close tag was appended, `extensions` the times the close tag was
    replaced by the wait text, `closed` whether the thinking ended (closed or forced)."""

    tokens: int
    forced_stop: bool = False
    extensions: int = 0
    closed: bool = True


@dataclass(frozen=True)
class Generation:
    """Answer to a GenerateRequest. Token counts as the backend's tokenizer counts them.

    `token_logprobs` (when the request asked for `logprobs` and the backend gives them):
    one natural-log probability per token the model generated, in order, under its own
    next-token distribution: temperature 1, no top-p or top-k cut (the convention of
    confidence-based best-of-N selection), whatever the sampling settings were. Tokens a
    backend inserted (budget forcing: tags, "Wait") have none, so the mean is the model's.
    `thinking`: what budget forcing did (None without a thinking budget).
    """

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage: Usage | None = field(default=None, compare=False)
    token_logprobs: tuple[float, ...] | None = field(default=None, compare=False)
    thinking: ThinkingTrace | None = None


Response = LoglikelihoodResult | RollingLoglikelihoodResult | Generation


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a model's outputs: identity, revision or weights hash, and dtype."""

    backend: str
    model: str
    revision: str
    dtype: str

    def key(self) -> str:
        return f"{self.backend}:{self.model}@{self.revision}/{self.dtype}"


@dataclass(frozen=True)
class SampleRecord:
    """Everything stored for one scored sample (one row of `samples.parquet`).

    `metrics` maps metric name to this sample's value (1.0/0.0 for correctness). For
    ratio metrics (e.g. bits per byte) the task stores numerator and denominator as
    separate metrics and the aggregation divides sums.
    """

    sample_id: str
    prompt: str
    target: str
    response: str
    extracted: str | None
    metrics: Mapping[str, float]
    cluster: str | None = None
    choice_logprobs: tuple[float, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    usage: Usage | None = None
