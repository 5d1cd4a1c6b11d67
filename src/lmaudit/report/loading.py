"""`load_report`: run, probe, contamination and audit directories to one `AuditReport`.

A path is recognised by what it holds:

- an **audit** directory: `audit.json` (format `lmaudit.audit/1`) indexing stage
  directories relative to it; stages not `done` (or whose directory cannot be read) are
  reported as missing, never fatal;
- a **probe** run: `manifest.json` with `kind: "probe"` and `probe_results.json`;
- a **contamination test**: `manifest.json` with `kind: "contamination-test"` and
  `report.json` (or `results.json` holding the same report);
- a **corpus scan**: `manifest.json` with `kind: "contamination_scan"` and `summary.json`
  (model-independent: its evidence goes to every card of its task);
- a **run**: `manifest.json`, `results.json` and `samples.parquet` (`lmaudit run`/`score`).

Model and task come from the audit stage when there is one, else from the manifest
(`model_spec`/`model`, `task`/`benchmark`), else the directory name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lmaudit.contamination.report import ContaminationReport
from lmaudit.core.store import MANIFEST, RESULTS, SAMPLES
from lmaudit.core.types import LmauditError
from lmaudit.interop.diff_pairs import pair_diffs  # lmaudit diff
from lmaudit.report import evidence
from lmaudit.report.change import model_change
from lmaudit.report.change_model import ModelChange
from lmaudit.report.comparison import RunForComparison, compare_models
from lmaudit.report.compute import ComputeRun, Pricing, compute_section
from lmaudit.report.model import (
    AuditInfo,
    AuditReport,
    CorpusScan,
    ProbeEvidence,
    PromptSpread,
    Provenance,
    Reference,
    StageStatus,
    TrustCard,
)
from lmaudit.report.samples import RunSamples, sample_table
from lmaudit.report.sampling_curves import sampling_section  # repeated sampling
from lmaudit.report.thinking_budget import BudgetRun, budget_curves  # thinking budget
from lmaudit.report.trust import assess_trust

AUDIT_JSON = "audit.json"
AUDIT_FORMAT = "lmaudit.audit/1"
PROBE_RESULTS = "probe_results.json"
CONTAMINATION_REPORT = "report.json"
SCAN_SUMMARY = "summary.json"


@dataclass(frozen=True)
class _Loaded:
    kind: str  # run | probe | contamination | scan | prompt_variant
    model: str
    task: str
    variant: str | None
    path: Path
    manifest: Mapping[str, Any]
    results: Mapping[str, Any]
    frame: pd.DataFrame | None = None
    probe: ProbeEvidence | None = None
    contamination: ContaminationReport | None = None
    scan: CorpusScan | None = None


@dataclass
class _Collected:
    loaded: list[_Loaded] = field(default_factory=list)
    stages: list[StageStatus] = field(default_factory=list)
    missing: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    audit: AuditInfo | None = None
    references: dict[str, Reference] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    change: Mapping[str, Any] | None = None  # audit.json `change`: baseline and roles


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LmauditError(f"cannot read {path}: {error}") from None


def _kind_of(root: Path) -> str:
    if (root / AUDIT_JSON).is_file():
        return "audit"
    if not (root / MANIFEST).is_file():
        raise LmauditError(f"{root} is not an lmaudit run, probe, contamination or audit "
                           f"directory (no {MANIFEST} or {AUDIT_JSON})")
    manifest = _read_json(root / MANIFEST)
    if manifest.get("kind") == "probe" and (root / PROBE_RESULTS).is_file():
        return "probe"
    if manifest.get("kind") == "contamination_scan" or (root / SCAN_SUMMARY).is_file():
        return "scan"
    if str(manifest.get("kind", "")).startswith("contamination"):
        return "contamination"
    return "run"


def _load_dir(root: Path, kind: str, model: str | None = None, task: str | None = None,
              variant: str | None = None) -> _Loaded:
    manifest = _read_json(root / MANIFEST)
    if kind == "scan":
        task = task or str(manifest.get("task") or manifest.get("benchmark") or "?")
        payload = _read_json(root / SCAN_SUMMARY)
        return _Loaded("scan", "", task, "scan", root, manifest, payload,
                       scan=evidence.corpus_scan(task, payload))
    if kind == "contamination":
        source = root / CONTAMINATION_REPORT
        payload = _read_json(source if source.is_file() else root / RESULTS)
        model = model or str(payload.get("model") or manifest.get("model") or root.name)
        task = task or str(payload.get("benchmark") or manifest.get("benchmark") or "?")
        return _Loaded("contamination", model, task, None, root, manifest, payload,
                       contamination=evidence.contamination_report(model, task, payload))
    missing = [n for n in (RESULTS, SAMPLES) if not (root / n).is_file()]
    if missing:
        raise LmauditError(f"{root} is not a finished lmaudit run (missing {', '.join(missing)})")
    results = _read_json(root / RESULTS)
    model = model or str(manifest.get("model_spec") or manifest.get("model") or root.name)
    task = task or str(results.get("task") or manifest.get("task") or "?")
    frame = pd.read_parquet(root / SAMPLES)
    probe = None
    if kind == "probe":
        probe = evidence.probe_evidence(model, task, _read_json(root / PROBE_RESULTS))
    return _Loaded(kind, model, task, variant, root, manifest, results, frame, probe=probe)


def _add_missing(collected: _Collected, model: str, task: str, what: str) -> None:
    collected.missing.setdefault((model, task), []).append(what)


def _load_audit(root: Path, collected: _Collected) -> None:
    index = _read_json(root / AUDIT_JSON)
    if index.get("format") != AUDIT_FORMAT:
        collected.notes.append(f"{root / AUDIT_JSON}: format {index.get('format')!r}, "
                               f"expected {AUDIT_FORMAT!r}; read as far as possible")
    suite = index.get("suite") or {}
    collected.audit = AuditInfo(
        suite_name=suite.get("name"), suite_path=suite.get("path"),
        suite_sha256=suite.get("sha256"),
        models=tuple(str(m) for m in index.get("models", [])),
        command=tuple(str(c) for c in index.get("command", [])),
        created=index.get("created"), lmaudit_version=index.get("lmaudit_version"),
    )
    collected.models += [m for m in collected.audit.models if m not in collected.models]
    if isinstance(index.get("change"), Mapping):
        collected.change = index["change"]
    for task, ref in (index.get("references") or {}).items():
        ref = ref or {}
        human = ref.get("human") or {}
        collected.references[str(task)] = Reference(
            chance=None if ref.get("chance") is None else float(ref["chance"]),
            human={str(k): float(v) for k, v in human.items()} if isinstance(human, Mapping)
            else {"human": float(human)},
        )
    for stage in index.get("stages", []):
        status = StageStatus(
            id=str(stage.get("id", "")), kind=str(stage.get("kind", "run")),
            model=str(stage.get("model") or ""), task=str(stage.get("task") or ""),
            variant=stage.get("variant"), state=str(stage.get("state", "pending")),
            error=stage.get("error"), dir=stage.get("dir"),
        )
        collected.stages.append(status)
        label = status.kind + (f" {status.variant}" if status.variant else "")
        if status.state != "done" or not status.dir:
            why = f": {status.error}" if status.error else ""
            _add_missing(collected, status.model, status.task, f"{label} {status.state}{why}")
            continue
        kind = {"prompt_variant": "run"}.get(status.kind, status.kind)
        if status.kind == "contamination" and status.variant == "scan":
            kind = "scan"
        try:
            loaded = _load_dir(root / status.dir, kind, status.model, status.task,
                               status.variant if status.kind == "prompt_variant" else None)
        except LmauditError as error:
            _add_missing(collected, status.model, status.task, f"{label} unreadable")
            collected.notes.append(f"stage {status.id}: {error}")
            continue
        if status.kind == "prompt_variant":
            loaded = _Loaded("prompt_variant", loaded.model, loaded.task, status.variant,
                             loaded.path, loaded.manifest, loaded.results, loaded.frame)
        collected.loaded.append(loaded)


def _originals(frame: pd.DataFrame) -> pd.DataFrame:
    """A probe run's rows of the original items (its results.json describes these; the
    variants have ids of their own and no counterpart in other runs)."""
    if "extra" not in frame.columns:
        return frame
    keep = [not (isinstance(e, str) and '"probe"' in e
                 and json.loads(e).get("probe", {}).get("variant", "original") != "original")
            for e in frame["extra"].tolist()]
    return frame[keep]


@dataclass(frozen=True)
class _Scored:
    """Where a model × task's headline score comes from: its run, else its first probe
    run's originals."""

    item: _Loaded
    frame: pd.DataFrame


