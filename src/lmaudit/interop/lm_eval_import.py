"""lm-evaluation-harness sample logs → lmaudit run directories.

One run directory per task: one record per document (the metrics of every filter of that
document side by side), the prompt lm-eval sent (the first request's context), for
multiple choice the per-choice log-likelihoods, the chosen choice and its index, for
generation the raw and the filtered response. Metrics get lmaudit's intervals
(`lmaudit.core.aggregate`), and each is checked against the value lm-eval reported: the
results keep both, and a mismatch is reported, never hidden. Per-sample values that are not
numbers (perplexity's tuples, for instance) are not imported and are named.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.types import SampleRecord
from lmaudit.interop.import_store import ImportedTask, write_imported_run
from lmaudit.interop.lm_eval_log import (
    LmEvalTaskLog,
    metric_key,
    parse_number,
    results_key,
    safe_dirname,
)

MC_TYPES = ("multiple_choice",)


def _args(sample: Mapping[str, Any]) -> list[list[Any]]:
    arguments = sample["arguments"]
    if isinstance(arguments, list):  # the in-memory shape, before lm-eval sanitizes it
        return [list(a) for a in arguments]
    return [[arguments[k][j] for j in sorted(arguments[k], key=lambda s: int(s.split("_")[1]))]
            for k in sorted(arguments, key=lambda s: int(s.split("_")[-1]))]


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _multiple_choice(sample: Mapping[str, Any], delimiter: str
                     ) -> tuple[str, str, str, tuple[float, ...]]:
    """(target text, chosen choice, chosen index, per-choice log-likelihoods)."""
    args = _args(sample)
    choices = [str(a[1]).removeprefix(delimiter) for a in args]
    logprobs = tuple(parse_number(r[0]) for r in sample["filtered_resps"])
    chosen = max(range(len(logprobs)), key=lambda i: logprobs[i])
    target = str(sample["target"])
    if target.isdigit() and int(target) < len(choices):
        target = choices[int(target)]
    return target, choices[chosen], str(chosen), logprobs


def _generation(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """(raw response, first filter's answer, every filter's answer)."""
    raw = rows[0].get("resps") or [[""]]
    response = str(raw[0][0] if isinstance(raw[0], list) and raw[0] else raw[0])
    filtered = {str(r["filter"]): str((r["filtered_resps"] or [""])[0]) for r in rows}
    return response, next(iter(filtered.values())), filtered


def task_records(log: LmEvalTaskLog) -> tuple[list[SampleRecord], list[str]]:
    """One record per document and the names of metrics left out (not numbers)."""
    by_doc: dict[str, list[Mapping[str, Any]]] = {}
    for sample in log.samples:
        by_doc.setdefault(str(sample["doc_id"]), []).append(sample)
    delimiter = str(log.config.get("target_delimiter", " "))
    skipped: set[str] = set()
    records = []
    for doc_id, rows in by_doc.items():
        first = rows[0]
        metrics: dict[str, float] = {}
        for row in rows:
            for name in row["metrics"]:
                value = _numeric(row[name])
                key = metric_key(str(name), str(row["filter"]))
                if value is None:
                    skipped.add(key)
                else:
                    metrics[key] = value
        extra: dict[str, Any] = {k: first[k] for k in ("doc_hash", "prompt_hash", "target_hash")
                                 if k in first}
        prompt = str(_args(first)[0][0])
        logprobs = None
        if log.output_type in MC_TYPES:
            target, response, extracted, logprobs = _multiple_choice(first, delimiter)
            extra["is_greedy"] = [str(r[1]) == "True" for r in first["filtered_resps"]]
        elif log.output_type == "loglikelihood":
            response, extracted, target = str(first["target"]), None, str(first["target"])
            ll = parse_number(first["filtered_resps"][0][0])
            logprobs = (ll,)
            if "perplexity" in metrics:  # lm-eval logs the log-likelihood under this name
                del metrics["perplexity"]
                metrics.update(loglikelihood=ll, nll=-ll, count=1.0)
        elif log.output_type == "generate_until":
            response, extracted, filtered = _generation(rows)
            target = str(first["target"])
            extra["filtered"] = filtered
        elif log.output_type == "loglikelihood_rolling":
            response, extracted, target = "", None, ""
            metrics.update(_rolling_columns(first))
            skipped -= set(ROLLING_PAIRS)
        else:
            response, extracted, target = str(first.get("resps")), None, str(first["target"])
        records.append(SampleRecord(doc_id, prompt, target, response, extracted, metrics,
                                    choice_logprobs=logprobs, extra=extra))
    return records, sorted(skipped)


ROLLING_PAIRS = {"word_perplexity": "n_words", "byte_perplexity": "n_bytes",
                 "bits_per_byte": "n_bytes"}


def _rolling_columns(sample: Mapping[str, Any]) -> dict[str, float]:
    """A rolling sample's `(log-likelihood, count)` pairs as lmaudit's perplexity columns:
    `nll` (nats) and `n_words` / `n_bytes`."""
    columns: dict[str, float] = {}
    for name, count_column in ROLLING_PAIRS.items():
        pair = sample.get(name)
        if isinstance(pair, list | tuple) and len(pair) == 2:
            columns["nll"] = -parse_number(pair[0])
            columns[count_column] = parse_number(pair[1])
    return columns


def reported_value(log: LmEvalTaskLog, column: str) -> float | None:
    """lm-eval's aggregated value of a per-sample column (`acc` or `exact_match,flex`)."""
    metric, _, filter_name = column.partition(",")
    value = log.reported.get(results_key(metric, filter_name or "none"))
    return _numeric(value)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the imported log, for the manifest)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def task_run_dir(out: Path, task: str) -> Path:
    """Where a task's run directory goes under `out`."""
    return out / safe_dirname(task)


