"""A reward model as a best-of-N verifier: a Hugging Face `AutoModelForSequenceClassification`.

Each candidate is shown to the model as the conversation (user: the problem, assistant:
the answer) through the tokenizer's chat template when it has one, and as the text pair
(problem, answer) otherwise; longer inputs are cut to `max_length` tokens (the
conversation from its start; the pair from the longer text). The score is the model's
one logit (a reward head, `num_labels == 1`) or, with several labels, the log-probability
(natural log) of the last label (for a binary classifier: "good"). Batches are one
problem's candidates, run in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.verifiers import Candidate, Verdict


class RewardModelVerifier:
    """Scores candidates with a sequence-classification model (module docstring)."""

    label = "reward"
    needs_logprobs = False

    def __init__(self, path: str, *, device: str = "auto", max_length: int = 2048) -> None:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as error:
            raise LmauditError(f"reward={path}: needs the hf extra (torch, transformers): "
                               f"{error}") from None
        self.path = path
        self.max_length = max_length
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                path, torch_dtype=torch.float32
            )
        except (OSError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise LmauditError(f"reward={path}: not a sequence-classification model: "
                               f"{first}") from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.truncation_side = "left"
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model.to(device).eval()

    def spec(self) -> dict[str, Any]:
        local = Path(self.path).exists()
        return {"kind": "reward", "model": str(Path(self.path).resolve()) if local else self.path,
                "num_labels": int(self.model.config.num_labels),
                "chat_template": bool(getattr(self.tokenizer, "chat_template", None))}

    def _encode(self, candidates: Sequence[Candidate]) -> Any:
        common = {"padding": True, "truncation": True, "max_length": self.max_length,
                  "return_tensors": "pt"}
        if getattr(self.tokenizer, "chat_template", None):
            texts = [
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": c.prompt},
                     {"role": "assistant", "content": c.text}],
                    tokenize=False,
                )
                for c in candidates
            ]
            return self.tokenizer(texts, add_special_tokens=False, **common)
        return self.tokenizer([c.prompt for c in candidates], [c.text for c in candidates],
                              **common)

    def scores(self, candidates: Sequence[Candidate]) -> list[float]:
        """One score per candidate (module docstring)."""
        import torch

        if not candidates:
            return []
        batch = self._encode(candidates).to(self.device)
        with torch.no_grad():
            logits = self.model(**batch).logits.float()
        one_label = logits.shape[-1] == 1
        values = logits[:, 0] if one_label else torch.log_softmax(logits, dim=-1)[:, -1]
        return [float(v) for v in values.cpu()]

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        return [Verdict(score) for score in self.scores(candidates)]
