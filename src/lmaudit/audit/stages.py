"""Executing one audit stage by calling the library function its command uses.

- `run`, `prompt_variant`: `core.runner.run_task` (journal + request cache; an unfinished
  run directory is resumed by the runner itself);
- `probe`: `probes.runner.run_probe` through a `JournaledBackend` (resumable);
- `contamination` / `likelihood`: `contamination.report.run_likelihood_test`;
- `contamination` / `scan`: `contamination.scan.scan_corpus` + `scan_report.write_scan_run`.

A stage is finished when the file its library writes last exists (`stage_done`); a
finished stage is never recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmaudit.audit.plan import StagePlan
from lmaudit.audit.suite import LikelihoodSpec, TaskSpec
from lmaudit.core.cache import RequestCache
from lmaudit.core.types import LmauditError

# The file each stage kind writes last (its completion marker).
_RESULTS = "results.json"
_LIKELIHOOD_DONE = "report.json"
_SCAN_DONE = "summary.json"
TEMPLATES_ENV = "LMAUDIT_GSM_SYMBOLIC_DIR"


@dataclass(frozen=True)
class StageContext:
    """What every stage of an audit shares: seed, request cache, progress bars, and per
    model spec the backend options recorded in run manifests (so that
    `lmaudit run --resume DIR` works on an audit's run too)."""

    seed: int = 0
    cache: RequestCache | None = None
    show_progress: bool = False
    model_options: Mapping[str, Mapping[str, Any]] | None = None


def done_marker(stage: StagePlan) -> str:
    """The file name whose presence means the stage finished."""
    if stage.kind == "contamination":
        return _SCAN_DONE if stage.variant == "scan" else _LIKELIHOOD_DONE
    return _RESULTS


def stage_done(stage: StagePlan, audit_dir: Path) -> bool:
    return (Path(audit_dir) / stage.dir / done_marker(stage)).is_file()


def check_finished_stages(stages: list[StagePlan], audit_dir: Path) -> None:
    """A finished stage is reused only when it covered the items asked for now: its
    manifest's limit must equal the planned one (else LmauditError before any work)."""
    import json

    for stage in stages:
        if not stage_done(stage, audit_dir):
            continue
        manifest_path = Path(audit_dir) / stage.dir / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # nothing to compare with
        key = "audit_limit" if stage.kind == "contamination" else "limit"
        if key in manifest and manifest[key] != stage.limit:
            raise LmauditError(
                f"{audit_dir}: stage {stage.id} was computed with limit {manifest[key]}, not "
                f"{stage.limit}; give the same --limit or choose another --out"
            )


def check_stage_inputs(stages: list[StagePlan]) -> None:
    """Inputs that must exist before any model is loaded (probe template folders, corpora);
    LmauditError names the stage and says how to provide them."""
    for stage in stages:
        t = stage.task_spec
        if stage.kind == "probe":
            probe = next(p for p in t.probes if p.name == stage.variant)
            if probe.templates is not None and not Path(probe.templates).is_dir():
                raise LmauditError(
                    f"stage {stage.id}: template folder {probe.templates} does not exist "
                    "(for GSM8K: the templates/ folder of apple/ml-gsm-symbolic, which holds "
                    f"symbolic/, p1/ and p2/; set {TEMPLATES_ENV} to it)"
                )
        if stage.kind == "contamination" and stage.variant == "scan" and t.scan is not None:
            missing = [c for c in t.scan.corpus if not Path(c).exists()]
            if missing:
                raise LmauditError(f"stage {stage.id}: corpus {missing[0]} does not exist")


def _load_task(t: TaskSpec, extra: dict[str, str] | None = None) -> Any:
    from lmaudit.tasks.registry import load_task

    return load_task(t.task, {**t.options, **(extra or {})})


def task_references(task: Any) -> dict[str, Any] | None:
    """The reference lines a task states itself (`task.references()`: `{"chance": p,
    "human": {label: p}}`), None when it states none or they cannot be computed."""
    method = getattr(task, "references", None)
    if not callable(method):
        return None
    try:
        refs = method()
    except Exception:  # a task's data may be unreachable here; references are optional
        return None
    if not isinstance(refs, Mapping):
        return None
    human = refs.get("human")
    return {"chance": None if refs.get("chance") is None else float(refs["chance"]),
            "human": None if not human else {str(k): float(v) for k, v in human.items()}}


def run_stage(
    stage: StagePlan, audit_dir: Path, backend: Any, context: StageContext
) -> dict[str, Any] | None:
    """Compute one stage into `audit_dir / stage.dir` (resuming a partial directory).
    A run stage returns the task's own reference lines (`task_references`)."""
    out = Path(audit_dir) / stage.dir
    if stage.kind in ("run", "prompt_variant"):
        return _run(stage, out, backend, context)
    if stage.kind == "probe":
        _probe(stage, out, backend, context)
    elif stage.kind == "contamination" and stage.variant == "scan":
        _scan(stage, out)
    elif stage.kind == "contamination":
        _likelihood(stage, out, backend, context)
    else:
        raise LmauditError(f"stage {stage.id}: unknown kind {stage.kind!r}")
    return None


def _run(
    stage: StagePlan, out: Path, backend: Any, context: StageContext
) -> dict[str, Any] | None:
    from lmaudit.audit.prompts import PromptVariantTask
    from lmaudit.core.runner import run_task

    t = stage.task_spec
    prompt = next((p for p in t.prompts if p.name == stage.variant), None)
    task = _load_task(t, None if prompt is None else dict(prompt.options))
    if prompt is not None and prompt.template is not None:
        task = PromptVariantTask(task, prompt.name, prompt.template)
    if t.sampling is not None:  # repeated sampling, as `lmaudit run --samples`
        from lmaudit.tasks.sampled import sampled_task

        task = sampled_task(task, dict(t.sampling), context.seed)
    invocation = None
    if stage.kind == "run":  # a plain run can also be resumed with `lmaudit run --resume`
        recorded = (context.model_options or {}).get(stage.model or "", {})
        invocation = {"model": stage.model, "model_options": dict(recorded),
                      "task": t.task, "task_options": dict(t.options), "limit": stage.limit,
                      "seed": context.seed,
                      **({"sampling": dict(t.sampling)} if t.sampling is not None else {})}
    run_task(task, backend, out, limit=stage.limit, seed=context.seed, model_spec=stage.model,
             show_progress=context.show_progress, cache=context.cache, invocation=invocation)
    return task_references(task)


def _probe(stage: StagePlan, out: Path, backend: Any, context: StageContext) -> None:
    from lmaudit.audit.journaled import JournaledBackend
    from lmaudit.probes.runner import run_probe

    t = stage.task_spec
    probe = next(p for p in t.probes if p.name == stage.variant)
    with JournaledBackend(backend, out) as journaled:
        run_probe(_load_task(t), journaled, out, variants=probe.variants, n_sets=probe.sets,
                  limit=stage.limit, seed=probe.seed, model_spec=stage.model,
                  show_progress=context.show_progress, templates=probe.templates)


def likelihood_items(t: TaskSpec, spec: LikelihoodSpec, limit: int | None) -> list[Any]:
    """Test, reference and train items for the likelihood test: the arith family in the lab
    document layout (with its ref and train splits), other tasks as solved documents
    (`solved_text`), references from a file or another split of the task."""
    from lmaudit.contamination.likelihood_run import (
        ARITH_TASKS,
        arith_items,
        file_items,
        task_items,
    )

    arith = t.task in ARITH_TASKS
    test = arith_items("test", limit) if arith else task_items(t.task, t.options, limit=limit)

    def split_items(file: str | None, split: str | None, label: str, n: int | None) -> list[Any]:
        if file is not None:
            return file_items(file, label, limit=n)
        if split is not None:
            if arith:
                return arith_items(split, n, label=label)
            items = task_items(t.task, {**t.options, "split": split}, limit=n)
            return [replace(i, split=label) for i in items]
        return arith_items(label, n) if arith else []

    ref = split_items(spec.reference_file, spec.reference_split, "ref", limit)
    train = split_items(spec.train_file, spec.train_split, "train", len(test))
    if not ref:
        raise LmauditError(
            f"task {t.id}: the likelihood test needs reference items (unseen items of the "
            "test distribution): give contamination.likelihood.reference_file or "
            "reference_split in the suite"
        )
    return [*test, *ref, *train]


def _likelihood(stage: StagePlan, out: Path, backend: Any, context: StageContext) -> None:
    from lmaudit.contamination.report import LikelihoodTestSettings, run_likelihood_test
    from lmaudit.contamination.verdicts import load_default_operating_characteristics

    t = stage.task_spec
    spec = t.likelihood
    assert spec is not None and stage.model is not None
    items = likelihood_items(t, spec, stage.limit)
    lab = stage.model.startswith("lab:")
    separator = "\n\n"
    if lab:  # lab models trained on documents joined by end-of-text, shuffled every epoch
        from lmaudit.lab.tokenizer import END_OF_TEXT

        separator = END_OF_TEXT
    settings = LikelihoodTestSettings(k=spec.k, separator=separator, training_shuffled=lab,
                                      exchangeability=spec.exchangeability, seed=spec.seed)
    (out / _RESULTS).unlink(missing_ok=True)  # a test killed before its report: redo it
    run_likelihood_test(
        backend, items, benchmark=t.task, model=stage.model, settings=settings,
        operating=load_default_operating_characteristics(), out_dir=out,
        manifest_extra={"task_options": dict(t.options), "audit_stage": stage.id,
                        "audit_limit": stage.limit,
                        "reference_file": spec.reference_file, "train_file": spec.train_file},
    )


def _scan(stage: StagePlan, out: Path) -> None:
    from lmaudit.contamination.items import benchmark_grams
    from lmaudit.contamination.matching import ReadOptions
    from lmaudit.contamination.scan import ScanConfig, scan_corpus
    from lmaudit.contamination.scan_report import write_scan_run

    t = stage.task_spec
    assert t.scan is not None
    samples = _load_task(t).samples()[: stage.limit]
    config = ScanConfig(n=t.scan.ngram, read=ReadOptions(t.scan.text_field, "id"))
    items = benchmark_grams(samples, config.n, config.span)
    result = scan_corpus(items, list(t.scan.corpus), config)
    write_scan_run(out, result, config, {"task": t.task, "task_options": dict(t.options),
                                         "corpus": list(t.scan.corpus), "semantic": False,
                                         "audit_stage": stage.id, "audit_limit": stage.limit})