def _scored(items: Sequence[_Loaded]) -> _Scored | None:
    base = next((x for x in items if x.kind == "run" and x.frame is not None), None)
    if base is not None and base.frame is not None:
        return _Scored(base, base.frame)
    probe = next((x for x in items if x.kind == "probe" and x.frame is not None), None)
    if probe is not None and probe.frame is not None:
        return _Scored(probe, _originals(probe.frame))
    return None


def _cards(collected: _Collected) -> list[TrustCard]:
    keys = [(x.model, x.task) for x in collected.loaded if x.model]
    keys += [k for k in collected.missing if k[0]]
    order = {m: i for i, m in enumerate(collected.models)}
    keys = list(dict.fromkeys(keys))
    tasks = list(dict.fromkeys(k[1] for k in keys))
    keys.sort(key=lambda k: (tasks.index(k[1]), order.get(k[0], len(order)), k[0]))
    cards = []
    for model, task in keys:
        items = [x for x in collected.loaded if (x.model, x.task) == (model, task)]
        scored = _scored(items)
        results = scored.item.results if scored is not None else {}
        contamination = next((x.contamination for x in items if x.contamination), None)
        probe = evidence.merge_probes([x.probe for x in items if x.probe is not None])
        scan = next((x.scan for x in collected.loaded if x.scan and x.task == task), None)
        score = evidence.score_evidence(results) if scored else None
        failure = (evidence.extraction_failure(results, score.metric)
                   if score is not None else None)
        missing = tuple(collected.missing.get(("", task), [])
                        + collected.missing.get((model, task), []))
        cards.append(TrustCard(
            model=model, task=task, score=score, probe=probe, contamination=contamination,
            calibration=(evidence.calibration(results, scored.frame)
                         if scored is not None else None),
            extraction_failure=failure,
            cost=evidence.cost_summary(results),
            reference=collected.references.get(task),
            trust=assess_trust(score, probe, contamination, failure, missing, scan),
            missing=missing,
            scan=scan,
            card_metrics=(evidence.card_metrics(results, score.metric if score else None)
                          if scored else ()),
        ))
    return cards


