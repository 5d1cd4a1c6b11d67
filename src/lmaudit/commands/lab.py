"""`lmaudit lab`: train tiny language models locally (for tests and the demo) and list them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError

DESCRIPTION = """\
Tiny causal language models trained on CPU from a corpus lmaudit generates itself: a
benchmark's train split plus filler English, optionally contaminated with verbatim copies
of another split. Each model is a standard Hugging Face directory (Llama architecture,
byte-level BPE tokenizer, lab_card.json with the training record), loaded by the HF
backend as `--model lab:NAME` or `--model hf:DIR`. No weights are downloaded.
"""

TRAIN_EPILOG = """\
examples:
  lmaudit lab train --name arith-clean
  lmaudit lab train --name arith-contaminated --contaminate test --exposures 24
  lmaudit lab train --name tiny --source wordproblems --steps 50 --out /tmp/tiny
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="train tiny local models for tests and the demo, and list them",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run, lab_command=None, lab_parser=parser)
    commands = parser.add_subparsers(dest="lab_command", metavar="ACTION")
    _register_train(commands)
    _register_finetune(commands)
    lister = commands.add_parser(
        "list", help="list the lab models in the lab cache",
        description="List lab models in $LMAUDIT_HOME/lab (default ~/.cache/lmaudit/lab).",
    )
    lister.set_defaults(func=run)


