"""Stored results (JSON written by run, probe and contamination commands) to typed evidence.

Pure conversions: each function takes what a directory holds (parsed JSON, the samples
frame) and returns the report's frozen objects. A JSON `null` where a number belongs
becomes NaN in an `Estimate` (the stores write NaN as null).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.contamination.report import ContaminationReport
from lmaudit.contamination.verdicts import Signal, parse_operating_characteristics
from lmaudit.probes.analysis import FamilyResult, ProbeAnalysis, SetSummary
from lmaudit.report.model import (
    Calibration,
    CorpusScan,
    CostSummary,
    ProbeEvidence,
    Provenance,
    ScoreEvidence,
)
from lmaudit.stats import Estimate, McNemarResult, reliability_bins

# headline metric: the first of these a run reports, else its first higher-is-better metric
PRIMARY_METRICS = ("acc_flexible", "acc", "acc_strict", "exact_match", "pass@1", "acc_norm")


def _float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def estimate_from_dict(payload: Mapping[str, Any]) -> Estimate:
    """An `Estimate` from its `to_dict()` form (nulls become NaN)."""
    stderr = payload.get("stderr")
    return Estimate(
        value=_float(payload.get("value")),
        ci_low=_float(payload.get("ci_low")),
        ci_high=_float(payload.get("ci_high")),
        n=int(payload.get("n") or 0),
        method=str(payload.get("method", "")),
        stderr=None if stderr is None else _float(stderr),
        confidence=_float(payload.get("confidence", 0.95)),
        n_clusters=payload.get("n_clusters"),
        proportion=bool(payload.get("proportion", False)),
    )


def primary_metric(results: Mapping[str, Any]) -> str | None:
    """The headline metric of a results.json: first of PRIMARY_METRICS present, else the
    first metric marked higher-is-better, else the first metric."""
    metrics = results.get("metrics", {})
    for name in PRIMARY_METRICS:
        if name in metrics:
            return name
    for name, entry in metrics.items():
        if entry.get("higher_is_better"):
            return str(name)
    return next(iter(metrics), None)


def score_evidence(results: Mapping[str, Any]) -> ScoreEvidence | None:
    """The headline metric with its interval, None when the run has no metric."""
    name = primary_metric(results)
    if name is None:
        return None
    entry = results["metrics"][name]
    return ScoreEvidence(
        metric=name,
        estimate=estimate_from_dict(entry),
        higher_is_better=bool(entry.get("higher_is_better", True)),
        n_samples=int(entry.get("n") or results.get("n_samples") or 0),  # samples it counts
    )


def card_metrics(results: Mapping[str, Any], headline: str | None) -> tuple[
        tuple[str, Estimate], ...]:
    """The metrics a task asked its card to show under the headline (`card_metrics` in
    results.json, `lmaudit.core.task.task_annotations`), those the run reported, in order."""
    metrics = results.get("metrics", {})
    names = [str(n) for n in results.get("card_metrics") or () if n != headline]
    return tuple((n, estimate_from_dict(metrics[n])) for n in names if n in metrics)


def extraction_failure(results: Mapping[str, Any], metric: str | None) -> Estimate | None:
    """`extract_fail_<x>` for a headline `acc_<x>`, else `extract_fail_flexible`/`extract_fail`."""
    metrics = results.get("metrics", {})
    names = []
    if metric and metric.startswith("acc_"):
        names.append("extract_fail_" + metric[len("acc_"):])
    names += ["extract_fail_flexible", "extract_fail"]
    for name in names:
        if name in metrics:
            return estimate_from_dict(metrics[name])
    return None


def calibration(results: Mapping[str, Any], samples: pd.DataFrame) -> Calibration | None:
    """ECE/Brier from results.json and reliability bins (10 equal-width) from the samples'
    `confidence` and `acc` columns; None for tasks without confidences."""
    metrics = results.get("metrics", {})
    ece = metrics.get("ece")
    brier = metrics.get("brier")
    if ece is None and brier is None:
        return None
    bins: tuple[Any, ...] = ()
    if {"confidence", "acc"} <= set(samples.columns):
        conf = pd.to_numeric(samples["confidence"], errors="coerce").to_numpy(dtype=float)
        acc = pd.to_numeric(samples["acc"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(conf) & np.isfinite(acc)
        if ok.any():
            bins = tuple(reliability_bins(np.clip(conf[ok], 0.0, 1.0), acc[ok], 10,
                                          "equal_width"))
    return Calibration(
        ece=None if ece is None else estimate_from_dict(ece),
        brier=None if brier is None else estimate_from_dict(brier),
        bins=bins,
    )


def cost_summary(results: Mapping[str, Any]) -> CostSummary | None:
    """Tokens and cost from results.json `usage` (None when the run recorded none)."""
    usage = results.get("usage")
    if not isinstance(usage, Mapping):
        return None
    cost = usage.get("cost_usd")
    return CostSummary(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cost_usd=None if cost is None else float(cost),
        requests=None if usage.get("requests") is None else int(usage["requests"]),
    )


def _family(name: str, fam: Mapping[str, Any]) -> FamilyResult:
    sets = fam.get("instance_sets") or {}
    mc = fam.get("mcnemar") or {}
    b, c = int(mc.get("b_original_only") or 0), int(mc.get("c_variant_only") or 0)
    return FamilyResult(
        family=name,
        n_items=int(fam.get("n_items") or 0),
        n_sets=int(fam.get("n_sets") or sets.get("n_sets") or 0),
        original=estimate_from_dict(fam.get("original_accuracy") or {}),
        variant=estimate_from_dict(fam.get("variant_accuracy") or {}),
        drop=estimate_from_dict(fam.get("drop") or {}),
        mcnemar=McNemarResult(b, c, int(mc.get("n") or 0), float(min(b, c)),
                              _float(mc.get("p_value"))),
        sets=SetSummary(tuple(_float(v) for v in sets.get("per_set") or ()),
                        _float(sets.get("mean")), _float(sets.get("sd")),
                        _float(sets.get("min")), _float(sets.get("max"))),
        consistency=_float(fam.get("consistency")),
        mean_rotation_accuracy=fam.get("mean_rotation_accuracy"),
        position_bias=fam.get("position_bias"),
        meaning_may_change=bool(fam.get("meaning_may_change", False)),
    )


def probe_evidence(model: str, task: str, payload: Mapping[str, Any]) -> ProbeEvidence:
    """A probe run's `probe_results.json` (`ProbeAnalysis.to_dict()` plus `metric`) as the
    probe runner's own typed `ProbeAnalysis`."""
    families = {str(k): _family(str(k), v) for k, v in (payload.get("families") or {}).items()}
    primary = payload.get("primary_family")
    analysis = ProbeAnalysis(
        original=estimate_from_dict(payload.get("original_accuracy") or {}),
        families=families,
        consistency=_float(payload.get("consistency_all_variants")),
        n_items=int(payload.get("n_items") or 0),
        primary=primary if primary in families else None,
        notes=tuple(str(n) for n in payload.get("notes") or ()),
    )
    return ProbeEvidence(model, task, str(payload.get("metric", "")), analysis)


