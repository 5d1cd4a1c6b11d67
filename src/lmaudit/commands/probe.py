"""`lmaudit probe`: memorization probes (template instances, perturbed variants, paired tests)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lmaudit.commands._common import (
    add_model_options,
    add_task_options,
    model_options,
    parse_key_values,
)
from lmaudit.core.types import LmauditError

DESCRIPTION = """\
Memorization probes. `generate` writes instances of symbolic templates (fresh names and
numbers). `run` evaluates a task's items AND answer-preserving variants of them, keeps each
variant linked to its original, and reports the paired drop (clustered by template),
McNemar's exact test, the accuracy distribution over instance sets, consistency and a
one-line verdict. A model that memorized the benchmark does much better on the originals.
"""

EPILOG = """\
examples:
  lmaudit probe generate --templates arith --n 5 --seed 0 --out arith.jsonl --original
  lmaudit probe run --model lab:demo-contaminated --task arith --variants symbolic,noop
  lmaudit probe run --model hf:Qwen/Qwen2.5-0.5B --task arith_mc --variants symbolic,permute
  lmaudit probe run --model hf:Qwen/Qwen2.5-0.5B --task gsm8k --variants symbolic,p1,p2 \
      --templates gsm_symbolic/templates       # GSM-Symbolic's published templates
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe", help="memorization probes: template instances and paired variant tests",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=_usage, probe_parser=parser)
    actions = parser.add_subparsers(dest="probe_command", metavar="ACTION")
    gen = actions.add_parser(
        "generate", help="instances of symbolic templates as JSON lines",
        description="Write one JSON line per instance: template_id, instance, variables, "
        "question, answer. Templates that cannot be parsed or satisfied are listed with "
        "their reason on stderr; the others still run.",
    )
    gen.add_argument("--templates", required=True, metavar="DIR_OR_NAME",
                     help="a directory of templates (GSM-Symbolic .json or lmaudit .yaml) "
                     "or a bundled library name: arith")
    gen.add_argument("--n", type=int, default=10, help="instances per template (default 10)")
    gen.add_argument("--seed", type=int, default=0,
                     help="instance-set seed: seed S draws instances S*100000+1..S*100000+N")
    gen.add_argument("--out", type=Path, help="output .jsonl (default: standard output)")
    gen.add_argument("--original", action="store_true",
                     help="also emit each template's original instance (instance 0) first")
    gen.set_defaults(func=run_generate)

    run = actions.add_parser(
        "run", help="evaluate a task's items and their variants; paired analysis",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(run)
    add_task_options(run)
    run.add_argument("--variants", default="symbolic,noop,reorder,permute",
                     help="comma-separated families: symbolic (fresh template instances; "
                     "templated tasks, or --templates), p1, p2 (GSM-Symbolic's harder "
                     "templates, with --templates), noop (irrelevant clause), noop_numeric "
                     "(seemingly relevant clause carrying a number, as GSM-NoOp), reorder "
                     "(context sentences "
                     "shuffled, question last; may change meaning), permute (option "
                     "rotations, circular score; multiple choice), relabel (option labels "
                     "A-D → W-Z, 1-4; prompts that list options). Families that apply to "
                     "no item fail with a message; default symbolic,noop,reorder,permute "
                     "keeps only those that apply")
    run.add_argument("--sets", type=int, default=None,
                     help="instance sets for symbolic/p1/p2 (default 50 with --templates, as "
                     "in GSM-Symbolic, else 10; at most 100)")
    run.add_argument("--templates", metavar="DIR",
                     help="template directory (GSM-Symbolic .json with symbolic/p1/p2 "
                     "folders, or lmaudit .yaml) whose templates are linked to the task's "
                     "items by their original question; only linked items are probed, and "
                     "every template that links to none is listed with the reason")
    run.add_argument("--limit", type=int, help="probe only the first N items")
    run.add_argument("--seed", type=int, default=0, help="seed for noop/reorder choices")
    run.add_argument("--out", type=Path, help="run directory (default: runs/<time>-probe-...)")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.add_argument("--no-plot", action="store_true", help="skip instance_sets.png")
    run.set_defaults(func=run_probe_command)


def _usage(args: argparse.Namespace) -> int:
    args.probe_parser.print_help()
    return 2


def run_generate(args: argparse.Namespace) -> int:
    from lmaudit.probes.generate import generate_instances, resolve_template_dir

    result = generate_instances(
        resolve_template_dir(args.templates), args.n, args.seed, original=args.original
    )
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.records)
    if args.out is None:
        sys.stdout.write(lines)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(lines, encoding="utf-8")
    for source, reason in result.failures:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    print(f"{len(result.records)} instances → {args.out or 'stdout'}; "
          f"{len(result.failures)} template file(s) skipped", file=sys.stderr)
    if not result.records and result.failures:
        raise LmauditError(f"{args.templates}: no template could be instantiated")
    return 0


