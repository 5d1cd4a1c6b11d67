"""`make demo`: train a clean and a contaminated lab model and audit both.

Everything runs offline on the CPU. The contaminated twin saw every `arith` test item
`DEMO_COPIES` × epochs times during training; the clean one never saw them. The demo is an
audit with the `demo` suite (`lmaudit audit --suite demo`): both models are evaluated on
`arith` (generation, numeric answer) and `arith_mc` (multiple choice by log-likelihood), the
memorization probes re-ask every item with fresh names and numbers (and a no-op clause), and
the likelihood contamination tests (Δ1 loss gap, Min-K%) compare the test split with an
unseen reference split. The report (`<out>/audit/report.html`) compares the models sample by
sample and says, per model, how far each score can be trusted. Run again, it reuses the
trained models, the measured detector figures and every finished stage.
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
from lmaudit.quiet import VERBOSE_HELP, quiet_third_party

# Copies of each test item in the contaminated corpus; the model sees each copy once per
# epoch, so the number of exposures is copies × epochs (stored in the model's lab card).
DEMO_COPIES = 24
DEMO_MODELS = {"demo-clean": None, "demo-contaminated": "test"}
VALIDATION_TABLE = "validation.txt"
DEMO_SUITE = "demo"  # lmaudit/audit/suites/demo.yaml: arith and arith_mc, probes, likelihood


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
    """Train (or reuse) the two lab models, measure the contamination detectors once, audit
    both models with the `demo` suite into `out/audit` and print the report's summary."""
    from lmaudit.audit.finish import finish_audit
    from lmaudit.audit.orchestrate import run_audit
    from lmaudit.audit.stages import StageContext
    from lmaudit.audit.suite import load_suite
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.cache import RequestCache, default_cache_dir
    from lmaudit.lab.train import read_lab_card

    start = time.perf_counter()
    models = [
        ensure_lab_model(name, split, exposures=copies) for name, split in DEMO_MODELS.items()
    ]
    specs = [f"lab:{model.name}" for model in models]
    print("== Contamination: how well do the detectors work? (validation lab, small config)")
    validated_detectors(out / "contamination-validation")
    audit_dir = out / "audit"
    print(f"\n== Audit of {' and '.join(specs)} on suite {DEMO_SUITE}: runs, probes, "
          "likelihood tests", flush=True)
    command = ["python", "-m", "lmaudit.demo", "--out", str(out), "--copies", str(copies)]
    if limit is not None:
        command += ["--limit", str(limit)]
    with RequestCache(default_cache_dir()) as cache:
        outcome = run_audit(
            load_suite(DEMO_SUITE), specs, audit_dir,
            load_model=lambda spec: load_backend(spec, {"device": "cpu"}), limit=limit,
            context=StageContext(cache=cache), command=command,
        )
    summary = finish_audit(audit_dir, outcome.index)
    print()
    print(summary.text)
    card = read_lab_card(models[1].path) or {}
    seen = (card.get("planted") or [{}])[0].get("exposures", "several")
    if isinstance(seen, float) and seen.is_integer():
        seen = int(seen)
    print(
        f"\nThe contaminated model saw each arith test item {seen} times in training; "
        "its advantage on those items is memorization, not arithmetic: it vanishes when "
        "the names and numbers change."
    )
    for stage in outcome.index.stages:
        if stage.state == "failed":
            print(f"failed: {stage.id}: {stage.error}", file=sys.stderr)
    if summary.html is not None:
        print(f"report: {summary.html}")
    print(f"audit stored under {audit_dir} ({len(outcome.computed)} stages computed, "
          f"{len(outcome.skipped)} reused) · {time.perf_counter() - start:.0f} s")
    return 1 if outcome.failed or summary.error else 0


def validated_detectors(out: Path) -> dict[str, Any]:
    """Run the small validation lab once (planted leaks in three tiny models; no semantic
    detector, to keep the demo short), write its table to `out/validation.txt` and return
    the figures that the contamination verdicts (and the report) show beside their
    signals."""
    from dataclasses import replace

    from lmaudit.commands._contamination_validate import install_verdict_characteristics
    from lmaudit.contamination.validation.lab import preset, run_validation
    from lmaudit.contamination.validation.report import (
        VERDICT_CHARACTERISTICS,
        summary_text,
        write_outputs,
    )
    from lmaudit.contamination.verdicts import load_operating_characteristics

    table = out / VALIDATION_TABLE
    if not (out / VERDICT_CHARACTERISTICS).is_file():
        result = run_validation(replace(preset("small"), semantic=False), out)
        write_outputs(result, out)
        table.write_text(summary_text(result) + "\n", encoding="utf-8")
        if not result.gate.passed:
            print(f"the validation lab failed its validity gate ({table}): no detector "
                  "figures shown")
            return {}
        print(f"measured on lab models with planted leaks; table: {table}")
    else:
        print(f"(measured before: {table if table.is_file() else out})")
    install_verdict_characteristics(out)
    return dict(load_operating_characteristics(out / VERDICT_CHARACTERISTICS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmaudit.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory root")
    parser.add_argument(
        "--copies", type=int, default=DEMO_COPIES, help="copies of each test item planted"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N items per task")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)
    quiet_third_party(verbose=args.verbose)
    try:
        return run_demo(args.out, copies=args.copies, limit=args.limit)
    except LmauditError as error:
        print(f"lmaudit demo: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
