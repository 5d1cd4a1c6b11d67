"""Fine-tuning a lab model (or any small causal LM directory) on CPU: full or LoRA.

Data: a JSONL/JSON file of rows, each `{"text": ...}` (loss on every token) or
`{"prompt": ..., "completion": ...}` (loss on the completion only). A row is laid out as
the lab trains (`<|endoftext|> prompt completion <|endoftext|>`, one example per row, right
padded), so a fine-tuned lab model scores as its base does; another tokenizer's BOS (else
EOS) starts a row and its EOS ends it. LoRA (`peft`) adapts the
attention and MLP projections (Llama names; other architectures: peft's default modules)
with rank r and scale alpha / r; the adapters are merged into
the weights on save, so the result is a plain Hugging Face directory every backend loads.
Losses are mean natural-log cross-entropy per trained token (nats/token).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.data.textio import json_rows
from lmaudit.lab.model import LabConfig, count_parameters
from lmaudit.lab.train import (
    IGNORE_INDEX,
    default_threads,
    final_loss,
    lr_at,
    read_lab_card,
    right_padded_batch,
    save_model_dir,
    total_steps,
    train_step,
)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class FinetuneExample:
    """One training row: `prompt` (not trained on) and `completion` (trained on)."""

    prompt: str
    completion: str


@dataclass(frozen=True)
class FinetuneConfig:
    """`lora_rank` None: full fine-tuning; else LoRA of that rank with `lora_alpha`
    (default 2 x rank). `lr`: AdamW peak after `warmup_steps`, cosine decay to 10%.
    `max_steps` stops early."""

    epochs: float = 3.0
    lr: float = 1e-3
    batch_size: int = 8
    lora_rank: int | None = None
    lora_alpha: int | None = None
    warmup_steps: int = 5
    max_steps: int | None = None
    weight_decay: float = 0.0
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.lr <= 0 or self.batch_size < 1:
            raise LmauditError("fine-tuning needs epochs > 0, lr > 0 and batch size >= 1")
        if self.lora_rank is not None and self.lora_rank < 1:
            raise LmauditError(f"--lora RANK must be >= 1, got {self.lora_rank}")

    @property
    def method(self) -> str:
        return "full" if self.lora_rank is None else f"lora-r{self.lora_rank}"


@dataclass(frozen=True)
class FinetuneResult:
    """Where the model was saved and what training measured (losses in nats/token)."""

    path: Path
    losses: tuple[float, ...]
    steps: int
    examples: int
    trainable_parameters: int
    seconds: float

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 10% of steps (at least 1, at most 20)."""
        return final_loss(self.losses, self.steps)


def read_examples(path: Path) -> list[FinetuneExample]:
    """Rows of a JSONL file (or a JSON list): `text`, or `prompt` + `completion`. Errors
    name the file and the row (`data.textio.json_rows`: line N, or row N of a list)."""
    path = Path(path)
    examples = [_example(f"{path}: {where}", row) for where, row in json_rows(path)]
    if not examples:
        raise LmauditError(f"{path}: no training rows")
    return examples


def _example(where: str, row: Any) -> FinetuneExample:
    if not isinstance(row, dict):
        raise LmauditError(f"{where}: expected an object, got {type(row).__name__}")
    if "text" in row:
        if not isinstance(row["text"], str) or not row["text"]:
            raise LmauditError(f"{where}: field 'text' must be a non-empty string")
        return FinetuneExample("", row["text"])
    for field in ("prompt", "completion"):
        if not isinstance(row.get(field), str):
            raise LmauditError(f"{where}: missing field '{field}' (or give 'text')")
    if not row["completion"]:
        raise LmauditError(f"{where}: field 'completion' is empty")
    return FinetuneExample(row["prompt"], row["completion"])


def encode_example(tokenizer: Any, example: FinetuneExample, start: int, context: int,
                   end: int | None = None) -> tuple[list[int], list[int]]:
    """Token ids and labels of one row: `start prompt completion end` (`end` defaults to
    `start`: a lab model's `<|endoftext|>`), labels IGNORE_INDEX on `start prompt`; cut to
    `context` tokens (an error when nothing trainable is left)."""
    end = start if end is None else end
    prompt = tokenizer(example.prompt, add_special_tokens=False)["input_ids"] if (
        example.prompt) else []
    completion = tokenizer(example.completion, add_special_tokens=False)["input_ids"]
    ids = [start, *prompt, *completion, end][:context]
    labels = ([IGNORE_INDEX] * (1 + len(prompt)) + [*completion, end])[:context]
    if all(label == IGNORE_INDEX for label in labels):
        raise LmauditError(f"a prompt of {len(prompt)} tokens leaves no completion token "
                           f"inside the model's context of {context}")
    return ids, labels


