"""Run the corpus scan on a Ray cluster through Ray Data (optional: `pip install 'ray[data]'`).

Each shard becomes one row of a Ray dataset; `map` scans it with a `ChunkMatcher` built
per shard from the gram sets, which are put in the object store once. Corpus files
must be readable at the same paths on every node (shared storage).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np

from lmaudit.contamination.corpus_io import Shard
from lmaudit.contamination.matching import (
    ChunkMatcher,
    GramSets,
    ReadOptions,
    ShardMatches,
    scan_shard,
)
from lmaudit.core.types import LmauditError


def run_ray(
    address: str, shards: list[Shard], grams: GramSets, read: ReadOptions
) -> Iterator[ShardMatches]:
    """Scan shards on the Ray cluster at `address`: `local` starts a Ray instance on this
    machine (stopped afterwards), `auto` joins the cluster this machine belongs to, and
    anything else is passed to `ray.init(address=...)` (e.g. `ray://head:10001`)."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise LmauditError(
            "--ray needs Ray Data, which is not installed: pip install 'ray[data]'"
        ) from error
    started_here = not ray.is_initialized()
    if address == "local":
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    try:
        yield from _scan_on_ray(ray, shards, grams, read)
    finally:
        if started_here:
            ray.shutdown()


def _scan_on_ray(
    ray: Any, shards: list[Shard], grams: GramSets, read: ReadOptions
) -> Iterator[ShardMatches]:
    grams_ref = ray.put(grams)

    def scan_row(row: dict[str, Any]) -> dict[str, Any]:
        matcher = ChunkMatcher(ray.get(grams_ref))
        part = scan_shard(matcher, Shard(**row), read)
        return {
            "ngram_slots": part.ngram_slots.tolist(),
            "ngram_docs": part.ngram_docs,
            "span_slots": part.span_slots.tolist(),
            "bytes_read": part.bytes_read,
            "documents": part.documents,
        }

    dataset = ray.data.from_items([asdict(s) for s in shards]).map(scan_row)
    for row in dataset.iter_rows():
        yield ShardMatches(
            np.asarray(row["ngram_slots"], dtype=np.int64),
            list(row["ngram_docs"]),
            np.asarray(row["span_slots"], dtype=np.int64),
            int(row["bytes_read"]),
            int(row["documents"]),
        )