def _applicable(
    task: Any, families: list[str], explicit: bool, limit: int | None, links: Any = None
) -> list[str]:
    """The families that apply to at least one probed sample, checked before any model is
    loaded: an explicitly requested family that applies to none is an error, a default
    one is dropped with a note. With template links, `symbolic`/`p1`/`p2` apply when some
    linked template has that family."""
    from lmaudit.probes.runner import build_probe_samples

    samples = task.samples()
    if links is not None:
        samples = [s for s in samples if s.id in links.by_item]
    samples = samples[:limit]
    kept = []
    for family in families:
        try:
            if links is not None and family in ("symbolic", "p1", "p2"):
                if family not in links.families():
                    raise LmauditError(f"variant {family!r}: no {family} template in "
                                       f"{links.directory} links to an item of {task.name}")
            else:
                build_probe_samples(samples, [family], n_sets=1)
        except LmauditError:
            if explicit:
                raise
            print(f"probe: variant {family!r} does not apply to {task.name}; skipped",
                  file=sys.stderr)
            continue
        kept.append(family)
    return kept


def run_probe_command(args: argparse.Namespace) -> int:
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.preflight import preflight
    from lmaudit.core.store import default_run_dir
    from lmaudit.probes.perturb import VARIANT_FAMILIES
    from lmaudit.probes.runner import DEFAULT_VARIANTS, run_probe
    from lmaudit.tasks.registry import load_task

    families = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [f for f in families if f not in VARIANT_FAMILIES]
    if unknown or not families:
        raise LmauditError(f"--variants: unknown {', '.join(unknown) or '(empty)'}; "
                           f"choose from {', '.join(VARIANT_FAMILIES)}")
    if args.limit is not None and args.limit < 1:
        raise LmauditError(f"--limit must be a positive number, got {args.limit}")
    task = load_task(args.task, parse_key_values(args.task_option, flag="--task-option"))
    links = _links(args.templates, task) if args.templates else None
    n_sets = args.sets if args.sets is not None else (50 if links is not None else 10)
    if not 1 <= n_sets <= 100:
        raise LmauditError(f"--sets must be between 1 and 100, got {n_sets}")
    explicit = tuple(families) != DEFAULT_VARIANTS
    families = _applicable(task, families, explicit, args.limit, links)
    if not families:
        raise LmauditError(f"no variant family applies to task {task.name}")
    preflight(task, args.limit)  # data, templates and few-shot fail before the model loads
    backend = load_backend(args.model, model_options(args))
    run_dir = args.out or default_run_dir(f"probe-{task.name}", args.model)
    outcome = run_probe(
        task, backend, run_dir, variants=families, n_sets=n_sets, limit=args.limit,
        seed=args.seed, model_spec=args.model, show_progress=not args.no_progress,
        plot=not args.no_plot, links=links,
    )
    if links is not None:
        _print_unlinked(outcome.run_dir)
    print(format_analysis(outcome.analysis.to_dict(), title=f"{task.name} · {args.model}"))
    print(f"probe run stored in {outcome.run_dir}")
    return 0


def _links(directory: str, task: Any) -> Any:
    """Templates of `directory` linked to the task's items (before any model is loaded)."""
    from lmaudit.probes.linked_templates import load_links

    if not Path(directory).is_dir():
        raise LmauditError(f"--templates {directory}: not a directory")
    links = load_links(directory, task.samples())
    if not links.by_item:
        raise LmauditError(f"--templates {directory}: no template links to an item of "
                           f"{task.name} ({len(links.unlinked)} template(s) unlinked)")
    return links


def _print_unlinked(run_dir: Path) -> None:
    """One stderr line per template that links to no probed item, with its reason."""
    from lmaudit.probes.runner import PROBE_RESULTS

    templates = json.loads((run_dir / PROBE_RESULTS).read_text())["templates"]
    for entry in templates["unlinked"]:
        print(f"probe: template {entry['template_id']} not used: {entry['reason']}",
              file=sys.stderr)
    print(f"probe: {templates['n_linked']} template(s) linked, "
          f"{templates['n_unlinked']} not used", file=sys.stderr)


def format_analysis(result: dict[str, Any], *, title: str = "") -> str:
    """Plain-text table of a probe analysis (`ProbeAnalysis.to_dict()`)."""
    from lmaudit.probes.summary import format_probe_table

    return format_probe_table(result, title=title)
