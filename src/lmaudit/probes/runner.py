"""Probe runs: originals plus their variants as one task run, then the paired analysis.

A probe run directory holds what `lmaudit run` writes (`manifest.json` with
`kind: "probe"`, `records.jsonl`, `samples.parquet`, `results.json` with the metrics over
the ORIGINAL samples) plus `probe_results.json` (the paired analysis, see
`lmaudit.probes.analysis`) and `instance_sets.png` (per-set accuracy distribution, when a
family has two or more instance sets). Each row of `samples.parquet` carries the probe
link fields (`original_id`, `variant`, `variant_set`, ...) under `extra["probe"]`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.backend import Backend
from lmaudit.core.runner import evaluate, results_payload
from lmaudit.core.store import RunWriter, base_manifest, spec_hash
from lmaudit.core.task import Task, WrappedTask
from lmaudit.core.types import (
    LmauditError,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.probes import noop_numeric, perturb, templated
from lmaudit.probes.analysis import ProbeAnalysis, ProbeRow, analyse_probe
from lmaudit.probes.linked_templates import (
    TemplateLinks,
    linked_variants,
    load_links,
    restrict,
)

PROBE_RESULTS = "probe_results.json"
INSTANCE_SETS_PLOT = "instance_sets.png"
DEFAULT_VARIANTS = ("symbolic", "noop", "reorder", "permute")
SCORE_METRICS = ("acc_flexible", "acc", "acc_strict")


@dataclass(frozen=True)
class ProbeOutcome:
    """Where a probe run is stored, its analysis, and what was skipped (family → count)."""

    run_dir: Path
    analysis: ProbeAnalysis
    skipped: dict[str, int]
    n_samples: int
    seconds: float


def _variants_of(
    sample: Sample, family: str, n_sets: int, seed: int, links: TemplateLinks | None = None
) -> list[Sample | None]:
    if family in ("symbolic", "p1", "p2") and links is not None:
        return linked_variants(links, sample, family, n_sets)
    if family == "symbolic":
        return [templated.symbolic_variant(sample, k) for k in range(n_sets)]
    if family in ("p1", "p2"):
        return [None]
    if family == "noop_numeric":
        return [noop_numeric.numeric_noop_variant(sample, seed)]
    if family == "noop":
        from_template = templated.template_noop_variant(sample)
        if from_template is not None:
            return [from_template]
        return [perturb.irrelevant_clause(sample, 0, seed)]
    if family == "reorder":
        return [perturb.reorder_sentences(sample, 0, seed)]
    if family == "permute":
        if not sample.choices:
            return [None]
        return [perturb.rotate_options(sample, k) for k in range(1, len(sample.choices))]
    if family == "relabel":
        return [perturb.relabel_options(sample, k) for k in range(len(perturb.RELABEL_SETS))]
    raise LmauditError(
        f"unknown variant family {family!r}; choose from {', '.join(perturb.VARIANT_FAMILIES)}"
    )


def build_probe_samples(
    samples: Sequence[Sample],
    variants: Sequence[str],
    *,
    n_sets: int = 10,
    seed: int = 0,
    links: TemplateLinks | None = None,
) -> tuple[list[Sample], dict[str, int]]:
    """Originals (tagged) followed by their variants, and per family the number of items
    for which the family does not apply (no question sentence, not multiple choice, ...).
    With `links` (templates linked to items), `symbolic`, `p1` and `p2` come from the
    linked templates (`linked_templates`).

    Raises LmauditError when a family applies to none of the samples (e.g. `symbolic` on a
    task without templates), naming the family.
    """
    if n_sets < 1:
        raise LmauditError(f"--sets must be at least 1, got {n_sets}")
    out = [perturb.as_original(s) for s in samples]
    skipped: dict[str, int] = {}
    for family in variants:
        made = 0
        skipped[family] = 0
        for sample in samples:
            produced = [
                v for v in _variants_of(sample, family, n_sets, seed, links) if v is not None
            ]
            if not produced:
                skipped[family] += 1
            made += len(produced)
            out.extend(produced)
        if made == 0:
            raise LmauditError(
                f"variant {family!r} applies to none of the {len(samples)} samples "
                f"({_why_not(family)})"
            )
    return out, skipped


def _why_not(family: str) -> str:
    return {
        "symbolic": "it needs templated items, e.g. tasks arith or arith_mc, or --templates "
        "linked to the task's items",
        "p1": "it needs --templates with GSM-Symbolic p1 templates linked to the task's items",
        "p2": "it needs --templates with GSM-Symbolic p2 templates linked to the task's items",
        "noop_numeric": "it needs a question sentence ending in '?' after some context",
        "permute": "it needs multiple-choice samples",
        "relabel": "it needs prompts that list labelled options (A. ..., B. ...)",
        "reorder": "it needs at least two sentences before the question",
    }.get(family, "no sample has a question sentence ending in '?'")


class ProbeTask(WrappedTask):
    """A task whose samples are given (originals + variants); the rest is the base task's."""

    def __init__(self, base: Task, samples: Sequence[Sample], probe_spec: dict[str, Any]):
        super().__init__(base)
        self._samples = list(samples)
        self.probe_spec = probe_spec

    def spec(self) -> dict[str, Any]:
        return {**self.base.spec(), "probe": self.probe_spec}

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        record = self.base.score(sample, responses)
        extra = {**dict(record.extra or {}), "probe": perturb.link_fields(sample.metadata)}
        return dataclasses.replace(record, extra=extra)


