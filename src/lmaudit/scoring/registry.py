"""The Scorer protocol, its per-sample outcome, and the registry of named scorers.

A scorer compares one model response with one target and returns a `ScoreOutcome`: the
primary verdict, the extracted answer, and every per-sample metric (each a 0/1 value, to be
aggregated as a proportion). Its `version` goes into the run manifest: a change to the
extraction or comparison rules must change the version string.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from lmaudit.core.types import LmauditError

DEFAULT_SCORER = "numeric"

# Modules whose import registers the built-in scorers (loaded on first registry lookup,
# so that `registry` itself imports none of them and no import cycle arises).
_BUILTIN_MODULES = (
    "lmaudit.scoring.numeric",
    "lmaudit.scoring.text",
    "lmaudit.scoring.grids",
    "lmaudit.scoring.math",
    "lmaudit.scoring.choice_letters",
)


@dataclass(frozen=True)
class ScoreOutcome:
    """One response scored against one target.

    `correct`: the primary verdict. `extracted`: the primary extracted answer (None when
    extraction found nothing). `metrics`: every per-sample metric value (read-only).
    `extractions`: for a scorer whose 0/1 metrics use different extraction rules, the answer
    each of them read (metric name -> answer); `extracted_for` falls back to `extracted`.
    """

    correct: bool
    extracted: str | None
    metrics: Mapping[str, float] = field(default_factory=dict, hash=False)
    extractions: Mapping[str, str | None] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "extractions", MappingProxyType(dict(self.extractions)))

    def extracted_for(self, metric: str) -> str | None:
        """The answer `metric` judged (what a majority vote by that metric counts)."""
        return self.extractions.get(metric, self.extracted)


STRICT_FLEXIBLE_METRICS = ("acc_strict", "acc_flexible", "extract_fail_strict",
                           "extract_fail_flexible")


def strict_flexible_outcome(
    strict: str | None, flexible: str | None, strict_ok: bool, flexible_ok: bool
) -> ScoreOutcome:
    """The outcome of a scorer with two extractions (strict and flexible, each None when it
    found nothing): the verdict and extracted answer are the flexible ones; the metrics are
    `STRICT_FLEXIBLE_METRICS` (0/1)."""
    return ScoreOutcome(
        correct=flexible_ok,
        extracted=flexible,
        metrics={
            "acc_strict": float(strict_ok),
            "acc_flexible": float(flexible_ok),
            "extract_fail_strict": float(strict is None),
            "extract_fail_flexible": float(flexible is None),
        },
    )


@runtime_checkable
class Scorer(Protocol):
    """Scores a single response. `name` and `version` identify it in the manifest."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def __call__(self, response: str, target: str) -> ScoreOutcome: ...

    def metric_names(self) -> tuple[str, ...]:
        """Keys of `ScoreOutcome.metrics`, each a 0/1 proportion."""
        ...


ScorerFactory = Callable[[], Scorer]

_FACTORIES: dict[str, ScorerFactory] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def register_scorer(name: str) -> Callable[[ScorerFactory], ScorerFactory]:
    """Decorator registering a zero-argument factory under `name`.

    Registering a different factory under a taken name raises ValueError (a programming
    error); re-registering the same function (module reload) replaces it.
    """
    if not name or name != name.strip():
        raise ValueError(f"scorer name must be non-empty without surrounding spaces: {name!r}")

    def decorator(factory: ScorerFactory) -> ScorerFactory:
        existing = _FACTORIES.get(name)
        if existing is not None and _identity(existing) != _identity(factory):
            raise ValueError(f"scorer {name!r} is already registered by {_identity(existing)}")
        _FACTORIES[name] = factory
        return factory

    return decorator


def _identity(factory: ScorerFactory) -> str:
    module = getattr(factory, "__module__", "?")
    return f"{module}.{getattr(factory, '__qualname__', repr(factory))}"


def scorer_names() -> list[str]:
    """Names of all registered scorers, sorted."""
    _load_builtins()
    return sorted(_FACTORIES)


def get_scorer(name: str = DEFAULT_SCORER) -> Scorer:
    """A fresh scorer instance by name; LmauditError listing the known names otherwise."""
    _load_builtins()
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise LmauditError(f"unknown scorer {name!r}; known scorers: {known}")
    return factory()
