"""The HF backend's per-token argmax flags (`LoglikelihoodResult.token_greedy`) against a
forward pass of the same tiny model done here by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lmaudit.core.types import LoglikelihoodRequest

pytest.importorskip("transformers")


def test_token_greedy_matches_the_argmax_of_a_manual_forward(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lmaudit.backends.hf import HFBackend
    from test_backends_hf_tiny import build_model

    directory = build_model(tmp_path / "gpt2", "gpt2")
    backend = HFBackend(str(directory), device="cpu")
    context, continuation = "def add(a, b):\n", "    return a + b\n"
    (result,) = backend.loglikelihood([LoglikelihoodRequest(context, continuation)])
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ctx + cont])).logits[0]
    predicted = logits[len(ctx) - 1 : -1].argmax(-1).tolist()
    expected = tuple(p == t for p, t in zip(predicted, cont, strict=True))
    assert result.n_tokens == len(cont) > 3
    assert result.token_greedy == expected
    assert result.is_greedy == all(expected)
