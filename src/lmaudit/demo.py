"""`make demo`: train a clean and a contaminated lab model, evaluate both, compare them.

Everything runs offline on the CPU. The contaminated twin saw every `arith` test item
`DEMO_COPIES` × epochs times during training; the clean one never saw them. Both are evaluated
on `arith` (generation, numeric answer) and `arith_mc` (multiple choice by log-likelihood)
and compared sample by sample; then the memorization probe (fresh instances of the same
templates) and the likelihood contamination tests (Δ1 loss gap, Min-K%) ask whether the
score is memorization.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError

# Copies of each test item in the contaminated corpus; the model sees each copy once per
# epoch, so the number of exposures is copies × epochs (stored in the model's lab card).
DEMO_COPIES = 24
DEMO_MODELS = {"demo-clean": None, "demo-contaminated": "test"}
DEMO_TASKS = ("arith", "arith_mc")


@dataclass(frozen=True)
class DemoModel:
    name: str
    path: Path
    trained: bool


def ensure_lab_model(
    name: str, contaminate_split: str | None, *, exposures: int, seed: int = 0
) -> DemoModel:
    """Train `name` unless the lab cache already holds it for the same corpus."""
    from lmaudit.lab.corpus import benchmark_corpus
    from lmaudit.lab.model import LabConfig
    from lmaudit.lab.paths import lab_model_path
    from lmaudit.lab.train import read_lab_card, train_lab_model

    corpus = benchmark_corpus(
        "arith",
        contaminate_split=contaminate_split,
        exposures=exposures if contaminate_split else 0,
        seed=seed,
    )
    path = lab_model_path(name)
    card = read_lab_card(path)
    if (
        card is not None
        and card.get("corpus", {}).get("sha256") == corpus.sha256()
        and card.get("config") == LabConfig().to_dict()
        and card.get("seed") == seed
    ):
        return DemoModel(name, path, trained=False)
    print(f"training lab model {name!r}: {corpus.description}", file=sys.stderr)
    return DemoModel(name, train_lab_model(name, corpus, seed=seed), trained=True)


def run_demo(out: Path, *, copies: int = DEMO_COPIES, limit: int | None = None) -> int:
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.runner import run_task
    from lmaudit.core.store import load_run
    from lmaudit.report.table import metrics_table
    from lmaudit.stats import compare_runs
    from lmaudit.tasks.registry import load_task

    start = time.perf_counter()
    models = [
        ensure_lab_model(name, split, exposures=copies) for name, split in DEMO_MODELS.items()
    ]
    for task_name in DEMO_TASKS:
        run_dirs: dict[str, Path] = {}
        for model in models:
            spec = f"lab:{model.name}"
            run_dir = out / f"{task_name}-{model.name}"
            if (run_dir / "results.json").exists():
                run_dirs[model.name] = run_dir
                continue
            task = load_task(task_name, {})
            outcome = run_task(
                task, load_backend(spec, {"device": "cpu"}), run_dir, limit=limit, model_spec=spec
            )
            run_dirs[model.name] = outcome.run_dir
        print()
        for name, run_dir in run_dirs.items():
            run = load_run(run_dir)
            print(metrics_table(run.results["metrics"], title=f"== {task_name} · lab:{name}"))
            print()
        clean, dirty = (load_run(run_dirs[m.name]) for m in models)
        metric = "acc_flexible" if "acc_flexible" in clean.samples.columns else "acc"
        cmp = compare_runs(clean.samples, dirty.samples, metric)
        d = cmp.difference
        p = cmp.mcnemar.p_value if cmp.mcnemar is not None else float("nan")
        print(
            f"{task_name}: contaminated − clean {metric} = {d.value:+.3f} "
            f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}] (95% CI, clustered by template), "
            f"McNemar p = {p:.2g}, n = {cmp.n_shared}"
        )
    from lmaudit.probes import probe_summary_for_demo

    print("\n== Memorization probe: original arith items vs fresh instances of their templates")
    print(probe_summary_for_demo("lab:demo-clean", "lab:demo-contaminated", out, limit=limit))
    from lmaudit.contamination.report import likelihood_summary_for_demo

    print("\n== Contamination: how well do the detectors work? (validation lab, small config)")
    operating = validated_detectors(out / "contamination-validation")
    print("\n== Contamination: likelihood tests (was the arith test split in training?)")
    summary = likelihood_summary_for_demo(
        load_backend("lab:demo-clean", {"device": "cpu"}),
        load_backend("lab:demo-contaminated", {"device": "cpu"}),
        limit,
        out_dir=out,
        operating=operating,
    )
    print(summary.text)
    from lmaudit.lab.train import read_lab_card

    card = read_lab_card(models[1].path) or {}
    seen = (card.get("planted") or [{}])[0].get("exposures", "several")
    if isinstance(seen, float) and seen.is_integer():
        seen = int(seen)
    print(
        f"\nThe contaminated model saw each arith test item {seen} times in training; "
        "its advantage on those items is memorization, not arithmetic: it vanishes when "
        "the names and numbers change."
    )
    print(f"runs stored under {out} · {time.perf_counter() - start:.0f} s")
    return 0


def validated_detectors(out: Path) -> dict[str, Any]:
    """Run the small validation lab once (planted leaks in three tiny models; no semantic
    detector, to keep the demo short), print its table and return the figures that the
    contamination verdicts print beside their signals."""
    from dataclasses import replace

    from lmaudit.commands._contamination_validate import install_verdict_characteristics
    from lmaudit.contamination.validation.lab import preset, run_validation
    from lmaudit.contamination.validation.report import (
        VERDICT_CHARACTERISTICS,
        summary_text,
        write_outputs,
    )
    from lmaudit.contamination.verdicts import load_operating_characteristics

    if not (out / VERDICT_CHARACTERISTICS).is_file():
        result = run_validation(replace(preset("small"), semantic=False), out)
        write_outputs(result, out)
        print(summary_text(result))
        if not result.gate.passed:
            print("the validation lab failed its validity gate: no detector figures shown")
            return {}
    else:
        print(f"(measured before: {out})")
    install_verdict_characteristics(out)
    return dict(load_operating_characteristics(out / VERDICT_CHARACTERISTICS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmaudit.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory root")
    parser.add_argument(
        "--copies", type=int, default=DEMO_COPIES, help="copies of each test item planted"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N items per task")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.out, copies=args.copies, limit=args.limit)
    except LmauditError as error:
        print(f"lmaudit demo: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
