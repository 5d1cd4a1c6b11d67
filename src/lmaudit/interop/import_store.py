"""Writing imported per-sample results as finished lmaudit run directories (kind
`import`): records, every metric with lmaudit's interval, and the other harness's reported
value beside each, checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError, SampleRecord


@dataclass(frozen=True)
class ImportedMetric:
    """lmaudit's mean of the logged per-sample values beside the value the harness
    reported (None when it reported none)."""

    name: str
    value: float
    reported: float | None

    @property
    def matches(self) -> bool:
        """Whether the two agree to 1e-12, relative for values over 1 (or nothing was
        reported to compare)."""
        if self.reported is None:
            return True
        return abs(self.value - self.reported) <= 1e-12 * max(1.0, abs(self.reported))


@dataclass(frozen=True)
class ImportedTask:
    """What one import wrote."""

    task: str
    run_dir: Path
    n_samples: int
    metrics: tuple[ImportedMetric, ...]
    not_imported: tuple[str, ...]


def write_imported_run(
    run_dir: Path, records: Sequence[SampleRecord], *, task: str, source: str,
    manifest: Mapping[str, Any], reported: Mapping[str, float | None],
    not_imported: Sequence[str], seed: int = 0, specs: Sequence[Any] | None = None,
) -> ImportedTask:
    """Write `records` as a finished run; metrics whose values are all 0/1 get Wilson
    intervals (PROPORTION), others t intervals (MEAN), clustered when records carry a
    cluster. `reported` maps metric names to the harness's own values. `specs` (MetricSpecs)
    replace the per-column default when given."""
    from lmaudit.core.aggregate import aggregate_records
    from lmaudit.core.runlock import RunLock
    from lmaudit.core.store import RunWriter, base_manifest, run_dir_state
    from lmaudit.core.task import Aggregation, MetricSpec

    if not records:
        raise LmauditError(f"{task}: no samples to import")
    columns = sorted({name for r in records for name in r.metrics})
    specs = list(specs) if specs is not None else [MetricSpec(name, Aggregation.PROPORTION
                        if all(r.metrics.get(name, 0.0) in (0.0, 1.0) for r in records)
                        else Aggregation.MEAN) for name in columns]
    with RunLock(run_dir):
        if run_dir_state(run_dir, "import") == "finished":
            raise LmauditError(f"{run_dir} already holds a finished import; choose another --out")
        writer = RunWriter(run_dir, base_manifest(
            kind="import", source=source, task=task, n_samples=len(records), seed=seed,
            not_imported=list(not_imported), **manifest))
        writer.append(records)
        estimates = aggregate_records(specs, records, seed=seed)
        imported = tuple(ImportedMetric(name, est.value, reported.get(name))
                         for name, est in estimates.items())
        payload = {m.name: {**estimates[m.name].to_dict(), "reported_value": m.reported,
                            "matches_reported": m.matches} for m in imported}
        writer.finish({"task": task, "n_samples": len(records), "source": source,
                       "not_imported": list(not_imported), "metrics": payload})
    return ImportedTask(task, run_dir, len(records), imported, tuple(not_imported))
