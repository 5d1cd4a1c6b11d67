"""The Backend protocol: three batched methods, a capability declaration and a fingerprint."""

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
