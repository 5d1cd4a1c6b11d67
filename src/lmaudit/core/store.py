"""The run store: a run is a directory.

- `manifest.json`: what is needed to reproduce the run (versions, git hash, model
  fingerprint, task spec and its hash, seeds, library versions).
- `records.jsonl`: per-sample records appended (and fsynced) as they are scored, so that
  finished work survives a crash.
- `samples.parquet`: one row per sample (prompt, response, extracted, target, scores,
  `choice_logprobs`), written when the run completes.
- `results.json`: every metric as `{value, ci_low, ci_high, n, ...}`.
- `run.lock`: held while the directory is written (see `lmaudit.core.runlock`).

What may be written where (`run_dir_state`): a missing or empty directory takes a new run;
a directory of another kind (no manifest, or another command's manifest) is never touched;
a finished run (results.json) is never overwritten. Credentials inside URLs never reach
the manifest (`lmaudit.core.redact`). Damaged JSON files raise one `LmauditError` line
naming the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from lmaudit import __version__
from lmaudit.core.redact import redact, redact_json
from lmaudit.core.runlock import LOCK_FILE
from lmaudit.core.types import LmauditError, SampleRecord

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
SAMPLES = "samples.parquet"
RESULTS = "results.json"

_LIBRARIES = ("torch", "transformers", "tokenizers", "datasets", "numpy", "scipy", "pandas")


def spec_hash(spec: Mapping[str, Any]) -> str:
    """sha256 of a JSON-serialized spec (sorted keys)."""
    text = json.dumps(spec, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_hash() -> str | None:
    """The commit of the lmaudit checkout, when it runs from one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "lmaudit": __version__}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def base_manifest(**fields: Any) -> dict[str, Any]:
    """A manifest with the environment filled in; `fields` add run-specific entries.
    Every string goes through `redact` (no credential in a stored URL or model spec)."""
    return redact_json(
        {
            "lmaudit_version": __version__,
            "git_hash": git_hash(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "libraries": library_versions(),
            **fields,
        }
    )


def default_run_dir(task: str, model: str) -> Path:
    """`runs/<time>-<task>-<model>` (the model spec redacted, unsafe characters as `_`)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    model = redact(model)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{task}-{model}")
    return Path("runs") / f"{stamp}-{safe[:80]}"


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def record_to_row(record: SampleRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "sample_id": record.sample_id,
        "prompt": record.prompt,
        "target": record.target,
        "response": record.response,
        "extracted": record.extracted,
        "cluster": record.cluster,
        "choice_logprobs": (
            None if record.choice_logprobs is None else list(record.choice_logprobs)
        ),
    }
    for name, value in record.metrics.items():
        row[name] = float(value)
    if record.usage is not None:
        row["prompt_tokens"] = record.usage.prompt_tokens
        row["completion_tokens"] = record.usage.completion_tokens
        row["latency_s"] = record.usage.latency_s
    if record.extra:
        row["extra"] = json.dumps(dict(record.extra), default=str, ensure_ascii=False)
    return row


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; one `LmauditError` line naming the file when it is
    missing, unreadable, not UTF-8, not JSON (or nested too deep, or with integers over
    Python's 4,300-digit limit), or not an object."""
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text)
    except FileNotFoundError as error:
        raise LmauditError(f"{path} is missing") from error
    except OSError as error:
        raise LmauditError(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise LmauditError(f"{path} is damaged: not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise LmauditError(
            f"{path} is damaged: not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})"
        ) from error
    except RecursionError as error:
        raise LmauditError(f"{path} is damaged: JSON nested too deep to read") from error
    except ValueError as error:  # e.g. an integer over Python's 4,300-digit limit
        raise LmauditError(f"{path} is damaged: {str(error)[:120]}") from error
    if not isinstance(value, dict):
        raise LmauditError(f"{path} is damaged: expected a JSON object, got {type(value).__name__}")
    return value


RunState = Literal["new", "unfinished", "finished"]


def run_dir_state(run_dir: Path, kind: str) -> RunState:
    """Whether `run_dir` can take a run of `kind` ("run", "score"): "new" (missing or
    empty), "unfinished" or "finished" (a run of that kind). A directory holding anything
    else, or a run of another kind, raises `LmauditError` (it is never overwritten)."""
    root = Path(run_dir)
    if root.exists() and not root.is_dir():
        raise LmauditError(f"{root} is a file, not a run directory; choose another --out")
    entries = [p.name for p in root.iterdir()] if root.is_dir() else []
    if not [name for name in entries if name != LOCK_FILE]:
        return "new"
    if MANIFEST not in entries:
        raise LmauditError(
            f"{root} is not empty and holds no lmaudit run (no {MANIFEST}); it is left "
            "untouched: choose another --out"
        )
    stored = read_json_object(root / MANIFEST).get("kind", "run")
    if stored != kind:
        raise LmauditError(
            f"{root} holds an `lmaudit {stored}` run, not an `lmaudit {kind}` run; it is left "
            "untouched: choose another --out"
        )
    return "finished" if RESULTS in entries else "unfinished"


def prepare_run_manifest(
    run_dir: Path, manifest: dict[str, Any], *, resume: bool
) -> dict[str, Any]:
    """The manifest to write: a new one, or the stored one of the run being resumed.

    An unfinished run directory of the same model and task is resumed (so re-running the
    same command continues); anything else in the way is a clear error (see
    `store.run_dir_state`: other directories are never overwritten).
    """
    state = run_dir_state(run_dir, "run")
    if state == "finished":
        raise LmauditError(
            f"{run_dir} already holds a finished run (results.json); choose another --out"
        )
    if state == "new":
        if resume:
            raise LmauditError(f"nothing to resume: {run_dir} holds no lmaudit run")
        return manifest
    stored = read_json_object(run_dir / MANIFEST)
    for field in ("model_fingerprint", "task_spec_hash", "limit"):
        if stored.get(field) != manifest.get(field):
            raise LmauditError(
                f"{run_dir} holds an unfinished run with another {field.replace('_', ' ')} "
                f"({stored.get(field)!r}, now {manifest.get(field)!r}); resume it with the "
                "same model and task, or choose another --out"
            )
    stored.setdefault("resumed", []).append(manifest["created"])
    return dict(stored)


class RunWriter:
    """Writes one run directory (the caller holds its `RunLock` and has checked
    `run_dir_state`). Appends are line-buffered and fsynced."""

    def __init__(self, run_dir: Path, manifest: Mapping[str, Any]) -> None:
        self.run_dir = Path(run_dir)
        if (self.run_dir / RESULTS).exists():
            raise LmauditError(f"{self.run_dir} already holds a finished run; choose another --out")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.run_dir / MANIFEST, redact_json(dict(manifest)))
        self._records = open(self.run_dir / RECORDS, "w", encoding="utf-8")  # noqa: SIM115
        self._rows: list[dict[str, Any]] = []

    def update_manifest(self, **fields: Any) -> None:
        """Add facts known only after the answers (e.g. the backend's scoring path)."""
        manifest = read_json_object(self.run_dir / MANIFEST)
        _write_json(self.run_dir / MANIFEST, redact_json({**manifest, **fields}))

    def append(self, records: Iterable[SampleRecord]) -> None:
        for record in records:
            row = record_to_row(record)
            self._rows.append(row)
            self._records.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self._records.flush()
        os.fsync(self._records.fileno())

    def finish(self, results: Mapping[str, Any]) -> Path:
        self._records.close()
        frame = pd.DataFrame(self._rows)
        frame.to_parquet(self.run_dir / SAMPLES, index=False)
        _write_json(self.run_dir / RESULTS, dict(results))
        return self.run_dir


@dataclass(frozen=True)
class Run:
    """A finished run loaded from disk."""

    path: Path
    manifest: dict[str, Any]
    samples: pd.DataFrame
    results: dict[str, Any]

    def metrics_frame(self) -> pd.DataFrame:
        """One row per metric: name, value, ci_low, ci_high, n."""
        rows = [{"metric": k, **v} for k, v in self.results.get("metrics", {}).items()]
        return pd.DataFrame(rows)


def load_run(path: str | Path) -> Run:
    """Load a run directory written by `lmaudit run` or `lmaudit score`."""
    root = Path(path)
    missing = [n for n in (MANIFEST, SAMPLES, RESULTS) if not (root / n).is_file()]
    if missing:
        raise LmauditError(f"{root} is not a finished lmaudit run (missing {', '.join(missing)})")
    manifest = read_json_object(root / MANIFEST)
    results = read_json_object(root / RESULTS)
    try:
        samples = pd.read_parquet(root / SAMPLES)
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise LmauditError(
            f"{root / SAMPLES} is damaged: {type(error).__name__}: {str(error)[:120]}"
        ) from error
    return Run(path=root, manifest=manifest, samples=samples, results=results)