def import_task(log: LmEvalTaskLog, run_dir: Path, *, seed: int = 0) -> ImportedTask:
    """Write one task's log as a finished lmaudit run directory (kind `import`): records,
    metrics with intervals, lm-eval's reported values beside lmaudit's."""
    from lmaudit.core.task import Aggregation, MetricSpec

    records, skipped = task_records(log)
    columns = {name for r in records for name in r.metrics}
    specs = None
    if "nll" in columns:  # loglikelihood: lm-eval's perplexity is exp(-mean log-likelihood)
        specs = [MetricSpec(c, Aggregation.PROPORTION if c == "acc" else Aggregation.MEAN)
                 for c in sorted(columns - {"nll", "count"})]
        specs.append(MetricSpec("perplexity", Aggregation.RATIO, "nll", "count", "exp",
                                higher_is_better=False))
        columns = (columns - {"nll", "count", "loglikelihood"}) | {"perplexity"}
    if "n_words" in columns or "n_bytes" in columns:  # loglikelihood_rolling
        ratio = Aggregation.RATIO
        specs = [MetricSpec("word_perplexity", ratio, "nll", "n_words", "exp",
                            higher_is_better=False),
                 MetricSpec("byte_perplexity", ratio, "nll", "n_bytes", "exp",
                            higher_is_better=False),
                 MetricSpec("bits_per_byte", ratio, "nll", "n_bytes", "bits",
                            higher_is_better=False)]
        columns = set(ROLLING_PAIRS)
    manifest = {
        "model_spec": log.model, "model_fingerprint": log.model,
        "results_file": str(log.results_file.resolve()),
        "samples_file": str(log.samples_file.resolve()),
        "samples_sha256": file_sha256(log.samples_file), "task_config": dict(log.config),
        "output_type": log.output_type,
    }
    return write_imported_run(
        run_dir, records, task=log.task, source="lm-evaluation-harness", manifest=manifest,
        reported={name: reported_value(log, name) for name in columns},
        not_imported=skipped, seed=seed, specs=specs)
