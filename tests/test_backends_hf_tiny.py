"""Tiny random causal LMs with a real trained BPE tokenizer, saved like hub checkpoints.

Imported by the other tests/test_backends_hf_*.py files. Nothing is downloaded: the byte-level
BPE tokenizer is trained here on a small corpus; model weights are random with a large
initializer range so that outputs depend strongly on context and position.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CORPUS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Question: What colour is the sky? Answer: blue, mostly, unless it rains.",
    "A quick brown fox jumps over the lazy dog while the cat sleeps.",
    "Numbers: 1 2 3 4 5 6 7 8 9 10 11 12 and 3.14 or 2.718.",
    "Multiple choice questions have options A, B, C and D; pick one.",
    "Language models assign probabilities to sequences of tokens.",
    "def add(a, b):\n    return a + b\n",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tokenizer(style: str) -> object:
    """A PreTrainedTokenizerFast: `gpt2` style (EOS only) or `llama` style (BOS prepended)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>"] if style == "gpt2" else ["<s>", "</s>", "<unk>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer=trainer)
    if style == "gpt2":
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
        )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(directory: Path, arch: str, *, n_positions: int = 128, seed: int = 0) -> Path:
    """Save a random `gpt2` or `llama` model plus tokenizer to `directory`; return it."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer("gpt2" if arch == "gpt2" else "llama")
    vocab = len(tokenizer)  # type: ignore[arg-type]
    torch.manual_seed(seed)
    if arch == "gpt2":
        config = GPT2Config(
            vocab_size=vocab,
            n_positions=n_positions,
            n_embd=32,
            n_layer=2,
            n_head=2,
            initializer_range=0.3,
            bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
            eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
        )
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=n_positions,
            initializer_range=0.3,
            bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
            eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
            tie_word_embeddings=False,
        )
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)  # type: ignore[attr-defined]
    return directory


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("gpt2"), "gpt2")


def test_gpt2_style_tokenizer_adds_no_bos_and_round_trips(gpt2_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gpt2_dir)
    ids = tok.encode("The capital of France is Paris.")
    assert tok.bos_token_id not in ids
    assert tok.decode(ids) == "The capital of France is Paris."


def test_llama_style_tokenizer_prepends_bos(tmp_path: Path) -> None:
    tok = train_tokenizer("llama")
    ids = tok.encode("The sky is blue")  # type: ignore[attr-defined]
    assert ids[0] == tok.bos_token_id  # type: ignore[attr-defined]
    assert tok.encode("The sky", add_special_tokens=False)[0] != tok.bos_token_id  # type: ignore[attr-defined]
