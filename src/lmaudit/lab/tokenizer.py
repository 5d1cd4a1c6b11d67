"""A byte-level BPE tokenizer trained on the lab corpus, saved in Hugging Face format.

GPT-2 conventions: byte-level pre-tokenization without an added prefix space, one special
token `<|endoftext|>` that serves as BOS, EOS, pad and unknown token, and no special tokens
added automatically when encoding. Training documents are joined as
`<|endoftext|> doc <|endoftext|> doc ...`, so a document is scored best with
`<|endoftext|>` as its first context token (lm-evaluation-harness does this for GPT-2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

END_OF_TEXT = "<|endoftext|>"


def train_byte_level_bpe(documents: Iterable[str], vocab_size: int) -> PreTrainedTokenizerBase:
    """Train a byte-level BPE of at most `vocab_size` tokens (256 bytes + 1 special + merges).

    Deterministic for a given document sequence. Returns a fast Hugging Face tokenizer that
    `save_pretrained` writes and `AutoTokenizer.from_pretrained` loads back.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    minimum = 256 + 1
    if vocab_size < minimum:
        raise ValueError(f"vocab_size must be at least {minimum} (bytes + {END_OF_TEXT})")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(documents, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
        add_bos_token=False,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
    )
    wrapped.model_max_length = 1_000_000
    return wrapped


def end_of_text_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id of `<|endoftext|>` in a lab tokenizer."""
    token_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    if not isinstance(token_id, int):
        raise TypeError(f"tokenizer maps {END_OF_TEXT} to {token_id!r}, not one id")
    return token_id