def merge_probes(probes: Sequence[ProbeEvidence]) -> ProbeEvidence | None:
    """One model × task's probe runs (one per probe stage) as one piece of evidence: every
    family of every run (first run wins on a repeated family); the primary family is
    `symbolic` when present, else the first run's primary; consistency is the lowest."""
    if not probes:
        return None
    if len(probes) == 1:
        return probes[0]
    families: dict[str, FamilyResult] = {}
    for probe in probes:
        for name, family in probe.analysis.families.items():
            families.setdefault(name, family)
    first = probes[0].analysis
    primary = "symbolic" if "symbolic" in families else first.primary
    analysis = ProbeAnalysis(first.original, families,
                             min(p.analysis.consistency for p in probes), first.n_items,
                             primary, tuple(n for p in probes for n in p.analysis.notes))
    return ProbeEvidence(probes[0].model, probes[0].task, probes[0].metric, analysis)


def corpus_scan(task: str, payload: Mapping[str, Any]) -> CorpusScan:
    """A corpus scan's summary.json (`contamination.scan_report.summary`)."""
    counts = payload.get("counts") or {}
    settings = payload.get("settings") or {}
    return CorpusScan(
        task=task,
        n_items=int(counts.get("items") or 0),
        flagged_ngram=int(counts.get("flagged_ngram") or 0),
        answer_anchored=int(counts.get("answer_anchored") or 0),
        dirty=int(counts.get("dirty") or 0),
        ngram=int(settings.get("n") or 0),
        corpus_documents=int(payload.get("corpus_documents") or 0),
        corpus_bytes=int(payload.get("corpus_bytes") or 0),
        checks=tuple(str(c) for c in payload.get("checks") or ()),
        note=str(payload.get("note") or ""),
    )


