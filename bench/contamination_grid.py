"""Benchmark: the full detector validation grid of `lmaudit contamination validate`.

For every seed, runs the validation lab (exposures 1, 2, 4, 8, 16, 32; forms verbatim,
question, paraphrase, mapped; the `full` preset unless `--config small`), writes each
seed's outputs under `--out/seed-<s>/`, and prints per detector and form the AUROC by
exposure as mean ± standard deviation over the seeds whose validity gate passed, the mean
TPR at 1% / 5% FPR, the gate of every seed, and the time spent training and scoring.
`summary.json` holds the same numbers.

Usage: python bench/contamination_grid.py [--config full] [--seeds 0,1,2] [--no-semantic]
       [--exposures 1,2,4,8,16,32] [--epochs E] [--out bench/out/contamination_grid]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmaudit.contamination.validation.lab import (  # noqa: E402
    ValidationResult,
    preset,
    run_validation,
    with_overrides,
)
from lmaudit.contamination.validation.report import gate_text, write_outputs  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=("small", "full"), default="full")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--exposures", default="1,2,4,8,16,32")
    parser.add_argument("--epochs", type=int, help="passes over the base corpus")
    parser.add_argument("--items-per-cell", type=int)
    parser.add_argument("--no-semantic", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "contamination_grid")
    return parser.parse_args()


def aggregate(results: list[ValidationResult]) -> dict[str, Any]:
    """{detector: {form: {exposure: {auroc_mean, auroc_sd, tpr1_mean, tpr5_mean, seeds}}}}."""
    first = results[0]
    table: dict[str, Any] = {}
    for detector in first.detectors:
        table[detector] = {}
        for form in first.config.plant.forms:
            table[detector][form] = {}
            for exposure in first.config.plant.exposures:
                cells = [r.grid[detector][form][exposure] for r in results
                         if detector in r.grid]
                aurocs = np.array([c.auroc for c in cells])
                table[detector][form][str(exposure)] = {
                    "auroc_mean": float(aurocs.mean()),
                    "auroc_sd": float(aurocs.std(ddof=1)) if len(aurocs) > 1 else 0.0,
                    "tpr_at_1pct_fpr_mean": float(np.mean([c.tpr_at_1pct_fpr for c in cells])),
                    "tpr_at_5pct_fpr_mean": float(np.mean([c.tpr_at_5pct_fpr for c in cells])),
                    "seeds": len(cells),
                }
    return table


def print_table(table: dict[str, Any], exposures: list[int]) -> None:
    forms = next(iter(table.values())).keys()
    for form in forms:
        print(f"\nform: {form}  (AUROC mean ± sd over seeds | mean TPR@1% / TPR@5% FPR)")
        print(f"{'detector':16s}" + "".join(f"{e:>14d}" for e in exposures))
        for detector, by_form in table.items():
            cells = [by_form[form][str(e)] for e in exposures]
            auroc = "".join(f"{c['auroc_mean']:.2f} ± {c['auroc_sd']:.2f}".rjust(14)
                            for c in cells)
            tpr = "".join(
                f"{c['tpr_at_1pct_fpr_mean']:.2f} / {c['tpr_at_5pct_fpr_mean']:.2f}".rjust(14)
                for c in cells)
            print(f"{detector:16s}{auroc}")
            print(f"{'':16s}{tpr}")


def main() -> int:
    args = parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    exposures = [int(e) for e in args.exposures.split(",")]
    results: list[ValidationResult] = []
    timings: dict[int, dict[str, float]] = {}
    gates: dict[int, bool] = {}
    for seed in seeds:
        config = with_overrides(preset(args.config), exposures=exposures, epochs=args.epochs,
                                items_per_cell=args.items_per_cell, seed=seed)
        if args.no_semantic:
            config = replace(config, semantic=False)
        out = args.out / f"seed-{seed}"
        started = time.perf_counter()
        prefix = f"[seed {seed}]"

        def log(message: str, prefix: str = prefix) -> None:
            print(f"{prefix} {message}", flush=True)

        result = run_validation(config, out, log=log)
        write_outputs(result, out)
        timings[seed] = {**result.timings, "total_s": time.perf_counter() - started}
        gates[seed] = result.gate.passed
        print(f"[seed {seed}] " + gate_text(result).replace("\n", f"\n[seed {seed}] "))
        if result.gate.passed:
            results.append(result)
    if not results:
        print("no seed passed the validity gate: the lab measured nothing")
        return 1
    table = aggregate(results)
    print_table(table, exposures)
    print("\ntimings per seed (s):")
    for seed, spent in timings.items():
        train = sum(v for k, v in spent.items() if k.startswith("train_"))
        score = sum(v for k, v in spent.items() if k.startswith("score_"))
        print(f"  seed {seed}: training {train:.0f}, scoring {score:.0f}, total "
              f"{spent['total_s']:.0f}, gate {'passed' if gates[seed] else 'FAILED'}")
    summary = {"config": args.config, "seeds": seeds, "gates": gates, "timings_s": timings,
               "aurocs": table}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
