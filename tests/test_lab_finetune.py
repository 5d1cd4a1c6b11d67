"""`lmaudit lab finetune`: data rows, label masking, full and LoRA fine-tuning of a tiny lab
model (LoRA merged on save: a plain HF directory), and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from lmaudit.cli import main  # noqa: E402
from lmaudit.core.types import LmauditError  # noqa: E402
from lmaudit.lab.finetune import (  # noqa: E402
    FinetuneConfig,
    FinetuneExample,
    encode_example,
    finetune,
    read_examples,
)
from lmaudit.lab.model import LabConfig  # noqa: E402
from lmaudit.lab.train import IGNORE_INDEX, train_lab_model  # noqa: E402

TINY = LabConfig(vocab_size=300, d_model=32, n_layers=2, n_heads=2, d_ff=64, context=48,
                 batch_size=4, max_steps=3, warmup_steps=1, lr=1e-2)
DOCS = [f"Mira lives in the town of Pelling number {n}." for n in range(30)]
ROWS = [FinetuneExample("Bo lives in the town of", " Astor."),
        FinetuneExample("", "A plain sentence to learn.")]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "base"
    return train_lab_model("base", DOCS, out_dir=out, config=TINY, threads=1, progress=False)


def test_read_examples_names_file_and_row(tmp_path: Path) -> None:
    good = tmp_path / "d.jsonl"
    good.write_text('{"prompt": "a", "completion": " b"}\n\n{"text": "c"}\n')
    assert read_examples(good) == [FinetuneExample("a", " b"), FinetuneExample("", "c")]
    listed = tmp_path / "d.json"
    listed.write_text('[{"text": "x"}]')
    assert read_examples(listed) == [FinetuneExample("", "x")]
    separator = tmp_path / "u2028.jsonl"  # a raw U+2028 inside a JSON string is one line
    separator.write_text('{"text": "a\u2028b"}\n', encoding="utf-8")
    assert read_examples(separator) == [FinetuneExample("", "a\u2028b")]
    for text, message in [('{"prompt": "a"}\n', "line 1: missing field 'completion'"),
                          ('{"text": "a"}\n{"text": ""}\n', "line 2: field 'text' must be"),
                          ("{oops\n", "line 1: malformed JSON"), ("", "no training rows"),
                          ("[1,\n", "malformed JSON"), ("[3]", "row 1: expected an object")]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        with pytest.raises(LmauditError, match=r"bad\.jsonl") as error:
            read_examples(bad)
        assert message in str(error.value)
    latin = tmp_path / "latin.jsonl"  # not UTF-8: one line naming the file, no traceback
    latin.write_bytes('{"text": "café"}\n'.encode("latin-1"))
    with pytest.raises(LmauditError, match=r"latin\.jsonl: not UTF-8 text"):
        read_examples(latin)


def test_only_the_completion_is_trained_on(base: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    ids, labels = encode_example(tokenizer, ROWS[0], 0, 48)
    prompt = tokenizer("Bo lives in the town of", add_special_tokens=False)["input_ids"]
    completion = tokenizer(" Astor.", add_special_tokens=False)["input_ids"]
    assert ids == [0, *prompt, *completion, 0]
    assert labels == [IGNORE_INDEX] * (1 + len(prompt)) + [*completion, 0]
    with pytest.raises(LmauditError, match="no completion token"):
        encode_example(tokenizer, FinetuneExample("word " * 60, " x"), 0, 48)


def test_full_finetuning_learns_and_saves_a_lab_directory(base: Path, tmp_path: Path) -> None:
    config = FinetuneConfig(epochs=30, lr=5e-3, batch_size=2, warmup_steps=2)
    result = finetune(base, ROWS, tmp_path / "full", config, threads=1, progress=False)
    assert result.steps == 30 and result.final_loss < result.losses[0] / 2
    model = transformers.AutoModelForCausalLM.from_pretrained(result.path)
    base_model = transformers.AutoModelForCausalLM.from_pretrained(base)
    assert result.trainable_parameters == sum(p.numel() for p in base_model.parameters())
    assert not torch.equal(model.model.embed_tokens.weight, base_model.model.embed_tokens.weight)
    card = json.loads((result.path / "lab_card.json").read_text())
    assert card["finetune"]["method"] == "full" and card["finetune"]["examples"] == 2
    assert card["base"]["name"] == "base" and card["training"]["steps"] == 30


def test_lora_trains_r_times_in_plus_out_per_projection_and_merges(base: Path,
                                                                   tmp_path: Path) -> None:
    config = FinetuneConfig(epochs=30, lr=2e-2, batch_size=2, lora_rank=2, warmup_steps=2)
    result = finetune(base, ROWS, tmp_path / "lora", config, threads=1, progress=False)
    # per layer: q,k,v,o 32->32 (r * 64 each), gate, up 32->64 and down 64->32 (r * 96 each)
    assert result.trainable_parameters == 2 * (4 * 2 * 64 + 3 * 2 * 96)
    assert result.final_loss < result.losses[0]
    assert not (result.path / "adapter_config.json").exists()  # merged: a plain directory
    model = transformers.AutoModelForCausalLM.from_pretrained(result.path)
    base_model = transformers.AutoModelForCausalLM.from_pretrained(base)
    assert set(model.state_dict()) == set(base_model.state_dict())
    # LoRA leaves embeddings and norms alone and changes the adapted projections
    assert torch.equal(model.model.embed_tokens.weight, base_model.model.embed_tokens.weight)
    assert torch.equal(model.model.norm.weight, base_model.model.norm.weight)
    layer, base_layer = model.model.layers[0], base_model.model.layers[0]
    delta = layer.self_attn.q_proj.weight - base_layer.self_attn.q_proj.weight
    assert 0 < torch.linalg.matrix_rank(delta.detach()) <= 2  # a rank-2 update
    card = json.loads((result.path / "lab_card.json").read_text())
    assert card["finetune"]["method"] == "lora-r2" and card["finetune"]["lora_rank"] == 2


def test_command_line(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"prompt": "Bo lives in the town of", "completion": " Astor."}\n')
    out = tmp_path / "tuned"
    assert main(["lab", "finetune", "--base", str(base), "--data", str(data), "--out", "tuned",
                 "--out-dir", str(out), "--lora", "2", "--steps", "2", "--threads", "1",
                 "--quiet"]) == 0
    assert "lora-r2, 1 rows, 2 steps" in capsys.readouterr().out
    assert (out / "config.json").is_file() and (out / "lab_card.json").is_file()
    assert main(["lab", "finetune", "--base", str(tmp_path / "nope"), "--data", str(data),
                 "--out", "x"]) != 0
    assert "--base" in capsys.readouterr().err


def test_lora_on_a_gpt2_model_uses_peft_default_modules(tmp_path: Path) -> None:
    from test_backends_hf_tiny import build_model

    base = build_model(tmp_path / "gpt2", "gpt2")
    config = FinetuneConfig(epochs=2, lr=1e-2, batch_size=2, lora_rank=2)
    result = finetune(base, ROWS, tmp_path / "tuned", config, threads=1, progress=False)
    # peft's GPT-2 default: c_attn (32 -> 96) in each of 2 layers: r * (32 + 96)
    assert result.trainable_parameters == 2 * 2 * (32 + 96)
    model = transformers.AutoModelForCausalLM.from_pretrained(result.path)
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert not (result.path / "adapter_config.json").exists()
