"""Training a lab model on CPU: tokenizer, packing, a plain AdamW loop, and saving.

Layout the model sees (and that scoring should reproduce): each row of `context` tokens is
`<|endoftext|> doc <|endoftext|> doc <|endoftext|> ...`, whole documents only (a document
longer than a row is cut into row-sized pieces), padded at the end with positions the loss
ignores. Losses are mean natural-log cross-entropy per predicted token (nats/token).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit import __version__
from lmaudit.core.types import LmauditError
from lmaudit.lab.corpus import LabCorpus
from lmaudit.lab.model import LabConfig, build_model, count_parameters
from lmaudit.lab.paths import check_lab_name, lab_model_path
from lmaudit.lab.tokenizer import END_OF_TEXT, end_of_text_id, train_byte_level_bpe

CARD_NAME = "lab_card.json"
IGNORE_INDEX = -100
DEFAULT_CONFIG = LabConfig()


def pack_rows(
    token_docs: Sequence[Sequence[int]], context: int, eot: int, lookback: int = 8
) -> list[list[int]]:
    """Pack tokenized documents into rows of at most `context` tokens, first fit.

    Each row starts with `eot` and each document is followed by `eot`. A document goes to
    the earliest of the last `lookback` rows that has room for it, else to a new row; it
    is cut into pieces of `context - 2` tokens only when it is longer than that. Rows come
    out in the order they were opened.
    """
    piece = context - 2
    rows: list[list[int]] = []
    for doc in token_docs:
        for start in range(0, max(len(doc), 1), piece):
            unit = [*doc[start : start + piece], eot]
            for row in rows[-lookback:]:
                if len(row) + len(unit) <= context:
                    row.extend(unit)
                    break
            else:
                rows.append([eot, *unit])
    return rows


def lr_at(step: int, total_steps: int, config: LabConfig) -> float:
    """Linear warm-up over `warmup_steps`, then cosine decay to `lr * final_lr_fraction`."""
    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(total_steps - warmup - 1, 1)
    floor = config.lr * config.final_lr_fraction
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass(frozen=True)
class TrainResult:
    """What a training run measured. `losses` holds the loss of every step (nats/token)."""

    losses: tuple[float, ...]
    steps: int
    epochs: float
    rows: int
    tokens: int
    seconds: float
    threads: int

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 10% of steps (at least 1, at most 20)."""
        return final_loss(self.losses, self.steps)


