"""Model specs (`hf:<hub id or dir>`, `lab:<name>`) to backends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmaudit.core.backend import Backend
from lmaudit.core.types import LmauditError

SPEC_HELP = (
    "model spec: hf:<hub id or local dir> (a Hugging Face causal LM) or lab:<name> "
    "(a model trained by `lmaudit lab train`)"
)

_HF_OPTIONS = ("dtype", "device", "batch_size", "revision", "max_length", "chat_template")


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
    raise LmauditError(f"unknown model kind {kind!r} in {spec!r}; expected {SPEC_HELP}")
