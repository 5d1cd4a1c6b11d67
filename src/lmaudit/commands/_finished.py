"""Re-running the command of a finished run prints its stored results (no work is redone)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmaudit.core.redact import redact_json
from lmaudit.core.store import MANIFEST, RESULTS, read_json_object, run_dir_state
from lmaudit.core.types import LmauditError


def _as_stored(value: Any) -> Any:
    """`value` as the manifest stores it: redacted, through a JSON round trip."""
    return json.loads(json.dumps(redact_json(value), default=str, ensure_ascii=False))


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**300


def _is_metric(metric: Any) -> bool:
    """A stored metric the results table can show (value and interval numbers or null)."""
    return isinstance(metric, dict) and all(
        metric.get(k) is None or _is_number(metric.get(k)) for k in ("value", "ci_low", "ci_high")
    )


_USAGE_COUNTS = ("requests", "cached", "prompt_tokens", "completion_tokens")
_USAGE_NUMBERS = ("latency_p50_s", "latency_p90_s", "latency_p99_s", "cost_usd")


def _is_usage(usage: Any) -> bool:
    """A stored usage block `usage_line` can show."""
    if not isinstance(usage, dict):
        return False
    counts = all(
        isinstance(usage.get(k), int) and not isinstance(usage.get(k), bool) for k in _USAGE_COUNTS
    )
    latency = "latency_p50_s" not in usage or all(
        _is_number(usage.get(k)) for k in _USAGE_NUMBERS[:3]
    )
    cost = "cost_usd" not in usage or _is_number(usage["cost_usd"])
    return counts and latency and cost


def print_finished_run(run_dir: Path, kind: str, expected: Mapping[str, Any]) -> bool:
    """Print the stored results of `run_dir` and return True when it holds a finished run
    of `kind` whose manifest has every `expected` entry; False when it holds no finished
    run. A finished run started by another command raises `LmauditError` (it is never
    overwritten), and so does a directory of another kind (see `store.run_dir_state`)."""
    from lmaudit.commands.run import usage_line
    from lmaudit.report.table import metrics_table

    if run_dir_state(run_dir, kind) != "finished":
        return False
    manifest = read_json_object(run_dir / MANIFEST)
    for key, value in expected.items():
        if manifest.get(key) != _as_stored(value):
            raise LmauditError(
                f"{run_dir} already holds a finished run of another command (its {key} "
                "differs); it is left untouched: choose another --out"
            )
    results = read_json_object(run_dir / RESULTS)
    metrics = results.get("metrics")
    if not isinstance(metrics, dict) or not all(_is_metric(m) for m in metrics.values()):
        raise LmauditError(
            f"{run_dir / RESULTS} is damaged: `metrics` must map names to objects whose "
            "value, ci_low and ci_high are numbers or null"
        )
    title = f"{results.get('task', manifest.get('task'))} · {results.get('n_samples')} samples"
    print(metrics_table(metrics, title=title))
    usage = results.get("usage")
    if usage is not None:
        if not _is_usage(usage):
            raise LmauditError(f"{run_dir / RESULTS} is damaged: unreadable `usage`")
        print(usage_line(usage))
    print(f"finished earlier: results stored in {run_dir} (nothing was run again)")
    return True
