"""Model specs (`hf:<hub id or dir>`, `lab:<name>`, `openai:`, `openai-chat:`) to backends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lmaudit.core.backend import Backend
from lmaudit.core.types import LmauditError

SPEC_HELP = (
    "model spec: hf:<hub id or local dir> (a Hugging Face causal LM), lab:<name> "
    "(a model trained by `lmaudit lab train`), openai:MODEL[@BASE_URL][#KEY_ENV] "
    "(an OpenAI-compatible completions server, e.g. vLLM), "
    "openai-chat:MODEL[@BASE_URL][#KEY_ENV] (its chat endpoint, generation only) or "
    "vllm:<hub id or local dir> (in-process vLLM on CUDA GPUs)"
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
    "prompts_per_request",
)




def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


_VLLM_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "tensor_parallel_size": int,
    "gpu_memory_utilization": float,
    "max_model_len": int,
    "dtype": str,
    "seed": int,
    "enable_prefix_caching": _as_bool,
    "revision": str,
    "trust_remote_code": _as_bool,
    "chat_template": _as_bool,
}


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
    if kind == "vllm":
        opts.pop("batch_size", None)  # vLLM schedules its own batches
        device = str(opts.pop("device", "auto"))
        if device not in ("auto", "cuda"):
            raise LmauditError(f"vllm: models run on CUDA GPUs; device {device!r} is not supported")
        unknown = sorted(set(opts) - set(_VLLM_OPTIONS))
        if unknown:
            raise LmauditError(
                f"unknown option(s) {', '.join(unknown)} for vllm: models; "
                f"known: {', '.join(_VLLM_OPTIONS)}"
            )
        from lmaudit.backends.vllm_backend import VLLMBackend

        converted = {k: _VLLM_OPTIONS[k](v) for k, v in opts.items() if v is not None}
        return VLLMBackend(target, **converted)
    raise LmauditError(f"unknown model kind {kind!r} in {spec!r}; expected {SPEC_HELP}")


def load_scaled_backend(
    spec: str,
    options: Mapping[str, Any] | None = None,
    *,
    replicas: int = 1,
    ray_address: str | None = None,
) -> Backend:
    """`replicas` copies of the backend as Ray actors (a local cluster unless `ray_address`)."""
    if replicas <= 1 and ray_address is None:
        return load_backend(spec, options)
    from lmaudit.backends.ray_replicas import RayReplicaBackend

    return RayReplicaBackend(spec, options, replicas=max(1, replicas), address=ray_address)
