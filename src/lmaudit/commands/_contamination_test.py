"""`lmaudit contamination test`: likelihood contamination tests and the verdict report.

Not a top-level command (the name starts with `_`): `commands/contamination.py` calls
`register_test(commands)` on its sub-parsers.
"""

from __future__ import annotations

import argparse
from typing import Any

from lmaudit.commands._common import add_model_options, add_task_options

AUTO = "auto"


def register_test(commands: Any) -> None:
    test = commands.add_parser(
        "test",
        help="likelihood tests: loss gaps, Min-K%%, Min-K%%++, zlib, exchangeability",
        description=(
            "Score the benchmark's test items (as solved documents) and unseen reference "
            "items with the model and report per signal an interval or p-value and a "
            "verdict: Skywork loss gaps (test vs ref, test vs train), membership scores "
            "(loss, zlib, Min-K%, Min-K%++, reference-model ratio) as AUROC of test vs ref, "
            "and the exchangeability test of the canonical order. None of these see "
            "translated or paraphrased leaks."
        ),
    )
    add_model_options(test)
    add_task_options(test)
    test.add_argument(
        "--reference-file", metavar="FILE",
        help="unseen items from the test distribution (jsonl/json/csv/parquet with a `text` "
        "field); default: the task's ref split (arith has one)",
    )
    test.add_argument(
        "--train-file", metavar="FILE",
        help="the benchmark's train items (same format); default: the task's train split "
        "(arith), limited to --train-limit items",
    )
    test.add_argument(
        "--reference-model", metavar="SPEC",
        help="a second model for the reference-ratio score (same spec syntax as --model)",
    )
    test.add_argument("--k", type=float, default=0.2,
                      help="fraction of lowest-scored tokens for Min-K%% and Min-K%%++ "
                      "(default 0.2)")
    test.add_argument("--shards", type=int, default=10,
                      help="exchangeability test: contiguous shards (default 10)")
    test.add_argument("--permutations", type=int, default=30,
                      help="exchangeability test: shuffled orders per shard (default 30)")
    test.add_argument(
        "--separator", default=AUTO,
        help="text between items when a shard is joined (Python escapes allowed, e.g. "
        "'\\n\\n'); default: <|endoftext|> for lab: models (their training layout), "
        "else a blank line",
    )
    test.add_argument(
        "--training-shuffled", action="store_true",
        help="the model's training data is known to be shuffled: report the exchangeability "
        "test as not applicable (implied for lab: models)",
    )
    test.add_argument(
        "--exchangeability", choices=("auto", "off", "force"), default="auto",
        help="auto: run unless not applicable; off: skip; force: run and report despite "
        "the applicability reasons",
    )
    test.add_argument("--limit", type=int, help="use only the first N test and ref items")
    test.add_argument("--train-limit", type=int,
                      help="train items used for Δ2 (default: as many as test items)")
    test.add_argument("--operating-characteristics", metavar="JSON",
                      help="detector figures from the validation lab, printed beside each "
                      "signal (default: those `lmaudit contamination validate` installed in "
                      "~/.cache/lmaudit/contamination/, when present)")
    test.add_argument("--seed", type=int, default=0, help="seed of bootstraps and shuffles")
    test.add_argument("--out", help="run directory (default runs/<time>-<task>-<model>)")
    test.set_defaults(func=run_test)


def _separator(value: str, model_spec: str) -> str:
    import codecs

    if value != AUTO:
        return codecs.decode(value, "unicode_escape")
    if model_spec.startswith("lab:"):
        from lmaudit.lab.tokenizer import END_OF_TEXT

        return END_OF_TEXT
    return "\n\n"


def _items(args: argparse.Namespace, options: dict[str, str]) -> list[Any]:
    from lmaudit.contamination.likelihood_run import (
        ARITH_TASKS,
        arith_items,
        file_items,
        task_items,
    )
    from lmaudit.core.types import LmauditError

    arith = args.task in ARITH_TASKS
    if arith:
        split = options.get("split", "test")
        if split != "test":
            raise LmauditError("contamination test compares arith's test split with its ref "
                               "split; drop --task-option split=...")
        test = arith_items("test", args.limit)
    else:
        test = task_items(args.task, options, limit=args.limit)
    if args.reference_file:
        ref = file_items(args.reference_file, "ref", limit=args.limit)
    elif arith:
        ref = arith_items("ref", args.limit)
    else:
        ref = []
    train_limit = args.train_limit if args.train_limit is not None else len(test)
    if args.train_file:
        train = file_items(args.train_file, "train", limit=train_limit)
    elif arith:
        train = arith_items("train", train_limit)
    else:
        train = []
    if not ref:
        print(f"note: task {args.task!r} has no reference split and no --reference-file was "
              "given: Δ1 and the test-vs-ref comparisons are not available")
    return [*test, *ref, *train]


def run_test(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmaudit.backends.registry import load_backend
    from lmaudit.commands._common import model_options, parse_key_values
    from lmaudit.contamination.report import (
        LikelihoodTestSettings,
        report_text,
        run_likelihood_test,
    )
    from lmaudit.contamination.verdicts import (
        load_default_operating_characteristics,
        load_operating_characteristics,
    )
    from lmaudit.core.store import default_run_dir
    from lmaudit.core.types import LmauditError

    for flag, value, low in (("--shards", args.shards, 1), ("--permutations", args.permutations,
                             1), ("--limit", args.limit, 1), ("--train-limit",
                             args.train_limit, 0)):
        if value is not None and value < low:
            raise LmauditError(f"{flag} must be at least {low}, got {value}")
    if not 0.0 < args.k <= 1.0:
        raise LmauditError(f"--k must be in (0, 1], got {args.k}")
    options = parse_key_values(args.task_option, flag="--task-option")
    operating = (load_operating_characteristics(args.operating_characteristics)
                 if args.operating_characteristics else load_default_operating_characteristics())
    if not operating:
        print("detector figures from the validation lab: none measured on this machine yet "
              "(run `lmaudit contamination validate` to print them beside every signal)")
    items = _items(args, options)
    lab = args.model.startswith("lab:")
    settings = LikelihoodTestSettings(
        k=args.k, n_shards=args.shards, n_permutations=args.permutations,
        separator=_separator(args.separator, args.model),
        training_shuffled=args.training_shuffled or lab,
        exchangeability=args.exchangeability, seed=args.seed,
    )
    backend = load_backend(args.model, model_options(args))
    reference = None
    if args.reference_model:
        reference_args = argparse.Namespace(**{**vars(args), "model": args.reference_model})
        reference = load_backend(args.reference_model, model_options(reference_args))
    out = Path(args.out) if args.out else default_run_dir(args.task, args.model)
    report = run_likelihood_test(
        backend, items, benchmark=args.task, model=args.model, settings=settings,
        reference_backend=reference, reference_model=args.reference_model,
        operating=operating, out_dir=out,
        manifest_extra={"task_options": options, "reference_file": args.reference_file,
                        "train_file": args.train_file},
    )
    print(report_text(report))
    if lab and not args.training_shuffled:
        print("(lab models train on documents shuffled every epoch, so the exchangeability "
              "test does not apply to them)")
    print(f"run directory: {out}")
    return 0
