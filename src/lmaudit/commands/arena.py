"""`lmaudit arena`: pairwise ratings (rank) and the LLM-judge pipeline (judge)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "arena",
        help="pairwise ratings from battles (Elo, Bradley-Terry, style control) and LLM judges",
        description=(
            "Rate models from pairwise battles with honest intervals, with and without "
            "style control, or judge model outputs pairwise with an LLM."
        ),
    )
    commands = parser.add_subparsers(dest="arena_command", metavar="SUBCOMMAND")
    _register_rank(commands)
    _register_judge(commands)
    from lmaudit.commands._arena_app import register_app_commands

    register_app_commands(commands)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _register_rank(commands: Any) -> None:
    rank = commands.add_parser(
        "rank",
        help="leaderboard with 95%% intervals from a battles file",
        description=(
            "Rate models from battles (JSONL, CSV, Parquet, FastChat JSON or pair counts) "
            "and print the leaderboard: rating, 95% interval, Rank (UB), rank range, battles."
        ),
        epilog=(
            "examples:\n"
            "  lmaudit arena rank battles.jsonl\n"
            "  lmaudit arena rank battles.parquet --style-control --json out.json --plot plots/\n"
            "  lmaudit arena rank clean_battle.json --anchor mixtral-8x7b-instruct-v0.1=1114\n"
            "  lmaudit arena rank battles.csv --method elo --bootstrap 200"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rank.add_argument("battles", type=Path, help="battles file")
    rank.add_argument(
        "--method",
        default="bt",
        choices=["bt", "elo", "davidson", "rao-kupper"],
        help="bt: Bradley-Terry MLE (default); elo: online Elo (K=4); davidson, "
        "rao-kupper: tie-aware Bradley-Terry",
    )
    rank.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap rounds for the intervals (default 1000)",
    )
    rank.add_argument(
        "--intervals",
        default="bootstrap",
        choices=["bootstrap", "sandwich", "none"],
        help="interval method (default bootstrap; sandwich: closed form, bt only)",
    )
    rank.add_argument(
        "--confidence", type=float, default=0.95, help="interval level (default 0.95)"
    )
    rank.add_argument(
        "--anchor",
        metavar="MODEL=RATING",
        help="pin one model's rating (default: mean rating 1000)",
    )
    rank.add_argument(
        "--style-control",
        action="store_true",
        help="also fit Bradley-Terry with style features and show rank changes",
    )
    rank.add_argument(
        "--style-penalty",
        default="none",
        choices=["none", "fastchat", "arena-rank"],
        help="shrinkage of the style coefficients (default none: plain MLE)",
    )
    rank.add_argument(
        "--ridge",
        type=float,
        default=0.0,
        help="ridge penalty on the ratings (natural-log units; keeps models that "
        "never lost finite)",
    )
    rank.add_argument(
        "--ipw",
        action="store_true",
        help="inverse-propensity weights for uneven pairing (1/max(pair count, 50))",
    )
    rank.add_argument(
        "--fastchat-solver",
        action="store_true",
        help="reproduce FastChat's solver settings exactly (L-BFGS, 100 iterations)",
    )
    rank.add_argument(
        "--robustness",
        action="store_true",
        help="smallest number of votes whose removal changes the top model",
    )
    rank.add_argument(
        "--position-term",
        action="store_true",
        help="also fit Bradley-Terry with a first-shown (model_a) advantage and print it "
        "with its interval",
    )
    rank.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    rank.add_argument("--workers", type=int, help="bootstrap worker processes (default: all CPUs)")
    rank.add_argument("--top", type=int, help="print only the first N rows")
    rank.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="drop invalid rows (listed on stderr) instead of stopping",
    )
    rank.add_argument("--json", type=Path, metavar="OUT", help="write every result as JSON")
    rank.add_argument("--plot", type=Path, metavar="DIR", help="write PNG plots into DIR")
    rank.set_defaults(func=run_rank)


def _register_judge(commands: Any) -> None:
    judge = commands.add_parser(
        "judge",
        help="judge model outputs pairwise with an LLM (both orders), then rate them",
        description=(
            "Judge every pair of models' answers in both orders with an LLM judge, parse the "
            "verdicts ([[A>>B]] ... [[B>>A]]), report position consistency, the leaderboard, "
            "win rates against a baseline (raw and length-controlled), agreement with "
            "human labels, and a judge-bias report with 95% intervals: position-flip rate, "
            "length slope, self-preference for the judge's own model family, a Bradley-Terry "
            "first-shown term and, with several --judge, Cohen's kappa and Krippendorff's alpha."
        ),
        epilog=(
            "outputs files: JSONL with id, prompt, output (and optionally model).\n"
            "example:\n"
            "  lmaudit arena judge --judge hf:Qwen/Qwen2.5-7B-Instruct --outputs a.jsonl "
            "b.jsonl --baseline a"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    judge.add_argument(
        "--judge",
        required=True,
        action="append",
        metavar="SPEC",
        help="judge model spec (hf:..., lab:...); repeat for several judges (their "
        "agreement: Cohen's kappa, Krippendorff's alpha)",
    )
    judge.add_argument(
        "--family",
        action="append",
        metavar="NAME=FAMILY",
        help="family of a model or judge spec for self-preference (default: the leading "
        "letters of the name after any 'backend:' and '/', e.g. hf:Qwen/Qwen2.5-7B -> qwen)",
    )
    judge.add_argument(
        "--outputs",
        required=True,
        nargs="+",
        type=Path,
        metavar="FILE",
        help="one JSONL file of answers per model",
    )
    judge.add_argument("--baseline", help="judge every model against this one (default: all pairs)")
    judge.add_argument(
        "--human",
        type=Path,
        metavar="FILE",
        help="human votes (battles with prompt_id) for agreement and Cohen's kappa",
    )
    judge.add_argument(
        "--strong-weight",
        type=int,
        default=3,
        help="battles a strong verdict (>>) counts as (default 3, Arena-Hard)",
    )
    judge.add_argument(
        "--max-tokens", type=int, default=1024, help="judge reply budget (default 1024)"
    )
    judge.add_argument("--batch-size", type=int, default=8, help="judge batch size (default 8)")
    judge.add_argument("--dtype", default="auto", help="judge weights dtype (default auto)")
    judge.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    judge.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap rounds (default 1000)"
    )
    judge.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    judge.add_argument(
        "--battles-out",
        type=Path,
        metavar="FILE",
        help="write the judge's verdicts as a battles JSONL file",
    )
    judge.add_argument("--json", type=Path, metavar="OUT", help="write every result as JSON")
    judge.add_argument("--plot", type=Path, metavar="DIR", help="write PNG plots into DIR")
    judge.set_defaults(func=run_judge)


def _anchor(text: str | None) -> Any:
    from lmaudit.arena.bradley_terry import Anchor
    from lmaudit.core.types import LmauditError

    if not text:
        return None
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = float("nan")
    if not sep or not model.strip() or rating != rating:
        raise LmauditError(f"--anchor expects MODEL=RATING, got {text!r}")
    return Anchor(model.strip(), rating)


def run_rank(args: argparse.Namespace) -> int:
    from lmaudit.arena.battles import read_battles
    from lmaudit.arena.export import rank_report_to_dict
    from lmaudit.arena.leaderboard import format_leaderboard, format_rank_changes
    from lmaudit.arena.ranking import RankOptions, rank_battles

    battles = read_battles(args.battles, skip_bad_rows=args.skip_bad_rows)
    for problem in battles.problems[:20]:
        print(f"skipped {problem}", file=sys.stderr)
    if len(battles.problems) > 20:
        print(f"skipped {len(battles.problems) - 20} more bad row(s)", file=sys.stderr)
    options = RankOptions(
        method=args.method,
        intervals=args.intervals,
        bootstrap_rounds=args.bootstrap,
        seed=args.seed,
        workers=args.workers,
        anchor=_anchor(args.anchor),
        confidence=args.confidence,
        ridge=args.ridge,
        inverse_propensity=args.ipw,
        fastchat_solver=args.fastchat_solver,
        style_control=args.style_control,
        style_penalty=args.style_penalty,
        robustness=args.robustness,
        position_term=args.position_term,
    )
    report = rank_battles(battles, options)
    print(
        f"{battles.source}: {battles.n_battles:,.0f} battles, {len(report.leaderboard.rows)} models"
    )
    print(format_leaderboard(report.leaderboard, args.top))
    fit = report.fit
    if "gradient_max" in fit:
        print(
            f"fit: {fit['solver']}, {fit.get('iterations')} iterations, max relative gradient "
            f"{fit['gradient_max']:.1e} ({'converged' if fit['converged'] else 'NOT converged'})"
        )
    if report.style is not None:
        print("\nwith style control (coefficients: log-odds per standard deviation):")
        for c in report.style.coefficients:
            print(f"  {c.name:<11} {c.value:+.4f}  [{c.ci_low:+.4f}, {c.ci_high:+.4f}]")
        if report.style.dropped:
            print(f"  dropped (constant): {', '.join(report.style.dropped)}")
        print(format_rank_changes(report.style.changes, args.top))
    if report.robustness is not None:
        smallest = report.robustness.smallest
        total = report.robustness.n_battles
        if smallest and smallest.votes_removed is not None:
            print(
                f"\nrobustness: removing {smallest.votes_removed:,} of {total:,.0f} votes "
                f"({smallest.votes_removed / total:.3%}) makes {smallest.new_top} the top model "
                f"instead of {smallest.top_model} (verified by refitting)"
            )
        else:
            print(
                f"\nrobustness: no removal along the influence order dethroned "
                f"{report.robustness.top_model}"
            )
    if report.position is not None:
        from lmaudit.arena.position_bt import format_position_term

        print("\n" + format_position_term(report.position))
    for note in report.notes:
        print(f"note: {note}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = rank_report_to_dict(
            report,
            extra={"source": str(args.battles), "skipped_rows": [str(p) for p in battles.problems]},
        )
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        _rank_plots(report, args.plot)
    return 0


def _rank_plots(report: Any, directory: Path) -> None:
    from lmaudit.arena.plots import plot_rank_changes, plot_ratings, plot_win_matrix

    written = [
        plot_ratings(report.leaderboard, directory / "ratings.png"),
        plot_win_matrix(
            report.leaderboard, report.win_probabilities, directory / "win_probabilities.png"
        ),
    ]
    if report.style is not None:
        written.append(
            plot_ratings(report.style.leaderboard, directory / "ratings_style_control.png")
        )
        written.append(
            plot_rank_changes(report.style.changes, directory / "rank_change_style_control.png")
        )
    print("wrote " + ", ".join(str(p) for p in written))


def run_judge(args: argparse.Namespace) -> int:
    from lmaudit.arena.battles import read_battles
    from lmaudit.arena.families import parse_family_mapping
    from lmaudit.arena.judge_agreement import format_judges_agreement
    from lmaudit.arena.judge_report import evaluate_judges, format_judge_report
    from lmaudit.arena.judges import read_outputs, run_judge
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.types import GenerationParams, LmauditError

    outputs = [read_outputs(path) for path in args.outputs]
    human = read_battles(args.human) if args.human else None
    if len(set(args.judge)) != len(args.judge):
        raise LmauditError(f"a judge is named twice: {args.judge}")
    judgments: dict[str, Any] = {}
    for spec in args.judge:
        backend = load_backend(
            spec, {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device}
        )
        judgments[spec] = run_judge(
            backend,
            outputs,
            baseline=args.baseline,
            params=GenerationParams(max_tokens=args.max_tokens, temperature=0.0),
        )
    reports, agreement = evaluate_judges(
        judgments,
        outputs,
        baseline=args.baseline,
        human=human,
        strong_weight=args.strong_weight,
        bootstrap=args.bootstrap,
        seed=args.seed,
        families=parse_family_mapping(args.family),
    )
    print("\n\n".join(format_judge_report(report) for report in reports))
    if agreement is not None:
        print("\n" + format_judges_agreement(agreement))
    if args.battles_out:
        import pandas as pd

        args.battles_out.parent.mkdir(parents=True, exist_ok=True)
        frames = [report.battles.frame.drop(columns=["location"]) for report in reports]
        pd.concat(frames, ignore_index=True).to_json(args.battles_out, orient="records", lines=True)
        print(f"wrote {args.battles_out}")
    if args.json:
        from lmaudit.arena.export import clean

        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = (
            reports[0].to_dict()
            if agreement is None
            else {"judges": [r.to_dict() for r in reports], "judge_agreement": agreement}
        )
        args.json.write_text(json.dumps(clean(payload), indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        from lmaudit.arena.plots import plot_ratings

        for i, report in enumerate(reports):
            name = "judge_ratings.png" if len(reports) == 1 else f"judge_ratings_{i + 1}.png"
            print(f"wrote {plot_ratings(report.leaderboard, args.plot / name)}")
    return 0