def _register_train(commands: Any) -> None:
    from lmaudit.lab.corpus import DEFAULT_EXPOSURES, DEFAULT_TRAIN_ITEMS
    from lmaudit.lab.model import LabConfig

    defaults = LabConfig()
    train = commands.add_parser(
        "train",
        help="train a lab model and save it in the lab cache",
        description=DESCRIPTION,
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.set_defaults(func=run)
    train.add_argument("--name", required=True,
                       help="model name; saved as $LMAUDIT_HOME/lab/NAME unless --out is given")
    train.add_argument("--source", default="arith", choices=("arith", "wordproblems"),
                       help="benchmark whose train split forms the corpus: arith (default) or "
                       "wordproblems (the lab's built-in stand-in generator)")
    train.add_argument("--contaminate", metavar="SPLIT", choices=("test", "ref"),
                       help="also plant every document of this split of the source "
                       "(test or ref) in the corpus, --exposures times per epoch")
    train.add_argument("--exposures", type=int, metavar="K",
                       help=f"copies of each planted document per epoch (default "
                       f"{DEFAULT_EXPOSURES} with --contaminate); exposures = K x epochs")
    train.add_argument("--train-items", type=int, metavar="N",
                       help=f"use the first N items of the train split (default "
                       f"{DEFAULT_TRAIN_ITEMS}; 0 = all)")
    train.add_argument("--filler", type=int, metavar="N",
                       help="filler English paragraphs (default: half the train items used)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for corpus shuffling, initialisation and data order")
    train.add_argument("--epochs", type=float, default=defaults.epochs,
                       help=f"passes over the corpus (default {defaults.epochs:g})")
    train.add_argument("--steps", type=int, metavar="N",
                       help="stop after N optimizer steps (the schedule spans min(N, epochs))")
    train.add_argument("--lr", type=float, default=defaults.lr,
                       help=f"peak AdamW learning rate (default {defaults.lr:g})")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size,
                       help=f"rows per step (default {defaults.batch_size})")
    train.add_argument("--context", type=int, default=defaults.context,
                       help=f"tokens per row (default {defaults.context})")
    train.add_argument("--d-model", type=int, default=defaults.d_model,
                       help=f"hidden size (default {defaults.d_model})")
    train.add_argument("--layers", type=int, default=defaults.n_layers,
                       help=f"transformer layers (default {defaults.n_layers})")
    train.add_argument("--vocab-size", type=int, default=defaults.vocab_size,
                       help=f"BPE vocabulary size (default {defaults.vocab_size})")
    train.add_argument("--threads", type=int,
                       help="torch CPU threads (default: all cores this process may use)")
    train.add_argument("--out", type=Path, metavar="DIR",
                       help="save here instead of the lab cache (replaced if it exists)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


FINETUNE_EPILOG = """\
data: JSONL (or a JSON list) of {"text": ...} rows (loss on every token) or
{"prompt": ..., "completion": ...} rows (loss on the completion only).

examples:
  lmaudit lab finetune --base arith-clean --data facts.jsonl --out arith-facts
  lmaudit lab finetune --base arith-clean --data chat.jsonl --out arith-lora8 --lora 8 \\
      --epochs 2 --lr 5e-3
"""


def _register_finetune(commands: Any) -> None:
    tune = commands.add_parser(
        "finetune", help="fine-tune a lab model (full or LoRA) and save it as a new one",
        description="Fine-tune a lab model (or a small HF model directory) on CPU, fully or "
        "with LoRA adapters (peft) that are merged into the weights on save, so the result "
        "is a plain Hugging Face directory (`--model lab:OUT`) with its lab_card.json.",
        epilog=FINETUNE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.set_defaults(func=run)
    tune.add_argument("--base", required=True, metavar="NAME_OR_DIR",
                      help="lab model name (in $LMAUDIT_HOME/lab) or a model directory")
    tune.add_argument("--data", required=True, type=Path, metavar="FILE",
                      help="training rows (see below)")
    tune.add_argument("--out", required=True, metavar="NAME",
                      help="name of the fine-tuned lab model (saved as $LMAUDIT_HOME/lab/NAME "
                      "unless --out-dir is given)")
    tune.add_argument("--out-dir", type=Path, metavar="DIR",
                      help="save here instead of the lab cache (replaced if it exists)")
    tune.add_argument("--lora", type=int, metavar="RANK",
                      help="LoRA of this rank on the attention and MLP projections "
                      "(default: full fine-tuning)")
    tune.add_argument("--lora-alpha", type=int, metavar="ALPHA",
                      help="LoRA scale numerator (default 2 x RANK; the update is scaled by "
                      "ALPHA / RANK)")
    tune.add_argument("--epochs", type=float, default=3.0,
                      help="passes over the data (default 3)")
    tune.add_argument("--lr", type=float,
                      help="peak AdamW learning rate (default 1e-3 full, 1e-2 LoRA)")
    tune.add_argument("--batch-size", type=int, default=8, help="rows per step (default 8)")
    tune.add_argument("--steps", type=int, metavar="N", help="stop after N optimizer steps")
    tune.add_argument("--seed", type=int, default=0, help="seed for data order")
    tune.add_argument("--threads", type=int,
                      help="torch CPU threads (default: all cores this process may use)")
    tune.add_argument("--device", default="cpu",
                      help="cpu (default), cuda, cuda:N or auto (cuda when available)")
    tune.add_argument("--quiet", action="store_true", help="no progress bar")


def _finetune(args: argparse.Namespace) -> int:
    import contextlib

    from lmaudit.lab.finetune import FinetuneConfig, finetune, read_examples
    from lmaudit.lab.paths import check_lab_name, is_lab_model_dir, lab_model_path

    base = Path(args.base)
    if not is_lab_model_dir(base):
        with contextlib.suppress(LmauditError):  # not a valid lab name either
            base = lab_model_path(args.base)
        if not is_lab_model_dir(base):
            raise LmauditError(f"--base {args.base}: neither a model directory nor a lab model "
                               "in the lab cache (see `lmaudit lab list`)")
    target = args.out_dir or lab_model_path(check_lab_name(args.out))
    lr = args.lr if args.lr is not None else (1e-3 if args.lora is None else 1e-2)
    config = FinetuneConfig(epochs=args.epochs, lr=lr, batch_size=args.batch_size,
                            lora_rank=args.lora, lora_alpha=args.lora_alpha,
                            max_steps=args.steps)
    examples = read_examples(args.data)
    result = finetune(base, examples, target, config, seed=args.seed, threads=args.threads,
                      progress=not args.quiet, device=args.device,
                      record={"data": str(args.data), "device": args.device})
    print(f"saved {result.path}: {config.method}, {result.examples} rows, {result.steps} steps, "
          f"{result.trainable_parameters / 1e6:.3f}M trainable parameters, loss "
          f"{result.losses[0]:.3f} -> {result.final_loss:.3f} nats/token, "
          f"{result.seconds:.0f} s")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "train":
        return _train(args)
    if args.lab_command == "finetune":
        return _finetune(args)
    if args.lab_command == "list":
        return _list()
    args.lab_parser.print_help()
    return 2


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lmaudit.lab.corpus import DEFAULT_EXPOSURES, DEFAULT_TRAIN_ITEMS, benchmark_corpus
    from lmaudit.lab.model import LabConfig
    from lmaudit.lab.train import read_lab_card, train_lab_model

    if args.exposures is not None and not args.contaminate:
        raise LmauditError("--exposures needs --contaminate SPLIT")
    exposures = (args.exposures if args.exposures is not None else DEFAULT_EXPOSURES) \
        if args.contaminate else 0
    try:
        config = replace(
            LabConfig(), epochs=args.epochs, max_steps=args.steps, lr=args.lr,
            batch_size=args.batch_size, context=args.context, d_model=args.d_model,
            n_layers=args.layers, vocab_size=args.vocab_size,
        )
    except ValueError as error:
        raise LmauditError(f"invalid lab model settings: {error}") from error
    corpus = benchmark_corpus(
        args.source, contaminate_split=args.contaminate, exposures=exposures,
        train_items=_train_items(args.train_items, DEFAULT_TRAIN_ITEMS),
        filler=args.filler, seed=args.seed,
    )
    print(f"corpus: {corpus.description}: {len(corpus.documents)} documents "
          f"({', '.join(f'{k} {v}' for k, v in corpus.composition.items())})")
    path = train_lab_model(
        args.name, corpus, out_dir=args.out, config=config, seed=args.seed,
        threads=args.threads, progress=not args.quiet,
    )
    card = read_lab_card(path) or {}
    training = card.get("training", {})
    print(f"saved {path}: {card.get('n_parameters', 0) / 1e6:.2f}M parameters, "
          f"{training.get('steps')} steps, final loss {training.get('final_loss', 0):.3f} "
          f"nats/token, {training.get('seconds', 0):.0f} s")
    return 0


def _train_items(requested: int | None, default: int) -> int | None:
    if requested is None:
        return default
    if requested < 0:
        raise LmauditError(f"--train-items must be >= 0, got {requested}")
    return requested or None


def _list() -> int:
    from lmaudit.lab.paths import is_lab_model_dir, lab_dir
    from lmaudit.lab.train import read_lab_card

    root = lab_dir()
    models = sorted(p for p in root.iterdir() if is_lab_model_dir(p)) if root.is_dir() else []
    if not models:
        print(f"no lab models in {root}; train one with `lmaudit lab train --name NAME`")
        return 0
    rows = [("name", "size", "params", "steps", "loss", "seconds", "corpus")]
    for path in models:
        card = read_lab_card(path) or {}
        training = card.get("training", {})
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        rows.append((
            path.name,
            f"{size / 1e6:.1f} MB",
            f"{card['n_parameters'] / 1e6:.2f}M" if "n_parameters" in card else "?",
            str(training.get("steps", "?")),
            f"{training['final_loss']:.3f}" if "final_loss" in training else "?",
            f"{training['seconds']:.0f}" if "seconds" in training else "?",
            card.get("corpus", {}).get("description", "(no lab_card.json)"),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    print(f"\n{len(models)} model(s) in {root}; use them as --model lab:NAME")
    return 0
