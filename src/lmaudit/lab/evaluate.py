"""Quick measurements on a lab model: per-document loss and greedy answers.

These reproduce the training layout (a document is preceded by `<|endoftext|>`), so they
measure exactly what the model was trained on. Losses are natural-log cross-entropy
averaged over a document's tokens (nats/token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmaudit.lab.tokenizer import end_of_text_id


def document_losses(
    model: Any, tokenizer: Any, documents: Sequence[str], batch_size: int = 32
) -> list[float]:
    """Mean nats/token of each document, conditioned on a leading `<|endoftext|>`."""
    import torch

    eot = end_of_text_id(tokenizer)
    encoded = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
    limit = int(model.config.max_position_embeddings)
    losses: list[float] = []
    for start in range(0, len(encoded), batch_size):
        rows = [[eot, *ids][:limit] for ids in encoded[start : start + batch_size]]
        width = max(len(r) for r in rows)
        inputs = torch.full((len(rows), width), eot, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for k, row in enumerate(rows):
            inputs[k, : len(row)] = torch.tensor(row)
            mask[k, 1 : len(row)] = True
        with torch.no_grad():
            logits = model(input_ids=inputs).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = logprobs.gather(-1, inputs[:, 1:, None]).squeeze(-1)
        valid = mask[:, 1:]
        nll = -(picked * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1)
        losses.extend(float(v) for v in nll)
    return losses


def greedy_completions(
    model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 8
) -> list[str]:
    """Greedy continuation of each prompt (after a leading `<|endoftext|>`), cut at the
    first newline or `<|endoftext|>`, stripped of surrounding spaces."""
    import torch

    eot = end_of_text_id(tokenizer)
    limit = int(model.config.max_position_embeddings)
    completions: list[str] = []
    for prompt in prompts:
        ids = [eot, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]
        generated: list[int] = []
        for _ in range(max_new_tokens):
            window = torch.tensor([(ids + generated)[-limit:]])
            with torch.no_grad():
                next_id = int(model(input_ids=window).logits[0, -1].argmax())
            if next_id == eot:
                break
            generated.append(next_id)
            if "\n" in tokenizer.decode(generated):
                break
        completions.append(tokenizer.decode(generated).split("\n")[0].strip())
    return completions
