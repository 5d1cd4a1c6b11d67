"""The lab model: a small Llama-architecture causal transformer built from `LabConfig`.

Any `transformers` install loads it back with `AutoModelForCausalLM.from_pretrained(dir)`;
nothing about it is custom code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class LabConfig:
    """Model size and training schedule of a lab model.

    `context` is the sequence length in tokens (documents are packed into rows of that
    length, never split unless longer than a row). `epochs` passes over the corpus; when
    `max_steps` is set, training stops there even mid-epoch. `lr` is the AdamW peak rate,
    reached after `warmup_steps` and decayed by a cosine to `lr * final_lr_fraction`.
    """

    vocab_size: int = 1024
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 384
    context: int = 128
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 16
    lr: float = 6e-3
    warmup_steps: int = 20
    final_lr_fraction: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.context < 8 or self.batch_size < 1 or self.epochs <= 0:
            raise ValueError("context must be >= 8, batch_size >= 1 and epochs > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(config: LabConfig, vocab_size: int, end_of_text_id: int) -> PreTrainedModel:
    """A freshly initialised model (initialisation draws from torch's global RNG)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    model_config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=config.d_model,
        intermediate_size=config.d_ff,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_heads,
        max_position_embeddings=config.context,
        tie_word_embeddings=True,
        bos_token_id=end_of_text_id,
        eos_token_id=end_of_text_id,
        pad_token_id=end_of_text_id,
        use_cache=True,
    )
    return LlamaForCausalLM(model_config)


def count_parameters(model: Any) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
