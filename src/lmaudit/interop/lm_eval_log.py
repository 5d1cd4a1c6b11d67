"""Read an lm-evaluation-harness (0.4.x) `--output_path` directory written with
`--log_samples` into typed per-task logs.

The layout lm-eval writes (`loggers/evaluation_tracker.py`): under the output path, one
folder per model holding `results_<date>.json` (the aggregated `results`, per-task
`configs`, `n-samples`, `config` with the model) and one `samples_<task>_<date>.jsonl` per
task. Each sample line holds `doc_id`, `doc`, `target` (a string), `arguments`
(`{"gen_args_<i>": {"arg_<j>": ...}}`: one entry per request, the context first),
`resps`/`filtered_resps` (stringified: `["-11.13", "False"]` per choice for log-likelihood
requests, the generated text for `generate_until`), `filter` (the filter pipeline's name;
a task with several filters logs each document once per filter), `metrics` (the names) and
one value per metric name, plus `doc_hash`, `prompt_hash`, `target_hash`.

Aggregated metrics are keyed `"<metric>,<filter>"` in `results` (`"acc,none"`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.store import read_json_object
from lmaudit.core.types import LmauditError

SAMPLE_FIELDS = ("doc_id", "target", "arguments", "filtered_resps", "filter", "metrics")


@dataclass(frozen=True)
class LmEvalTaskLog:
    """One task of one lm-eval results file: its config, reported metrics and samples."""

    task: str
    results_file: Path
    samples_file: Path
    config: Mapping[str, Any]
    reported: Mapping[str, Any]
    model: str
    samples: tuple[Mapping[str, Any], ...]

    @property
    def output_type(self) -> str:
        """`multiple_choice`, `generate_until`, `loglikelihood`, ... ("" when unrecorded)."""
        return str(self.config.get("output_type") or "")


def find_results_files(root: Path) -> list[Path]:
    """Every `results_*.json` under `root` (or `root` itself when it is one), oldest first
    by lm-eval's date suffix."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise LmauditError(f"{root} does not exist")
    files = sorted(root.rglob("results_*.json"), key=lambda p: p.name)
    if not files:
        raise LmauditError(
            f"{root} holds no lm-eval results_*.json (run lm_eval with --output_path "
            "and --log_samples)")
    return files


def _date_id(results_file: Path) -> str:
    return results_file.stem.removeprefix("results_")


def _read_samples(path: Path) -> tuple[dict[str, Any], ...]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise LmauditError(f"{path}: line {line_no} is not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise LmauditError(f"{path}: line {line_no} is not a JSON object")
            missing = [f for f in SAMPLE_FIELDS if f not in row]
            missing += [str(m) for m in row.get("metrics") or [] if m not in row]
            if missing:
                raise LmauditError(
                    f"{path}: line {line_no} lacks {', '.join(missing)} (not an lm-eval "
                    "0.4 sample log)")
            rows.append({**row, "_line": line_no})
    return tuple(rows)


def _model_name(payload: Mapping[str, Any]) -> str:
    config = payload.get("config") or {}
    args = config.get("model_args") if isinstance(config, Mapping) else None
    name = payload.get("model_name") or (
        args.get("pretrained") if isinstance(args, Mapping) else args)
    backend = config.get("model") if isinstance(config, Mapping) else None
    if not name:
        return "lm-eval:unknown-model"
    return f"lm-eval:{backend}:{name}" if backend else f"lm-eval:{name}"


def read_lm_eval_dir(root: Path, results_file: Path | None = None) -> list[LmEvalTaskLog]:
    """The task logs of one results file under `root` (default: the newest). A task
    without its samples file is an error naming the file (logs need `--log_samples`)."""
    chosen = results_file or find_results_files(root)[-1]
    payload = read_json_object(chosen)
    results = payload.get("results")
    if not isinstance(results, dict) or not results:
        raise LmauditError(f"{chosen} has no `results` (not an lm-eval results file)")
    configs = payload.get("configs") or {}
    logs = []
    for task, reported in results.items():
        if task not in configs:  # a group's aggregate row: its subtasks are logged
            continue
        samples_file = chosen.with_name(f"samples_{task}_{_date_id(chosen)}.jsonl")
        if not samples_file.is_file():
            raise LmauditError(
                f"{samples_file} is missing: lm-eval writes per-sample logs only with "
                "--log_samples")
        logs.append(LmEvalTaskLog(task, chosen, samples_file, configs[task], reported,
                                  _model_name(payload), _read_samples(samples_file)))
    return logs


def parse_number(value: Any) -> float:
    """A log-likelihood logged as text (`"-11.13"`) or a number, as a float."""
    return float(value)


def metric_key(metric: str, filter_name: str) -> str:
    """The per-sample column an lm-eval metric becomes: its name under the `none` filter,
    else `<metric>,<filter>` as lm-eval's results key it."""
    return metric if filter_name == "none" else f"{metric},{filter_name}"


def results_key(metric: str, filter_name: str) -> str:
    """lm-eval's key of an aggregated metric in `results`."""
    return f"{metric},{filter_name}"


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_dirname(task: str) -> str:
    """A task name made safe as one path component."""
    return _SAFE.sub("_", task).strip("._") or "task"
