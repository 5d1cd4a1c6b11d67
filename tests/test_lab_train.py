"""Lab training on a tiny configuration: packing, schedule, saving, loading, determinism."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from lmaudit.lab.corpus import build_lab_corpus  # noqa: E402
from lmaudit.lab.evaluate import document_losses, greedy_completions  # noqa: E402
from lmaudit.lab.model import LabConfig  # noqa: E402
from lmaudit.lab.tokenizer import END_OF_TEXT, train_byte_level_bpe  # noqa: E402
from lmaudit.lab.train import lr_at, pack_rows, train_lab_model, train_model  # noqa: E402

TINY = LabConfig(vocab_size=320, d_model=32, n_layers=2, n_heads=2, d_ff=64, context=64,
                 batch_size=4, max_steps=4, warmup_steps=2, lr=1e-2)
DOCS = [f"Question: Ava has {n} pens and buys {n + 3} more. How many?\nAnswer: {2 * n + 3}"
        for n in range(10, 40)] + ["The small dog slept near the river in the evening."] * 4


def test_pack_rows_keeps_documents_whole_and_fills_earlier_rows() -> None:
    # context 8: [0,1,2,3,0] + [4,5,0] fill row 1 exactly; [6,7,8,9,0] opens row 2;
    # [10,0] fits back in row 2 (first fit).
    rows = pack_rows([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]], context=8, eot=0)
    assert rows == [[0, 1, 2, 3, 0, 4, 5, 0], [0, 6, 7, 8, 9, 0, 10, 0]]
    # A document longer than context - 2 = 4 tokens is cut into pieces of 4.
    assert pack_rows([list(range(1, 11))], context=6, eot=0) == [
        [0, 1, 2, 3, 4, 0], [0, 5, 6, 7, 8, 0], [0, 9, 10, 0]]
    # lookback=1: only the newest row is tried, so [10] cannot go back to a full row 1.
    assert pack_rows([[1, 2, 3, 4, 5], [6, 7, 8, 9], [10]], 8, 0, lookback=1) == [
        [0, 1, 2, 3, 4, 5, 0], [0, 6, 7, 8, 9, 0, 10, 0]]


def test_learning_rate_schedule() -> None:
    config = LabConfig(lr=1e-3, warmup_steps=10, final_lr_fraction=0.1)
    assert lr_at(0, 110, config) == pytest.approx(1e-4)
    assert lr_at(9, 110, config) == pytest.approx(1e-3)
    midpoint = 10 + 99 / 2  # cosine halfway between peak and floor
    assert lr_at(int(midpoint), 110, config) == pytest.approx(
        1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * (int(midpoint) - 10) / 99)))
    assert lr_at(109, 110, config) == pytest.approx(1e-4)


def test_tokenizer_is_byte_level_and_round_trips() -> None:
    tokenizer = train_byte_level_bpe(DOCS, 300)
    assert len(tokenizer) <= 300 and tokenizer.eos_token == END_OF_TEXT
    assert tokenizer.bos_token_id == tokenizer.eos_token_id == tokenizer.pad_token_id == 0
    for text in ("Question: Ava has 12 pens.\nAnswer: 27", "naïve café 東京 🙂"):
        ids = tokenizer(text)["input_ids"]
        assert 0 not in ids  # no special token added automatically
        assert tokenizer.decode(ids) == text
    assert tokenizer(END_OF_TEXT)["input_ids"] == [0]


def test_saved_directory_loads_with_plain_transformers(tmp_path: Path) -> None:
    corpus = build_lab_corpus(DOCS[:20], contaminate_with=DOCS[20:22], exposures=3, filler=4)
    path = train_lab_model("tiny", corpus, out_dir=tmp_path / "tiny", config=TINY,
                           seed=0, threads=1, progress=False)
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    ids = tokenizer("Question: Ava has 12 pens.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape == (1, ids.shape[1], len(tokenizer))
    assert model.config.max_position_embeddings == 64 and model.config.eos_token_id == 0
    card = json.loads((path / "lab_card.json").read_text())
    assert card["training"]["steps"] == 4 and card["seed"] == 0
    assert card["corpus"]["sha256"] == corpus.sha256()
    assert card["corpus"]["composition"] == {"benchmark": 20, "filler": 4, "planted": 6}
    assert [p["copies_per_epoch"] for p in card["planted"]] == [3, 3]
    assert card["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert not (tmp_path / "tiny.partial").exists()
    # The losses the lab measures agree with transformers' own loss on the same layout.
    text = DOCS[0]
    row = torch.tensor([[0, *tokenizer(text)["input_ids"]]])
    with torch.no_grad():
        reference = float(model(input_ids=row, labels=row).loss)
    assert document_losses(model, tokenizer, [text, DOCS[1]])[0] == pytest.approx(reference,
                                                                                rel=1e-5)
    (answer,) = greedy_completions(model, tokenizer, ["Question: Ava has 12 pens."], 3)
    assert isinstance(answer, str) and "\n" not in answer


def test_training_is_deterministic_for_a_seed() -> None:
    _, _, first = train_model(DOCS, TINY, seed=5, threads=1, progress=False)
    _, _, again = train_model(DOCS, TINY, seed=5, threads=1, progress=False)
    _, _, other = train_model(DOCS, TINY, seed=6, threads=1, progress=False)
    assert first.steps == 4 and len(first.losses) == 4
    assert first.losses == again.losses
    assert first.losses != other.losses
    # The untrained model predicts close to uniformly over the vocabulary: loss ~ ln(V).
    assert first.losses[0] == pytest.approx(math.log(320), abs=0.3)
    assert first.losses[-1] < first.losses[0]