def _prompt_spreads(collected: _Collected, cards: Sequence[TrustCard]) -> list[PromptSpread]:
    spreads = []
    for card in cards:
        variants = [x for x in collected.loaded if x.kind == "prompt_variant"
                    and (x.model, x.task) == (card.model, card.task)]
        if not variants or card.score is None:
            continue
        entries = [("default", card.score.estimate)]
        for item in variants:
            name = card.score.metric
            if name in item.results.get("metrics", {}):
                entries.append((str(item.variant),
                                evidence.estimate_from_dict(item.results["metrics"][name])))
        values = [e.value for _, e in entries]
        spreads.append(PromptSpread(card.model, card.task, card.score.metric, tuple(entries),
                                    max(values) - min(values)))
    return spreads


def _comparison_runs(collected: _Collected, cards: Sequence[TrustCard]) -> list[RunForComparison]:
    runs = []
    for card in cards:
        items = [x for x in collected.loaded if (x.model, x.task) == (card.model, card.task)]
        scored = _scored(items)
        if scored is None:
            continue
        runs.append(RunForComparison(card.model, card.task, scored.frame,
                                     tuple(scored.item.results.get("metrics", {})),
                                     card.score.metric if card.score else None))
    return runs


def _model_change(collected: _Collected, cards: Sequence[TrustCard],
                  runs: Sequence[RunForComparison]) -> ModelChange | None:
    """The change matrix when the audit names a baseline (`lmaudit audit --baseline`)."""
    if collected.change is None or not collected.change.get("baseline"):
        return None
    higher = {c.task: c.score.higher_is_better for c in cards
              if c.score is not None and c.model == collected.change["baseline"]}
    roles = {str(k): str(v) for k, v in (collected.change.get("roles") or {}).items()}
    return model_change(runs, str(collected.change["baseline"]), roles, higher,
                        collected.models)


def _provenance(item: _Loaded) -> Provenance:
    label = f"{item.kind} · {item.model} · {item.task}" + (
        f" · {item.variant}" if item.variant else "")
    return evidence.provenance(label, str(item.path), item.manifest)


def load_report(paths: Sequence[Path | str], pricing: Pricing | None = None,
                change: Mapping[str, Any] | None = None) -> AuditReport:
    """Load every directory in `paths` (module docstring) into one report; `pricing`: what
    the models cost, for the cost section (`report.compute`); `change`: {"baseline": model,
    "roles": {task: role}} for the change matrix (replaces an audit's own)."""
    if not paths:
        raise LmauditError("no directory to report on")
    collected = _Collected()
    for raw in paths:
        root = Path(raw)
        if not root.is_dir():
            raise LmauditError(f"{root} is not a directory")
        kind = _kind_of(root)
        if kind == "audit":
            _load_audit(root, collected)
        else:
            collected.loaded.append(_load_dir(root, kind))
    for item in collected.loaded:
        if item.model and item.model not in collected.models:
            collected.models.append(item.model)
    if change is not None:  # lmaudit report --baseline
        if change.get("baseline") not in collected.models:
            raise LmauditError(f"--baseline {change.get('baseline')}: no such model in these "
                               f"directories ({', '.join(collected.models)})")
        collected.change = change
    cards = _cards(collected)
    viewer_runs = [RunSamples(x.model, x.task, x.variant, x.frame,
                              evidence.primary_metric(x.results))
                   for x in collected.loaded if x.frame is not None]
    runs = _comparison_runs(collected, cards)
    return AuditReport(
        sources=tuple(str(p) for p in paths),
        audit=collected.audit,
        cards=tuple(cards),
        comparison=compare_models(runs),
        diffs=pair_diffs(runs),  # lmaudit diff
        prompt_sensitivity=tuple(_prompt_spreads(collected, cards)),
        provenance=tuple(_provenance(x) for x in collected.loaded),
        stages=tuple(collected.stages),
        samples=sample_table(viewer_runs),
        references=dict(collected.references),
        compute=compute_section([ComputeRun(x.model, x.task, x.frame, x.results, x.manifest)
                                 for x in collected.loaded
                                 if x.kind == "run" and x.frame is not None], pricing),
        sampling=sampling_section([(x.model, x.task, x.results, x.frame)  # repeated sampling
                                   for x in collected.loaded if x.kind == "run"]),
        notes=tuple(collected.notes),
        change=_model_change(collected, cards, runs),
        thinking=budget_curves([BudgetRun(x.model, x.task, x.results, x.manifest, x.frame)
                                for x in collected.loaded if x.kind == "run"]),  # thinking budget
    )
