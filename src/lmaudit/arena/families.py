"""Model families, for a judge's self-preference.

`family_of(name, mapping)`: the mapping wins when it names the model (or judge spec)
exactly; otherwise the prefix rule: drop a backend prefix up to the first `:` (`hf:`,
`openai:`) and any path up to the last `/`, lowercase, and keep the leading run of
letters. So `hf:Qwen/Qwen2.5-7B-Instruct` -> `qwen`, `gpt-4o-mini` -> `gpt`,
`claude-3-opus` -> `claude`, `llama3-8b` -> `llama`. A name without leading letters is its
own family (lowercased). Names the rule gets wrong (`Meta-Llama-3` -> `meta`) belong in the
mapping (`--family Meta-Llama-3=llama`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lmaudit.core.types import LmauditError

_LEADING_LETTERS = re.compile(r"[a-z]+")


def family_of(name: str, mapping: Mapping[str, str] | None = None) -> str:
    """The family of a model name or judge spec (module docstring)."""
    if mapping and name in mapping:
        return mapping[name]
    tail = name.split(":", 1)[1] if ":" in name else name
    tail = tail.rsplit("/", 1)[-1].lower()
    match = _LEADING_LETTERS.match(tail)
    return match.group(0) if match else tail


def parse_family_mapping(items: list[str] | None) -> dict[str, str]:
    """`NAME=FAMILY` items (the last `=` splits, so judge specs may hold one) as a dict."""
    mapping: dict[str, str] = {}
    for item in items or []:
        name, sep, family = item.rpartition("=")
        if not sep or not name.strip() or not family.strip():
            raise LmauditError(f"--family expects NAME=FAMILY, got {item!r}")
        mapping[name.strip()] = family.strip()
    return mapping
