"""The reward-model verifier on tiny random sequence-classification models saved like hub
checkpoints: batched, padded scores equal each candidate scored alone; one label gives the
logit, several the last label's log-probability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from lmaudit.core.types import LmauditError  # noqa: E402
from lmaudit.verifiers import Candidate, parse_verifier  # noqa: E402
from lmaudit.verifiers.reward import RewardModelVerifier  # noqa: E402
from test_backends_hf_tiny import train_tokenizer  # noqa: E402

CANDIDATES = [
    Candidate("What is 2 + 3?", "5", "5", True),
    Candidate("What is 2 + 3?", "The answer is 6, because 2 and 3 make six.", "6", False),
    Candidate("What is 2 + 3?", "", None, False),
]


def _reward_model(directory: Path, num_labels: int, style: str = "gpt2") -> Path:
    from transformers import GPT2Config, GPT2ForSequenceClassification

    tokenizer: object = train_tokenizer(style)
    torch.manual_seed(num_labels)
    sizes: dict[str, Any] = {"vocab_size": len(tokenizer), "n_positions": 128,  # type: ignore[arg-type]
                             "n_embd": 32, "n_layer": 2, "n_head": 2, "num_labels": num_labels}
    config = GPT2Config(initializer_range=0.3, **sizes)
    GPT2ForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)  # type: ignore[attr-defined]
    return directory


def _alone(verifier: RewardModelVerifier, candidate: Candidate) -> float:
    """The reference: one candidate, no padding, the model's raw output."""
    if getattr(verifier.tokenizer, "chat_template", None):
        text = verifier.tokenizer.apply_chat_template(
            [{"role": "user", "content": candidate.prompt},
             {"role": "assistant", "content": candidate.text}], tokenize=False)
        batch = verifier.tokenizer(text, add_special_tokens=False, return_tensors="pt")
    else:
        batch = verifier.tokenizer(candidate.prompt, candidate.text, return_tensors="pt")
    with torch.no_grad():
        logits = verifier.model(**batch).logits[0]
    return float(logits[0]) if logits.numel() == 1 else float(torch.log_softmax(logits, -1)[-1])


@pytest.mark.parametrize(("num_labels", "style"), [(1, "gpt2"), (2, "gpt2"), (1, "llama")])
def test_reward_scores_equal_each_candidate_scored_alone(
    tmp_path: Path, num_labels: int, style: str
) -> None:
    path = _reward_model(tmp_path / "rm", num_labels, style)
    verifier = parse_verifier(f"reward={path}")
    assert isinstance(verifier, RewardModelVerifier)
    verdicts = verifier.verify(CANDIDATES)
    expected = [_alone(verifier, c) for c in CANDIDATES]
    assert [v.score for v in verdicts] == pytest.approx(expected, abs=1e-4)
    assert len(set(expected)) == 3  # the candidates really differ
    if num_labels == 2:
        assert all(v.score is not None and v.score < 0 for v in verdicts)  # log-probabilities
    spec = verifier.spec()
    assert spec["num_labels"] == num_labels and spec["chat_template"] == (style == "llama")


def test_a_directory_without_a_classifier_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LmauditError, match="reward="):
        RewardModelVerifier(str(tmp_path))