def score_metric(records: Sequence[SampleRecord]) -> str:
    """The correctness metric the analysis uses: the first of `SCORE_METRICS` present."""
    names = {name for r in records for name in r.metrics}
    for name in SCORE_METRICS:
        if name in names:
            return name
    raise LmauditError(f"probe: no correctness metric among {', '.join(sorted(names))}")


def probe_rows(records: Sequence[SampleRecord], metric: str) -> list[ProbeRow]:
    """ProbeRows from scored records whose `extra["probe"]` holds the link fields."""
    rows = []
    for record in records:
        link = dict((record.extra or {}).get("probe", {}))
        extracted = record.extracted
        predicted = int(extracted) if link and record.choice_logprobs and extracted else None
        rows.append(ProbeRow(
            original_id=str(link.get("original_id", record.sample_id)),
            variant=str(link.get("variant", "original")),
            variant_set=int(link.get("variant_set", 0)),
            cluster=record.cluster or str(link.get("original_id", record.sample_id)),
            correct=float(record.metrics[metric]),
            predicted_position=predicted,
            target_position=(
                int(link["target_position"]) if "target_position" in link
                else _target_index(record)
            ),
            meaning_may_change=bool(link.get("meaning_may_change", False)),
        ))
    return rows


def _target_index(record: SampleRecord) -> int | None:
    value = (record.extra or {}).get("target_index")
    return None if value is None else int(value)


def run_probe(
    task: Task,
    backend: Backend,
    run_dir: Path,
    *,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    n_sets: int = 10,
    limit: int | None = None,
    seed: int = 0,
    model_spec: str | None = None,
    show_progress: bool = True,
    plot: bool = True,
    title: str | None = None,
    links: TemplateLinks | None = None,
    templates: str | Path | None = None,
) -> ProbeOutcome:
    """Evaluate the first `limit` samples of `task` and their variants; store everything.

    `templates`: a template directory linked to the task's items (`load_links`), when
    `links` is not given. With links, the probed samples are the items some template links
    to (in task order), then the first `limit` of those; `probe_results.json` gains a
    `templates` field listing the linked templates and every unlinked one with its reason.
    """
    start = time.perf_counter()
    base = task.samples()
    if links is None and templates is not None:
        links = load_links(templates, base)
    if links is not None:
        base = [s for s in base if s.id in links.by_item]
    base = base if limit is None else base[:limit]
    if links is not None:
        links = restrict(links, base)
    samples, skipped = build_probe_samples(base, variants, n_sets=n_sets, seed=seed, links=links)
    probe_spec: dict[str, Any] = {
        "variants": list(variants), "n_sets": n_sets, "seed": seed, "limit": limit,
    }
    if links is not None:
        probe_spec["templates"] = links.directory
    probe_task = ProbeTask(task, samples, probe_spec)
    spec = probe_task.spec()
    manifest = base_manifest(
        kind="probe", model_spec=model_spec, model_fingerprint=backend.fingerprint.key(),
        task=task.name, task_spec=spec, task_spec_hash=spec_hash(spec), limit=limit,
        seed=seed, n_samples=len(samples),
    )
    writer = RunWriter(run_dir, manifest)
    records = evaluate(probe_task, backend, samples, show_progress=show_progress)
    writer.append(records)
    metric = score_metric(records)
    analysis = analyse_probe(probe_rows(records, metric))
    originals = [r for r in records if r.extra.get("probe", {}).get("variant") == "original"]
    metrics = aggregate_records(task.metrics, originals, seed=seed)
    seconds = time.perf_counter() - start
    payload = {"metric": metric, "skipped_items": skipped, **analysis.to_dict()}
    if links is not None:
        payload["templates"] = links.to_dict()
    (Path(run_dir) / PROBE_RESULTS).write_text(json.dumps(payload, indent=2) + "\n")
    if plot:
        write_plot(analysis, Path(run_dir) / INSTANCE_SETS_PLOT, title=title or
                   f"{task.name} · {model_spec or backend.fingerprint.model}")
    writer.finish(results_payload(
        task, metrics, len(originals), seconds=round(seconds, 3),
        probe={"metric": metric, "verdict": analysis.verdict},
    ))
    return ProbeOutcome(Path(run_dir), analysis, skipped, len(records), seconds)


def write_plot(
    analysis: ProbeAnalysis, path: Path, *, title: str = "", family: str | None = None
) -> Path | None:
    """Histogram of per-instance-set accuracy (the family with the most sets, or `family`)
    with the original accuracy as a vertical line and mean ± sd in the legend (percent).
    None when no family has two or more sets."""
    candidates = {n: r for n, r in analysis.families.items() if r.n_sets >= 2 and n != "permute"}
    if family is not None:
        candidates = {family: analysis.families[family]}
    if not candidates:
        return None
    name, result = max(candidates.items(), key=lambda kv: kv[1].n_sets)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    values = [100 * v for v in result.sets.per_set]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    width = max(1.0, (max(values) - min(values)) / 15)  # bar width in points, at least 1
    bins = np.arange(min(values) - width / 2, max(values) + width, width).tolist()
    ax.hist(values, bins=bins, color="#4C72B0", alpha=0.8, edgecolor="white",
            label=f"{name}: {result.n_sets} instance sets, "
                  f"mean {100 * result.sets.mean:.1f} ± {100 * result.sets.sd:.1f} (sd)")
    ax.axvline(100 * result.original.value, color="#C44E52", linestyle="--", linewidth=2,
               label=f"original: {100 * result.original.value:.1f}")
    ax.set_xlabel("accuracy per instance set (%)")
    ax.set_ylabel("instance sets")
    ax.set_title(title or "accuracy across instance sets", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    marks = [*values, 100 * result.original.value]
    ax.set_xlim(min(marks) - 5, max(marks) + 5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

