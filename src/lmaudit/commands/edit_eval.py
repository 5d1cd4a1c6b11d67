"""`lmaudit edit-eval`: did an edit change what it should, and nothing else?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Score a file of model edits on the model before and after editing (CounterFact, zsRE or
EasyEdit/KnowEdit records): reliability (the edit prompt now gives the new target),
generalization (its paraphrases do too), locality (neighbourhood prompts keep their
answers) and portability (questions whose answer follows from the edit), each before and
after with its 95% interval clustered by edit, and after − before paired on the same
prompts.
Both models get the same requests; nothing is generated beyond short greedy answers.

Measures: `prefers new over old` (the new target's mean per-token log-probability beats
the old one's, CounterFact's efficacy score), `new target is greedy` / `answer is greedy`
(every token of the target is the argmax), `margin` (nats/token), `keeps old over new`
(neighbourhood), `answer unchanged` (greedy answers of neighbourhood prompts identical
before and after) and `mentions new target` (generation prompts).
"""

EPILOG = """\
edit files (JSON list or JSON lines):
  CounterFact: {"case_id", "requested_rewrite": {"prompt": "{} plays", "subject",
    "target_new": {"str"}, "target_true": {"str"}}, "paraphrase_prompts": [..],
    "neighborhood_prompts": [..], "generation_prompts": [..]}
  zsRE: {"src", "alt", "answers": [..], "rephrase", "loc", "loc_ans"}
  EasyEdit/KnowEdit: {"prompt", "target_new", "ground_truth", "rephrase_prompt",
    "locality_prompt", "locality_ground_truth"} or "locality": {KIND: [{"prompt",
    "ground_truth"}, ..]}
  any may add "portability": [{"prompt", "ground_truth"}, ..] (or KnowEdit's {KIND: [..]})

examples:
  lmaudit edit-eval --before hf:gpt2-xl --after hf:runs/gpt2-xl-rome --edits cf.json
  lmaudit edit-eval --before lab:facts --after lab:facts-edited --edits edits.jsonl \\
      --html edit.html --json edit.json
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "edit-eval", help="evaluate model edits: reliability, generalization, locality",
        description=DESCRIPTION, epilog=EPILOG, conflict_handler="resolve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from lmaudit.commands._common import add_model_options

    add_model_options(parser, required=False)
    parser.add_argument("--model", help=argparse.SUPPRESS)  # --before and --after instead
    parser.add_argument("--before", required=True, metavar="SPEC",
                        help="the model before the edit (any model spec)")
    parser.add_argument("--after", required=True, metavar="SPEC",
                        help="the edited model")
    parser.add_argument("--edits", required=True, type=Path, metavar="FILE",
                        help="CounterFact or zsRE records (see below)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N edits")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write JSON here")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the HTML report here")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the request cache")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="request cache directory (default $LMAUDIT_CACHE_DIR or "
                        "~/.cache/lmaudit/cache)")
    parser.set_defaults(func=run_edit_eval)


def run_edit_eval(args: argparse.Namespace) -> int:
    import json

    from lmaudit import report
    from lmaudit.audit.orchestrate import free_model
    from lmaudit.backends.registry import load_backend
    from lmaudit.commands.audit import backend_options
    from lmaudit.core.cache import RequestCache, default_cache_dir
    from lmaudit.core.types import LmauditError
    from lmaudit.editing import evaluate_edits, read_edits
    from lmaudit.report.editing_render import editing_report

    edits = read_edits(args.edits)
    if args.limit is not None:
        if args.limit < 1:
            raise LmauditError(f"--limit must be a positive number, got {args.limit}")
        edits = edits[: args.limit]
    cache = None if args.no_cache else RequestCache(args.cache_dir or default_cache_dir())
    before = load_backend(args.before, backend_options(args, args.before))
    try:
        after = load_backend(args.after, backend_options(args, args.after))
        try:
            evaluation = evaluate_edits(edits, before, after, before_spec=args.before,
                                        after_spec=args.after, edits_file=str(args.edits),
                                        show_progress=not args.no_progress, cache=cache)
        finally:
            free_model(after)
    finally:
        free_model(before)
        if cache is not None:
            cache.close()
    built: Any = editing_report(evaluation)
    print(report.render_terminal(built))
    if args.html is not None:
        print(f"report: {report.write_html(built, args.html)}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.render_json(built), indent=2,
                                        ensure_ascii=False) + "\n", encoding="utf-8")
    return 0
