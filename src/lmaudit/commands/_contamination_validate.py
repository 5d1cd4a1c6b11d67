"""`lmaudit contamination validate`: measure every contamination detector on lab models.

`register_validate(commands)` adds the sub-command to the `contamination` sub-parsers
(wired in `commands/contamination.py`). Heavy imports happen inside `run_validate`.
"""

from __future__ import annotations

import argparse
from typing import Any

from lmaudit.core.types import LmauditError

DESCRIPTION = """\
Generate a corpus and benchmark items, plant items at known exposure counts and in known
forms (verbatim, question only, paraphrased, word-mapped "translation"), train a
contaminated lab model, its clean twin and a reference model on CPU, and report for every
detector (n-gram overlap, loss, zlib, Min-K%, Min-K%++, reference ratio, semantic
similarity when available) the AUROC with a bootstrap interval and the true-positive rate
at 1% and 5% false-positive rate, per exposure and form. A validity gate checks that
planted canaries are detected and that every detector sits at chance on the clean twin;
if it fails, the command exits with status 1 and writes no operating characteristics.
"""

EPILOG = """\
examples:
  lmaudit contamination validate                        # small configuration (CI, ~1 min)
  lmaudit contamination validate --config full --seed 1 --out runs/validation-full-1
  lmaudit contamination validate --exposures 4,32 --forms verbatim,paraphrase --epochs 8
"""


def register_validate(commands: Any) -> None:
    """Add `validate` to the `lmaudit contamination` sub-commands."""
    parser = commands.add_parser(
        "validate",
        help="measure the detectors on lab models with planted items (operating curves)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", choices=("small", "full"), default="small",
                        help="preset: small (CI: exposures 1,4,16,32, 10 items per cell) or "
                        "full (exposures 1-32, 20 items per cell, a larger model)")
    parser.add_argument("--exposures", metavar="LIST",
                        help="comma-separated exposure counts, e.g. 1,2,4,8,16,32 "
                        "(times a planted text is seen in training)")
    parser.add_argument("--forms", metavar="LIST",
                        help="comma-separated forms among verbatim,question,paraphrase,mapped")
    parser.add_argument("--items-per-cell", type=int, metavar="N",
                        help="member items per (form, exposure) cell")
    parser.add_argument("--epochs", type=int, metavar="E",
                        help="passes over the base corpus (planted texts are still seen "
                        "exactly their exposure count)")
    parser.add_argument("--seed", type=int, default=0, help="seed of items, corpus and "
                        "training (default 0)")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the embedding-similarity detector even when available")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--progress", action="store_true", help="show training progress bars")
    parser.add_argument("--out", metavar="DIR",
                        help="output directory (default runs/<time>-contamination-validate-"
                        "<config>)")
    parser.set_defaults(func=run_validate)


def parse_int_list(text: str, flag: str) -> tuple[int, ...]:
    """`"1,2,4"` -> (1, 2, 4); LmauditError naming the flag on anything else."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise LmauditError(f"{flag} {text!r}: expected comma-separated integers") from None
    if not values or any(v < 1 for v in values) or len(set(values)) != len(values):
        raise LmauditError(f"{flag} {text!r}: expected distinct integers >= 1")
    return values


def parse_forms(text: str) -> tuple[str, ...]:
    from lmaudit.contamination.validation.items import FORMS

    forms = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [f for f in forms if f not in FORMS]
    if not forms or unknown or len(set(forms)) != len(forms):
        raise LmauditError(f"--forms {text!r}: expected distinct names among {', '.join(FORMS)}")
    return forms


def run_validate(args: argparse.Namespace) -> int:
    import time
    from dataclasses import replace
    from pathlib import Path

    from lmaudit.contamination.validation.lab import preset, run_validation, with_overrides
    from lmaudit.contamination.validation.report import summary_text, write_outputs
    from lmaudit.core.store import default_run_dir

    for flag, value in (("--items-per-cell", args.items_per_cell), ("--epochs", args.epochs),
                        ("--threads", args.threads)):
        if value is not None and value < 1:
            raise LmauditError(f"{flag} must be at least 1, got {value}")
    try:
        config = with_overrides(
            preset(args.config),
            exposures=parse_int_list(args.exposures, "--exposures") if args.exposures else None,
            forms=parse_forms(args.forms) if args.forms else None,
            items_per_cell=args.items_per_cell,
            epochs=args.epochs,
            seed=args.seed,
        )
    except ValueError as error:
        raise LmauditError(f"contamination validate: {error}") from None
    if args.no_semantic:
        config = replace(config, semantic=False)
    if args.threads:
        config = replace(config, threads=args.threads)
    out = Path(args.out) if args.out else default_run_dir(
        "contamination-validate", args.config
    )
    started = time.perf_counter()
    result = run_validation(config, out, progress=args.progress, log=print)
    paths = write_outputs(result, out)
    print()
    print(summary_text(result))
    print()
    if "characteristics" in paths:
        print(f"operating characteristics: {paths['characteristics']}")
    installed = install_verdict_characteristics(out) if result.gate.passed else None
    if installed is not None:
        print(f"installed for every later contamination verdict: {installed}")
    print(f"plot: {paths['plot']}")
    print(f"everything else: {out} ({time.perf_counter() - started:.0f} s)")
    return 0 if result.gate.passed else 1


def install_verdict_characteristics(out: Any) -> Any:
    """Copy the run's verdict figures to the default place `contamination test` reads."""
    import shutil

    from lmaudit.contamination.validation.report import VERDICT_CHARACTERISTICS
    from lmaudit.contamination.verdicts import default_operating_path

    source = out / VERDICT_CHARACTERISTICS
    if not source.is_file():
        return None
    target = default_operating_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
