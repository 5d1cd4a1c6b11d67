"""The Backend protocol: three batched methods, a capability declaration and a fingerprint.

A backend may also declare `thinking_controls`: which `ThinkingControl` fields it can
honour (`budget`, `extend`, `min_tokens`, `effort`); `check_thinking` reads it before any
request is sent. A backend that declares nothing is not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    ThinkingControl,
)

# Called with the number of requests just finished; drives progress bars.
ProgressCallback = Callable[[int], None]

# Asked before a request is sent; `False` means "do not send it" (e.g. the budget is spent).
AdmitCallback = Callable[[Request], bool]


@runtime_checkable
class Backend(Protocol):
    """A model that answers requests in batches.

    Results come back in the order of the requests. A backend lists in `capabilities` the
    request kinds it supports; the runner checks them before any work starts.
    """

    @property
    def capabilities(self) -> frozenset[RequestKind]: ...

    @property
    def fingerprint(self) -> Fingerprint: ...

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[LoglikelihoodResult]: ...

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]: ...

    def generate(
        self,
        requests: Sequence[GenerateRequest],
        progress: ProgressCallback | None = None,
    ) -> list[Generation]: ...


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend that answers requests as they finish (e.g. concurrent HTTP requests).

    The runner prefers `stream` when a backend has it, so that every answer reaches the
    request cache and the run journal the moment it arrives.
    """

    def stream(
        self, requests: Sequence[Request], admit: AdmitCallback | None = None
    ) -> Iterator[tuple[int, Response]]:
        """Yield `(index into requests, response)` as answers arrive, in any order.

        `requests` may mix kinds. A request that `admit` refuses is never sent (and never
        yielded); once one is refused, no later request is sent either. The iterator ends
        when every sent request is answered; closing it early cancels the rest. A request
        that fails for good raises `LmauditError` after the answers already yielded.
        """
        ...


def check_capabilities(backend: Backend, needed: Iterable[RequestKind], *, task: str) -> None:
    """Fail before any work when the backend cannot compute a request kind the task needs."""
    missing = sorted({k.value for k in needed} - {k.value for k in backend.capabilities})
    if missing:
        raise LmauditError(
            f"model {backend.fingerprint.key()} cannot run task {task!r}: it does not "
            f"support {', '.join(missing)} requests"
        )


# ThinkingControl fields → the task option that sets them
THINKING_OPTIONS = {"budget": "thinking_budget", "extend": "thinking_extend",
                    "min_tokens": "thinking_min", "effort": "thinking_effort"}
# controls a backend may ignore with a warning (an effort level only asks; it forces nothing)
IGNORABLE_THINKING = frozenset({"effort"})


def thinking_asked(control: ThinkingControl) -> dict[str, object]:
    """The controls a request's `ThinkingControl` sets, field → value."""
    found: dict[str, object] = {}
    if control.budget is not None:
        found["budget"] = control.budget
    if control.extend:
        found["extend"] = control.extend
    if control.min_tokens:
        found["min_tokens"] = control.min_tokens
    if control.effort is not None:
        found["effort"] = control.effort
    return found


def check_thinking(backend: Backend, requests: Iterable[Request], *, task: str) -> list[str]:
    """Before any work: raise `LmauditError` (one line) when a request asks a thinking
    control the backend cannot do and must not ignore (`thinking_extend`, `thinking_min`
    on an API); return one note per control it will ignore (`thinking_effort` on HF or
    vLLM): the caller warns once and records it as not applied."""
    supported = getattr(backend, "thinking_controls", None)
    if supported is None:
        return []
    asked: dict[str, object] = {}
    for request in requests:
        control = request.params.thinking if isinstance(request, GenerateRequest) else None
        if control is not None:
            for key, value in thinking_asked(control).items():
                asked.setdefault(key, value)
    missing = [key for key in THINKING_OPTIONS if key in asked and key not in supported]
    if not missing:
        return []
    model = backend.fingerprint.key()
    refused = [THINKING_OPTIONS[k] for k in missing if k not in IGNORABLE_THINKING]
    if refused:
        raise LmauditError(
            f"model {model} cannot run task {task!r} with {' and '.join(refused)}: that needs "
            "token-level control of decoding; use the hf or vllm backend (an API can only "
            "cap thinking or pass an effort)"
        )
    return [f"{THINKING_OPTIONS[k]}={asked[k]} not applied: model {model} has no "
            f"{THINKING_OPTIONS[k].removeprefix('thinking_')} control (its answers are the "
            "model's default)" for k in missing]