def _signal(entry: Mapping[str, Any]) -> Signal:
    def opt(key: str) -> float | None:
        value = entry.get(key)
        return None if value is None else float(value)

    return Signal(
        key=str(entry["key"]), label=str(entry.get("label", entry["key"])),
        estimate=opt("estimate"), ci_low=opt("ci_low"), ci_high=opt("ci_high"),
        p_value=opt("p_value"), null_value=opt("null_value"),
        side=str(entry.get("side", "above")), verdict=str(entry.get("verdict", "")),
        detail=str(entry.get("detail", "")),
    )


def contamination_report(
    model: str, task: str, payload: Mapping[str, Any]
) -> ContaminationReport:
    """A contamination test's report.json (`report_dict`) as the contamination report's own
    `ContaminationReport` (the exchangeability detail stays in the run directory; its
    signal is among `signals`)."""
    operating = parse_operating_characteristics(
        {"detectors": payload.get("operating_characteristics") or {}}, "report.json")
    return ContaminationReport(
        benchmark=task,
        model=model,
        reference_model=payload.get("reference_model"),
        n_items={str(k): int(v) for k, v in (payload.get("n_items") or {}).items()},
        k=_float(payload.get("k")),
        signals=tuple(_signal(s) for s in payload.get("signals", [])),
        overall=str(payload.get("overall", "")),
        operating=operating,
    )


def _template_hash(spec: Any) -> str | None:
    """sha256 (first 16 hex) of the prompt template in a task spec, when it has one; for a
    built-in task whose template is code, its task version (`<version> (built-in)`)."""
    if not isinstance(spec, Mapping):
        return None
    for key in ("prompt_template", "template", "prompt", "doc_to_text"):
        value = spec.get(key)
        if isinstance(value, str | Mapping):
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    version = spec.get("task_version")
    return None if version is None else f"{version} (built-in)"


def provenance(label: str, path: str, manifest: Mapping[str, Any]) -> Provenance:
    """What reproduces a run, from its manifest (fields absent in old runs stay None)."""
    fingerprint = manifest.get("model_fingerprint") or manifest.get("fingerprint")
    if isinstance(fingerprint, Mapping):
        fingerprint = "{backend}:{model}@{revision}/{dtype}".format_map(
            {k: fingerprint.get(k, "?") for k in ("backend", "model", "revision", "dtype")})
    scoring = manifest.get("scoring_path")
    if scoring is not None and not isinstance(scoring, str):
        scoring = json.dumps(scoring, sort_keys=True, default=str)
    spec = manifest.get("task_spec")
    for source in (manifest, spec if isinstance(spec, Mapping) else {}):
        if scoring is None and source.get("scorer_version"):
            scoring = f"scorer {source.get('scorer')} ({source['scorer_version']})"
    seed = manifest.get("seed")
    settings = manifest.get("settings")
    if seed is None and isinstance(settings, Mapping):
        seed = settings.get("seed")
    return Provenance(
        label=label,
        kind=str(manifest.get("kind", "run")),
        path=path,
        lmaudit_version=manifest.get("lmaudit_version"),
        git_hash=manifest.get("git_hash"),
        model_fingerprint=None if fingerprint is None else str(fingerprint),
        task_spec_hash=manifest.get("task_spec_hash"),
        prompt_template_hash=_template_hash(manifest.get("task_spec")),
        seed=None if seed is None else int(seed),
        scoring_path=scoring,
        created=manifest.get("created"),
        libraries={str(k): str(v) for k, v in (manifest.get("libraries") or {}).items()},
    )