def final_loss(losses: Sequence[float], steps: int) -> float:
    """Mean of the last 10% of `steps` losses (at least 1, at most 20): a training run's
    final loss, less noisy than its last step's."""
    tail = max(1, min(20, steps // 10))
    return sum(losses[-tail:]) / tail


def total_steps(rows: int, batch_size: int, epochs: float,
                max_steps: int | None) -> tuple[int, int]:
    """(steps per epoch, steps to run): `epochs` passes over `rows` in batches of
    `batch_size` (a last partial batch counts as a step), at most `max_steps`."""
    per_epoch = math.ceil(rows / batch_size)
    total = math.ceil(epochs * per_epoch)
    return per_epoch, total if max_steps is None else min(total, max_steps)


def train_step(model: Any, optimizer: Any, parameters: Any, inputs: Any, labels: Any, *,
               lr: float, grad_clip: float) -> float:
    """One AdamW step at learning rate `lr` on a batch (gradient norm of `parameters`
    clipped to `grad_clip`); returns the batch's loss (nats/token)."""
    import torch

    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = model(input_ids=inputs, labels=labels).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()
    return float(loss.item())


def default_threads() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def train_model(
    documents: Sequence[str],
    config: LabConfig = DEFAULT_CONFIG,
    *,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> tuple[Any, Any, TrainResult]:
    """Train tokenizer and model on `documents` (in this order); returns (model, tokenizer,
    result). Deterministic on CPU for a fixed seed, document list and thread count."""
    import torch
    from tqdm import tqdm

    if not documents:
        raise LmauditError("cannot train a lab model on an empty corpus")
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    used_threads = threads or default_threads()
    torch.set_num_threads(used_threads)
    try:
        tokenizer = train_byte_level_bpe(dict.fromkeys(documents), config.vocab_size)
        tokenizer.model_max_length = config.context
        eot = end_of_text_id(tokenizer)
        encoded = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
        torch.manual_seed(seed)
        model = build_model(config, len(tokenizer), eot)
        order = random.Random(f"lmaudit-lab-order-{seed}")
        rows = pack_rows(encoded, config.context, eot)
        steps_per_epoch, total = total_steps(len(rows), config.batch_size, config.epochs,
                                             config.max_steps)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(0.9, 0.95),
            weight_decay=config.weight_decay,
        )
        model.train()
        losses: list[float] = []
        tokens = 0
        bar = tqdm(total=total, desc="lab train", unit="step", disable=not progress)
        step = 0
        while step < total:
            indices = list(range(len(encoded)))
            order.shuffle(indices)
            rows = pack_rows([encoded[i] for i in indices], config.context, eot)
            for start in range(0, len(rows), config.batch_size):
                if step >= total:
                    break
                inputs, labels = right_padded_batch(
                    [(row, row) for row in rows[start : start + config.batch_size]], eot)
                losses.append(train_step(model, optimizer, model.parameters(), inputs, labels,
                                         lr=lr_at(step, total, config),
                                         grad_clip=config.grad_clip))
                tokens += int((labels[:, 1:] != IGNORE_INDEX).sum())
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
        bar.close()
        model.eval()
    finally:
        torch.set_num_threads(previous_threads)
    result = TrainResult(
        tuple(losses), total, total / steps_per_epoch, len(rows), tokens,
        time.perf_counter() - started, used_threads,
    )
    return model, tokenizer, result


def right_padded_batch(
    rows: Sequence[tuple[Sequence[int], Sequence[int]]], pad: int
) -> tuple[Any, Any]:
    """Input ids and labels of (ids, labels) rows, right-padded to the longest: ids with
    `pad`, labels with IGNORE_INDEX (long tensors on the CPU)."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    inputs = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for k, (ids, row_labels) in enumerate(rows):
        inputs[k, : len(ids)] = torch.tensor(ids)
        labels[k, : len(row_labels)] = torch.tensor(row_labels)
    return inputs, labels


def save_model_dir(model: Any, tokenizer: Any, target: Path, card: dict[str, Any]) -> None:
    """Save `model`, `tokenizer` and `card` (as `lab_card.json`) to `target`, replacing it:
    written to `target.partial` first, then renamed, so a crash never leaves half a model."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def train_lab_model(
    name: str,
    documents: Sequence[str] | LabCorpus,
    *,
    out_dir: Path | None = None,
    config: LabConfig = DEFAULT_CONFIG,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> Path:
    """Train a lab model and save it as a Hugging Face model directory with `lab_card.json`.

    The directory defaults to `lab_model_path(name)` and is replaced when it exists. Pass a
    `LabCorpus` to record its description, composition and planted-document exposures.
    """
    check_lab_name(name)
    corpus = documents if isinstance(documents, LabCorpus) else LabCorpus(
        tuple(documents), "documents given by the caller", {"documents": len(documents)}
    )
    target = Path(out_dir) if out_dir is not None else lab_model_path(name)
    model, tokenizer, result = train_model(
        corpus.documents, config, seed=seed, threads=threads, progress=progress
    )
    card = lab_card(name, corpus, config, seed, result, count_parameters(model))
    save_model_dir(model, tokenizer, target, card)
    return target


def lab_card(
    name: str,
    corpus: LabCorpus,
    config: LabConfig,
    seed: int,
    result: TrainResult,
    n_parameters: int,
) -> dict[str, Any]:
    """The training record saved beside the weights (losses in nats/token)."""
    import hashlib

    import torch
    import transformers

    planted = [
        {
            "sha256": hashlib.sha256(doc.encode("utf-8")).hexdigest(),
            "copies_per_epoch": copies,
            "exposures": round(copies * result.epochs, 3),
        }
        for doc, copies in corpus.planted.items()
    ]
    return {
        "name": name,
        "architecture": "LlamaForCausalLM",
        "n_parameters": n_parameters,
        "config": config.to_dict(),
        "seed": seed,
        "layout": f"rows of <= {config.context} tokens: {END_OF_TEXT} doc {END_OF_TEXT} ...",
        "corpus": {
            "description": corpus.description,
            "sha256": corpus.sha256(),
            "documents": len(corpus.documents),
            "composition": dict(corpus.composition),
            "planted_documents": len(planted),
        },
        "planted": planted,
        "training": {
            "steps": result.steps,
            "epochs": round(result.epochs, 4),
            "rows_per_epoch": result.rows,
            "tokens_trained": result.tokens,
            "first_loss": result.losses[0],
            "final_loss": result.final_loss,
            "seconds": round(result.seconds, 2),
            "threads": result.threads,
        },
        "versions": {
            "lmaudit": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


def read_lab_card(directory: Path) -> dict[str, Any] | None:
    """The `lab_card.json` of a model directory, or None when it has none or it is invalid."""
    path = Path(directory) / CARD_NAME
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None
