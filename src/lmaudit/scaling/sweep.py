"""Running one task on models of several sizes, and reading the runs back as item × size
matrices.

Each model's run is an ordinary run directory (`<out>/runs/<k>-<model>`), written by
`core.runner.run_task` with the task wrapped in `PartialCreditTask`, so a killed sweep
resumes where it stopped and a finished run is read back, not redone. Sizes are
parameters or training FLOPs; a lab model's size may be left out (`lab:NAME` without
`=SIZE`): its lab card gives the parameter count N and the training tokens D, and the
training compute is estimated as C = 6 N D FLOPs (Kaplan et al. 2020).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.core.types import LmauditError

SIZE_UNITS = ("params", "flops")
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*$")


@dataclass(frozen=True)
class ModelPoint:
    """One model of the sweep: its spec and its size (None: read from its lab card)."""

    spec: str
    size: float | None = None


@dataclass(frozen=True)
class SweepRuns:
    """Per-item results of every model, aligned on the items all runs share.

    `columns[metric]` has shape (items, models) in `points` order (NaN: not scored);
    `choices[i]` is item i's number of options (0 for a generation task).
    """

    points: tuple[ModelPoint, ...]
    sizes: tuple[float, ...]
    run_dirs: tuple[Path, ...]
    item_ids: tuple[str, ...]
    clusters: tuple[str, ...] | None
    columns: Mapping[str, Any] = field(repr=False)
    choices: tuple[int, ...] = ()
    dropped_items: int = 0


def parse_size(text: str) -> float:
    """`1.2e6`, `350M`, `7B`, `3e21`: a positive number with an optional k/M/B/T suffix."""
    match = _NUMBER.match(text)
    if not match:
        raise LmauditError(f"size {text!r} is not a number such as 1.2e6, 350M or 7B")
    value = float(match.group(1)) * _SUFFIX.get(match.group(2).lower(), 1.0)
    if not value > 0 or not math.isfinite(value):
        raise LmauditError(f"size {text!r} must be positive")
    return value


def parse_model_point(text: str) -> ModelPoint:
    """`SPEC=SIZE`, or `SPEC` alone for a model whose lab card gives its size."""
    spec, sep, size = text.rpartition("=")
    if sep and spec and _NUMBER.match(size):
        return ModelPoint(spec, parse_size(size))
    return ModelPoint(text, None)


def lab_card_size(spec: str, unit: str) -> float:
    """The size of a lab model (`lab:NAME`, or `hf:DIR` holding a lab card): parameters,
    or 6 N D training FLOPs."""
    from lmaudit.lab.paths import resolve_lab_model
    from lmaudit.lab.train import read_lab_card

    kind, _, target = spec.partition(":")
    path = resolve_lab_model(target) if kind == "lab" else Path(target)
    card = read_lab_card(path) if kind in ("lab", "hf") else None
    if not card or "n_parameters" not in card:
        raise LmauditError(f"--model {spec}: give its size as {spec}=SIZE (only a lab model's "
                           "card says its size)")
    params = float(card["n_parameters"])
    if unit == "params":
        return params
    tokens = card.get("training", {}).get("tokens_trained")
    if not tokens:
        raise LmauditError(f"--model {spec}: its lab card has no tokens_trained; give "
                           f"{spec}=FLOPS")
    return 6.0 * params * float(tokens)


def resolve_sizes(points: Sequence[ModelPoint], unit: str) -> tuple[float, ...]:
    """Every point's size (read from lab cards where not given); sizes must differ."""
    if unit not in SIZE_UNITS:
        raise LmauditError(f"--size-unit must be one of {', '.join(SIZE_UNITS)}, got {unit!r}")
    sizes = tuple(p.size if p.size is not None else lab_card_size(p.spec, unit) for p in points)
    if len(set(sizes)) != len(sizes):
        raise LmauditError("two --model entries have the same size; a sweep needs distinct sizes")
    return sizes


def run_dir_name(index: int, spec: str) -> str:
    """`<index>-<spec with unsafe characters as ->`, e.g. `00-lab-lab-s`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", spec.split("#")[0]).strip("-")[:60]
    return f"{index:02d}-{slug}"


def run_sweep(
    points: Sequence[ModelPoint],
    task: Any,
    out_dir: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    model_options: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    show_progress: bool = True,
    invocation: Mapping[str, Any] | None = None,
    backend_factory: Callable[[str, dict[str, Any]], Any] | None = None,
) -> tuple[Path, ...]:
    """Run `task` (already wrapped in `PartialCreditTask`) on every model; finished runs
    are kept, unfinished ones resumed. Returns the run directories in `points` order.
    `backend_factory(spec, options)` builds a model (default `load_backend`)."""
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.cache import RequestCache
    from lmaudit.core.runner import run_task
    from lmaudit.core.store import MANIFEST, read_json_object, run_dir_state, spec_hash

    wanted = {"task": task.name, "task_spec_hash": spec_hash(task.spec()), "limit": limit}
    dirs = []
    for index, point in enumerate(points):
        run_dir = Path(out_dir) / "runs" / run_dir_name(index, point.spec)
        dirs.append(run_dir)
        if run_dir_state(run_dir, "run") == "finished":
            stored = read_json_object(run_dir / MANIFEST)
            differ = [k for k, v in {**wanted, "model_spec": point.spec}.items()
                      if stored.get(k) != v]
            if differ:
                raise LmauditError(f"{run_dir} holds a finished run with another "
                                   f"{differ[0].replace('_', ' ')} ({stored.get(differ[0])!r});"
                                   " choose another --out")
            continue
        backend: Any = (backend_factory or load_backend)(point.spec, dict(model_options or {}))
        cache = None if cache_dir is None else RequestCache(cache_dir)
        try:
            run_task(task, backend, run_dir, limit=limit, seed=seed, model_spec=point.spec,
                     show_progress=show_progress, cache=cache,
                     invocation={**(invocation or {}), "model": point.spec})
        finally:
            if cache is not None:
                cache.close()
            close = getattr(backend, "close", None)
            if callable(close):
                close()
    return tuple(dirs)


def load_sweep_runs(
    points: Sequence[ModelPoint], sizes: Sequence[float], run_dirs: Sequence[Path],
    metrics: Sequence[str],
) -> SweepRuns:
    """The runs' per-item metric columns aligned on the items every run scored."""
    from lmaudit.core.store import load_run

    frames = [load_run(d).samples.drop_duplicates("sample_id").set_index("sample_id")
              for d in run_dirs]
    shared = [i for i in frames[0].index if all(i in f.index for f in frames[1:])]
    if not shared:
        raise LmauditError("the sweep's runs share no scored item")
    every = set().union(*(set(f.index) for f in frames))
    columns = {}
    for metric in metrics:
        matrix = np.full((len(shared), len(frames)), np.nan)
        for k, frame in enumerate(frames):
            if metric in frame.columns:
                matrix[:, k] = frame.loc[shared, metric].to_numpy(dtype=float)
        columns[metric] = matrix
    first = frames[0].loc[shared]
    clusters = None
    if "cluster" in first.columns and first["cluster"].notna().all():
        clusters = tuple(str(c) for c in first["cluster"])
    choices: tuple[int, ...] = ()
    if "choice_logprobs" in first.columns:
        choices = tuple(0 if v is None else len(v) for v in first["choice_logprobs"])
    return SweepRuns(tuple(points), tuple(float(s) for s in sizes), tuple(run_dirs),
                     tuple(str(i) for i in shared), clusters, columns, choices,
                     len(every) - len(shared))
