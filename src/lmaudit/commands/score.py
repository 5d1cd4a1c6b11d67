"""`lmaudit score`: re-score stored responses without a model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmaudit.core.task import Task
    from lmaudit.scoring import Scorer


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score stored responses (no model needed) and write a run directory",
        description=(
            "Score a JSONL file of stored responses. For a task with an answer scorer "
            "(gsm8k, ...) each line holds `response`, `target` (a bare answer or a full "
            "GSM8K solution ending in `#### x`) and optionally `id`, `prompt` and `cluster`. "
            "For a task that grades against its own data (ifeval, ...) each line holds "
            "`response` and `id` or the exact `prompt` it answers, and the task's data is "
            "read as in `lmaudit run` (--task-option data=PATH for a local file). Several "
            "answers per problem (lines with `responses` lists, or repeated ids with a "
            "`sample_index`) give the metrics over samples (pass@k, maj@k, vote share) and, "
            "with --verifier, best-of-N per verifier."
        ),
    )
    parser.add_argument("--task", required=True, help="task whose scorer to use, e.g. gsm8k")
    parser.add_argument("--responses", required=True, type=Path, help="JSONL file of responses")
    parser.add_argument(
        "--scorer", help="override the task's scorer (numeric, exact, contains, ...)"
    )
    parser.add_argument(
        "--task-option",
        action="append",
        metavar="KEY=VALUE",
        help="task option, repeatable, e.g. data=input_data.jsonl",
    )
    parser.add_argument("--out", type=Path, help="run directory (default: runs/<time>-score)")
    parser.add_argument("--seed", type=int, default=0, help="seed for bootstrap intervals")
    from lmaudit.commands._sampling import add_sampling_options

    add_sampling_options(parser, generation=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score the responses into a new run directory. `--out` must be missing or empty, or
    hold an unfinished `lmaudit score` run (rewritten); a finished score run of the same
    command prints its stored results; any other directory is left untouched."""
    from lmaudit.commands._common import parse_key_values
    from lmaudit.commands._finished import print_finished_run
    from lmaudit.core.aggregate import aggregate_records
    from lmaudit.core.rescore import read_responses, score_rows, scorer_metrics
    from lmaudit.core.runlock import RunLock
    from lmaudit.core.store import RunWriter, base_manifest, default_run_dir, run_dir_state
    from lmaudit.report.table import metrics_table
    from lmaudit.scoring import get_scorer

    options = parse_key_values(args.task_option, flag="--task-option")
    if args.scorer and args.verifier:
        from lmaudit.core.types import LmauditError

        raise LmauditError("--verifier picks among several stored answers scored by the "
                           "task's own scorer; drop --scorer")
    if not args.scorer:
        task = _task_grading_own_data(args.task, options)
        if task is None and (args.verifier or _several_per_problem(args.responses)):
            from lmaudit.tasks.reasoning_stored import stored_sampling_task
            from lmaudit.tasks.registry import load_task

            task = stored_sampling_task(load_task(args.task, options))
        if task is not None:
            return _run_task_scoring(args, task, options)
    scorer = get_scorer(args.scorer) if args.scorer else _task_scorer(args.task, options)
    identity = {
        "task": args.task,
        "responses": str(args.responses.resolve()),
        "scorer": scorer.name,
        "scorer_version": scorer.version,
        "seed": args.seed,
    }
    run_dir = args.out or default_run_dir(args.task, "score")
    if print_finished_run(run_dir, "score", identity):
        return 0
    rows = read_responses(args.responses)
    records = score_rows(scorer, rows, source=args.responses)
    with RunLock(run_dir):
        run_dir_state(run_dir, "score")  # again, now that no one else can write it
        writer = RunWriter(run_dir, base_manifest(kind="score", **identity, n_samples=len(records)))
        writer.append(records)
        metrics = aggregate_records(scorer_metrics(scorer), records, seed=args.seed)
        writer.finish(
            {
                "task": args.task,
                "n_samples": len(records),
                "metrics": {name: est.to_dict() for name, est in metrics.items()},
            }
        )
    payload = {name: est.to_dict() for name, est in metrics.items()}
    print(
        metrics_table(payload, title=f"{args.task} · {args.responses} · {len(records)} responses")
    )
    print(f"run stored in {run_dir}")
    return 0


