"""Model specs (`hf:<hub id or dir>`, `lab:<name>`, `openai:`, `openai-chat:`) to backends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmaudit.core.backend import Backend
from lmaudit.core.types import LmauditError

SPEC_HELP = (
    "model spec: hf:<hub id or local dir> (a Hugging Face causal LM), lab:<name> "
    "(a model trained by `lmaudit lab train`), openai:MODEL[@BASE_URL][#KEY_ENV] "
    "(an OpenAI-compatible completions server, e.g. vLLM) or "
    "openai-chat:MODEL[@BASE_URL][#KEY_ENV] (its chat endpoint, generation only)"
)

_HF_OPTIONS = ("dtype", "device", "batch_size", "revision", "max_length", "chat_template")
_OPENAI_OPTIONS = (
    "max_concurrency",
    "timeout",
    "max_retries",
    "endpoints",
    "backoff_base",
    "backoff_max",
    "prefix_text",
)


def load_backend(spec: str, options: Mapping[str, Any] | None = None) -> Backend:
    """Build the backend a spec names. `options` are backend keyword arguments
    (dtype, device, batch_size, ...); unknown ones raise a clear error."""
    kind, sep, target = spec.partition(":")
    if not sep or not target:
        raise LmauditError(f"unknown model spec {spec!r}; expected {SPEC_HELP}")
    opts = dict(options or {})
    if kind in ("hf", "lab"):
        unknown = sorted(set(opts) - set(_HF_OPTIONS))
        if unknown:
            raise LmauditError(
                f"unknown option(s) {', '.join(unknown)} for {kind}: models; "
                f"known: {', '.join(_HF_OPTIONS)}"
            )
        from lmaudit.backends.hf import HFBackend

        if kind == "lab":
            from lmaudit.lab.paths import resolve_lab_model

            target = str(resolve_lab_model(target))
        return HFBackend(target, **opts)
    if kind in ("openai", "openai-chat"):
        unknown = sorted(set(opts) - set(_OPENAI_OPTIONS))
        if unknown:
            raise LmauditError(
                f"unknown option(s) {', '.join(unknown)} for {kind}: models; "
                f"known: {', '.join(_OPENAI_OPTIONS)}"
            )
        from lmaudit.backends.openai_api import OpenAIBackend

        return OpenAIBackend.from_spec(target, chat=kind == "openai-chat", **opts)
    raise LmauditError(f"unknown model kind {kind!r} in {spec!r}; expected {SPEC_HELP}")
