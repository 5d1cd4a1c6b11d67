"""Typed results of an edit evaluation (rendered by the Report stage).

Every metric is a mean over prompts, its interval clustered by edit (the prompts of one
edit are not independent); `change` is after − before on the same prompts, a paired
difference clustered by edit. Shares are in [0, 1]; `margin` metrics are in nats per token.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmaudit.stats import Estimate

METRIC_ORDER = ("reliability", "generalization", "locality", "portability", "generation")


@dataclass(frozen=True)
class EditMetric:
    """One measure of one metric family. `before` and `change` are None where the measure
    compares the two models itself (`answer unchanged`)."""

    name: str  # reliability | generalization | locality | portability | generation
    measure: str
    unit: str  # share | nats/token
    n_prompts: int
    n_edits: int
    before: Estimate | None
    after: Estimate
    change: Estimate | None

    @property
    def headline(self) -> bool:
        """The measure the summary leads with for its family."""
        return self.measure in HEADLINES


HEADLINES = ("prefers new over old", "new target is greedy", "keeps old over new",
             "answer is greedy", "answer unchanged", "mentions new target")


@dataclass(frozen=True)
class EditEvaluation:
    """An edit file scored on the model before and after editing."""

    before: str
    after: str
    edits_file: str
    shapes: tuple[str, ...]
    n_edits: int
    metrics: tuple[EditMetric, ...]
    notes: tuple[str, ...] = ()

    def metric(self, name: str, measure: str) -> EditMetric | None:
        return next((m for m in self.metrics if (m.name, m.measure) == (name, measure)), None)