def _several_per_problem(path: Path) -> bool:
    """Whether a responses file holds several answers per problem (`responses` lists or
    `sample_index` fields)."""
    from lmaudit.tasks.stored import read_stored_rows

    return any("responses" in row or "sample_index" in row for row in read_stored_rows(path))


def _task_scorer(task_name: str, options: dict[str, str]) -> Scorer:
    """The scorer a generation task declares; no data is loaded."""
    from lmaudit.core.types import LmauditError
    from lmaudit.scoring import Scorer
    from lmaudit.tasks.registry import load_task

    scorer = getattr(load_task(task_name, options), "scorer", None)
    if not isinstance(scorer, Scorer):
        raise LmauditError(
            f"task {task_name!r} has no scorer: it is not a generation task (use --scorer)"
        )
    return scorer


def _task_grading_own_data(task_name: str, options: dict[str, str]) -> Task | None:
    """The task when it grades stored responses against its own data: it reads its own
    stored files, or it is a generation task without an answer scorer (ifeval). None
    otherwise: a task with an answer scorer reads self-contained lines, and a task that
    needs log-likelihoods and reads no stored file cannot be scored from text."""
    from lmaudit.core.types import RequestKind
    from lmaudit.scoring import Scorer
    from lmaudit.tasks.registry import load_task
    from lmaudit.tasks.stored import StoredScoringTask

    task = load_task(task_name, options)
    if isinstance(task, StoredScoringTask):
        return task
    if isinstance(getattr(task, "scorer", None), Scorer):
        return None
    if task.request_kinds != frozenset({RequestKind.GENERATE}):
        return None
    return task


def _run_task_scoring(args: argparse.Namespace, task: Task, options: dict[str, str]) -> int:
    """Score stored responses with the task's own scoring (`lmaudit.tasks.stored`) into a
    new run directory; same run-directory rules as `run`."""
    from lmaudit.commands._finished import print_finished_run
    from lmaudit.core.aggregate import aggregate_records
    from lmaudit.core.runlock import RunLock
    from lmaudit.core.store import RunWriter, base_manifest, default_run_dir, run_dir_state
    from lmaudit.core.task import task_annotations
    from lmaudit.report.table import metrics_table
    from lmaudit.tasks.stored import read_stored_rows, score_stored_responses

    identity = {
        "task": args.task,
        "task_options": dict(sorted(options.items())),
        "responses": str(args.responses.resolve()),
        "scorer": f"task:{task.name}",
        "seed": args.seed,
        **({"verifiers": list(args.verifier)} if args.verifier else {}),
    }
    run_dir = args.out or default_run_dir(args.task, "score")
    if print_finished_run(run_dir, "score", identity):
        return 0
    if args.verifier:
        _attach_verifiers(task, args.verifier)
    rows = read_stored_rows(args.responses)
    records = score_stored_responses(task, rows, source=args.responses)
    with RunLock(run_dir):
        run_dir_state(run_dir, "score")
        manifest = base_manifest(
            kind="score", **identity, task_spec=task.spec(), n_samples=len(records)
        )
        writer = RunWriter(run_dir, manifest)
        writer.append(records)
        metrics = aggregate_records(task.metrics, records, seed=args.seed)
        payload = {name: est.to_dict() for name, est in metrics.items()}
        notes = task_annotations(task)
        writer.finish(
            {"task": args.task, "n_samples": len(records), "metrics": payload, **notes}
        )
    print(
        metrics_table(payload, title=f"{args.task} · {args.responses} · {len(records)} responses")
    )
    for note in notes.get("notes", []):
        print(f"note: {note}")
    print(f"run stored in {run_dir}")
    return 0


def _attach_verifiers(task: Task, specs: list[str]) -> None:
    """Give a task that scores stored samples (`ReasoningTask`) its best-of-N verifiers."""
    from lmaudit.core.types import LmauditError
    from lmaudit.tasks.reasoning import ReasoningTask
    from lmaudit.verifiers import parse_verifier

    if not isinstance(task, ReasoningTask):
        raise LmauditError(f"--verifier: task {task.name} scores stored answers its own way; "
                           "best-of-N needs a task with an answer scorer")
    task.verifiers = tuple(parse_verifier(spec) for spec in specs)
