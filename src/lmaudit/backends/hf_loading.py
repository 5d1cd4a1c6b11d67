"""Loading a Hugging Face causal LM and identifying it (dtype, max length, revision)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lmaudit.core.types import LmauditError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_MAX_LENGTH = 2048  # as lm-evaluation-harness, when neither config nor tokenizer says
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    source: str  # hub id, or the absolute directory
    local_dir: Path | None
    dtype: str
    device: torch.device


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(error).__name__


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise LmauditError(f"unknown device {device!r}: use cpu, cuda or auto")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LmauditError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def resolve_dtype(dtype: str, config: Any, device: torch.device) -> str:
    """`auto` takes the checkpoint's dtype, except float32 on CPU for half-precision weights."""
    if dtype != "auto":
        if dtype not in DTYPES:
            raise LmauditError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
        return dtype
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(stored).removeprefix("torch.") if stored is not None else "float32"
    if name not in DTYPES or device.type == "cpu":
        return "float32"
    return name


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def load(
    model: str,
    *,
    dtype: str,
    device: str,
    revision: str | None,
    trust_remote_code: bool,
) -> LoadedModel:
    """Load tokenizer and model; every failure becomes a one-line LmauditError."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    local_dir: Path | None = None
    source = model
    if _looks_like_path(model):
        local_dir = Path(model).expanduser().resolve()
        if not local_dir.is_dir():
            raise LmauditError(f"model directory {model!r} does not exist")
        source = str(local_dir)
    target = resolve_device(device)
    options: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except Exception as error:
        raise LmauditError(f"cannot load model {model!r}: {_one_line(error)}") from error
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
    except Exception as error:
        raise LmauditError(
            f"cannot load the tokenizer of model {model!r}: {_one_line(error)}"
        ) from error
    if not _has_vocabulary(tokenizer):
        raise LmauditError(f"model {model!r} has no tokenizer (no tokenizer files found)")
    resolved = resolve_dtype(dtype, config, target)
    try:
        weights: Any = AutoModelForCausalLM.from_pretrained(
            source, config=config, **_dtype_kwarg(DTYPES[resolved]), **options
        )
    except Exception as error:
        raise LmauditError(f"cannot load model {model!r}: {_one_line(error)}") from error
    weights.to(target)
    weights.eval()
    return LoadedModel(weights, tokenizer, source, local_dir, resolved, target)


def _has_vocabulary(tokenizer: Any) -> bool:
    """False for the empty placeholder tokenizer transformers builds when files are missing."""
    if not callable(getattr(tokenizer, "encode", None)):
        return False
    specials = len(set(getattr(tokenizer, "all_special_ids", []) or []))
    return bool(getattr(tokenizer, "vocab_size", 0)) and len(tokenizer) > specials


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, Any]:
    """transformers >= 4.56 calls it `dtype`; older releases `torch_dtype`."""
    import transformers

    major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def max_length_of(model: Any, tokenizer: Any) -> int:
    """Longest input the model takes: config positions, else tokenizer limit, else 2048."""
    config = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000_000:
        return limit
    return DEFAULT_MAX_LENGTH


def weights_digest(directory: Path) -> str:
    """First 16 hex digits of SHA-256 over the weight files (name and bytes, sorted by name)."""
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)
    )
    if not files:
        raise LmauditError(f"model directory {str(directory)!r} holds no weight files")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def hub_commit(model_id: str, revision: str | None, config: Any) -> str | None:
    """The hub commit sha of a loaded hub model, from the config or the local hub cache."""
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    commit = getattr(config, "_commit_hash", None)
    if isinstance(commit, str) and commit:
        return commit
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(model_id, "config.json", revision=revision)
    if isinstance(cached, str):
        match = re.search(r"snapshots/([0-9a-f]{40})/", cached)
        if match:
            return match.group(1)
    return None