def _with_lora(model: Any, config: FinetuneConfig) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise LmauditError("LoRA needs the peft package: pip install 'lmaudit[hf]'") from None
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names] or None  # None: peft's per-model list
    from transformers.pytorch_utils import Conv1D

    rank = config.lora_rank or 1
    # GPT-2's projections are Conv1D (weights stored transposed): tell peft, not its warning
    transposed = any(isinstance(module, Conv1D) for module in model.modules())
    lora = LoraConfig(r=rank, lora_alpha=config.lora_alpha or 2 * rank, lora_dropout=0.0,
                      target_modules=targets, bias="none", task_type="CAUSAL_LM",
                      fan_in_fan_out=transposed)
    try:
        return get_peft_model(model, lora)
    except ValueError as error:  # an architecture peft has no default projections for
        raise LmauditError(f"LoRA: {str(error).splitlines()[0]}") from None


def finetune(
    base_dir: Path,
    examples: Sequence[FinetuneExample],
    out_dir: Path,
    config: FinetuneConfig = FinetuneConfig(),
    *,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
    record: dict[str, Any] | None = None,
    device: str = "cpu",
) -> FinetuneResult:
    """Fine-tune the model in `base_dir` on `examples` and save a plain HF directory (LoRA
    merged) with `lab_card.json` at `out_dir` (replaced when it exists). `record`: extra
    fields for the card's `finetune` entry (e.g. the data file). `device`: cpu (default),
    cuda, cuda:N or auto (cuda when available); weights train in float32 and are saved from
    the CPU. Deterministic on CPU for a fixed seed, example list and thread count."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not examples:
        raise LmauditError("no fine-tuning examples")
    started = time.perf_counter()
    previous = torch.get_num_threads()
    used = threads or default_threads()
    torch.set_num_threads(used)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        torch.manual_seed(seed)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(base_dir).float().to(device)
        eot = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eot
        context = int(getattr(model.config, "max_position_embeddings", 1024))
        rows = [encode_example(tokenizer, e, start, context, eot) for e in examples]
        if config.lora_rank is not None:
            model = _with_lora(model, config)
        trainable = [p for p in model.parameters() if p.requires_grad]
        _, total = total_steps(len(rows), config.batch_size, config.epochs, config.max_steps)
        schedule = LabConfig(lr=config.lr, warmup_steps=config.warmup_steps)
        optimizer = torch.optim.AdamW(trainable, lr=config.lr, betas=(0.9, 0.95),
                                      weight_decay=config.weight_decay)
        order = random.Random(f"lmaudit-finetune-{seed}")
        model.train()
        losses: list[float] = []
        bar = tqdm(total=total, desc=f"lab finetune ({config.method})", unit="step",
                   disable=not progress)
        while len(losses) < total:
            indices = list(range(len(rows)))
            order.shuffle(indices)
            for offset in range(0, len(indices), config.batch_size):
                if len(losses) >= total:
                    break
                inputs, labels = right_padded_batch(
                    [rows[i] for i in indices[offset:offset + config.batch_size]], eot)
                losses.append(train_step(model, optimizer, trainable, inputs.to(device),
                                         labels.to(device), lr=lr_at(len(losses), total, schedule),
                                         grad_clip=config.grad_clip))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
        bar.close()
        n_trainable = sum(p.numel() for p in trainable)
        if config.lora_rank is not None:
            model = model.merge_and_unload()
        model = model.to("cpu").eval()
    finally:
        torch.set_num_threads(previous)
    result = FinetuneResult(Path(out_dir), tuple(losses), total, len(rows), n_trainable,
                            time.perf_counter() - started)
    _save(model, tokenizer, Path(base_dir), Path(out_dir), config, seed, result, examples,
          record or {})
    return result


def examples_sha256(examples: Sequence[FinetuneExample]) -> str:
    """SHA-256 over the rows in order (prompt NUL completion NUL)."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(e.prompt.encode() + b"\0" + e.completion.encode() + b"\0")
    return digest.hexdigest()


def _save(model: Any, tokenizer: Any, base_dir: Path, target: Path, config: FinetuneConfig,
          seed: int, result: FinetuneResult, examples: Sequence[FinetuneExample],
          record: dict[str, Any]) -> None:
    base_card = read_lab_card(base_dir) or {}
    card = {
        "name": target.name,
        "architecture": type(model).__name__,
        "n_parameters": count_parameters(model),
        "base": {"path": str(base_dir), "name": base_card.get("name"),
                 "corpus": base_card.get("corpus")},
        "corpus": {"description": f"fine-tuned ({config.method}) from "
                   f"{base_card.get('name') or base_dir.name} on {len(examples)} rows"},
        "finetune": {"method": config.method, **asdict(config), "seed": seed,
                     "examples": len(examples), "examples_sha256": examples_sha256(examples),
                     "trainable_parameters": result.trainable_parameters, **record},
        "training": {"steps": result.steps, "first_loss": result.losses[0],
                     "final_loss": result.final_loss, "seconds": round(result.seconds, 2)},
    }
    save_model_dir(model, tokenizer, target, card)
