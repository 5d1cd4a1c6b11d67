"""The Task protocol and metric declarations."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lmaudit.core.types import Request, RequestKind, Response, Sample, SampleRecord


class Aggregation(enum.Enum):
    """How per-sample values of a metric become one number with an interval.

    PROPORTION: values in [0, 1] (usually {0, 1}); mean with a Wilson interval (clustered
    SE if clusters), always inside [0, 1].
    MEAN: real values; mean with a t interval (clustered SE if clusters); a metric with
    `MetricSpec.bounds` keeps its interval inside them (`lmaudit.stats.intervals`).
    RATIO: `value = f(sum(numerator) / sum(denominator))`, interval by bootstrap over samples.
    """

    PROPORTION = "proportion"
    MEAN = "mean"
    RATIO = "ratio"


@dataclass(frozen=True)
class MetricSpec:
    """One reported metric.

    For RATIO metrics, `numerator` and `denominator` name per-sample metric columns and
    `transform` names the map applied to the ratio: `identity`, `exp`, or `bits`
    (ratio / ln 2). `bounds=(lower, upper)`: the range of every per-sample value of a MEAN
    metric (a probability: (0, 1); a multi-class Brier score: (0, 2)); its interval then
    stays inside it. PROPORTION metrics are bounded to (0, 1) without saying so.
    """

    name: str
    aggregation: Aggregation
    numerator: str | None = None
    denominator: str | None = None
    transform: str = "identity"
    higher_is_better: bool = True
    bounds: tuple[float, float] | None = None


class Task(Protocol):
    """A benchmark: samples, the requests each sample needs, and how to score the answers."""

    @property
    def name(self) -> str: ...

    @property
    def request_kinds(self) -> frozenset[RequestKind]: ...

    @property
    def metrics(self) -> Sequence[MetricSpec]: ...

    def spec(self) -> dict[str, Any]:
        """Everything that defines the task (goes into the manifest and its hash)."""
        ...

    def samples(self) -> list[Sample]:
        """All evaluation samples, in a stable order."""
        ...

    def requests(self, sample: Sample) -> list[Request]:
        """The requests one sample needs (prompt, few-shot context included)."""
        ...

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        """Score one sample from the responses to its requests, in request order."""
        ...


def task_annotations(task: object) -> dict[str, Any]:
    """What a task says beside its scores, when it says anything: `references` (reference
    lines such as chance level and human baselines, from an optional `references()`
    method), `notes` (caveats such as a small benchmark's wide interval, from an
    optional `notes()` method) and `card_metrics` (metric names the report's card shows
    under the headline, e.g. over-refusal beside refusal, from an optional
    `card_metrics()` method). Empty ones are left out."""
    found: dict[str, Any] = {}
    for key in ("references", "notes", "card_metrics"):
        method = getattr(task, key, None)
        if callable(method):
            value = method()
            if value:
                found[key] = dict(value) if key == "references" else list(value)
    return found


class WrappedTask:
    """A task that asks another task's questions differently: name, request kinds, metrics,
    requests and scoring are `base`'s; subclasses change `samples` and add to `spec` (so the
    run's manifest and spec hash say what changed)."""

    def __init__(self, base: Task) -> None:
        self.base = base

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return self.base.request_kinds

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return self.base.metrics

    def spec(self) -> dict[str, Any]:
        return self.base.spec()

    def samples(self) -> list[Sample]:
        return self.base.samples()

    def requests(self, sample: Sample) -> list[Request]:
        return self.base.requests(sample)

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        return self.base.score(sample, responses)
