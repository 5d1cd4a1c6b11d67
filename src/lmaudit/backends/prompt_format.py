"""How a tokenizing backend turns prompts into tokens, for the run manifest.

`describe_prompt_format(tokenizer, chat_template=...)` records (`prompt-format-v1`):
- `chat_template_applied`: plain prompts are wrapped as one user turn (the backend's
  `chat_template` option); chat messages always go through the template.
- `chat_template_sha256`: SHA-256 of the tokenizer's template text (a dict of named
  templates is hashed as sorted JSON); None when the tokenizer has none. Two runs whose
  hashes differ did not see the same prompts, whatever the model weights.
- `bos_token`; `plain_prompt_bos`: "tokenizer" when encoding a plain prompt prepends BOS
  (Llama-style), "none" otherwise (GPT-2-style); `TokenizerRules.encode` never adds a
  second one to a text that starts with it.
- `chat_bos`: "template" when the rendered template text itself begins with the BOS token
  (the backend then encodes it with no special tokens, so BOS appears once), "none" when it
  does not, "unknown: ..." when the template fails on a one-turn probe conversation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

PROMPT_FORMAT_VERSION = "prompt-format-v1"


def template_sha256(template: Any) -> str | None:
    """SHA-256 hex of a chat template (str, or a dict of named templates), None if none."""
    if not template:
        return None
    text = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_prompt_format(tokenizer: Any, *, chat_template: bool) -> dict[str, Any]:
    """The prompt-format record of a Hugging Face tokenizer (module docstring)."""
    template = getattr(tokenizer, "chat_template", None)
    bos = getattr(tokenizer, "bos_token", None)
    bos_id = getattr(tokenizer, "bos_token_id", None)
    plain = list(tokenizer.encode("a", add_special_tokens=True))
    record: dict[str, Any] = {
        "version": PROMPT_FORMAT_VERSION,
        "chat_template_applied": chat_template,
        "chat_template_sha256": template_sha256(template),
        "bos_token": bos,
        "plain_prompt_bos": "tokenizer" if bos_id is not None and plain[:1] == [bos_id]
        else "none",
        "chat_bos": None,
    }
    if template:
        try:
            rendered = str(tokenizer.apply_chat_template(
                [{"role": "user", "content": "a"}], add_generation_prompt=True, tokenize=False
            ))
            record["chat_bos"] = "template" if bos and rendered.startswith(bos) else "none"
        except Exception as error:  # any template error is only recorded
            record["chat_bos"] = f"unknown: {type(error).__name__}"
    return record
