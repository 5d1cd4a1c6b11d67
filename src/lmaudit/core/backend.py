"""The Backend protocol: three batched methods, a capability declaration and a fingerprint."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)

# Called with the number of requests just finished; drives progress bars.
ProgressCallback = Callable[[int], None]


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


def check_capabilities(backend: Backend, needed: Iterable[RequestKind], *, task: str) -> None:
    """Fail before any work when the backend cannot compute a request kind the task needs."""
    missing = sorted({k.value for k in needed} - {k.value for k in backend.capabilities})
    if missing:
        raise LmauditError(
            f"model {backend.fingerprint.key()} cannot run task {task!r}: it does not "
            f"support {', '.join(missing)} requests"
        )
