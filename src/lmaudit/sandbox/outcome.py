"""How one sandboxed run ended, read from the launcher's records and the process status."""

from __future__ import annotations

import json
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SIGNAL_CAUSES = {
    signal.SIGXCPU: "CPU time limit",
    signal.SIGXFSZ: "file size limit",
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
}


@dataclass(frozen=True)
class ExecutionResult:
    """How one program ended. `status`: passed, failed (an exception, `error` names it),
    timeout (wall clock), exited (ended before its tests finished, `returncode` says how)
    or error (the sandbox itself could not run it). `seconds`: wall time. `network`: how
    the launcher's network isolation went; `pids`: "isolated" when the program ran in its
    own PID namespace. `output`: the tail of stdout+stderr."""

    status: str
    error: str | None = None
    returncode: int | None = None
    seconds: float = 0.0
    network: str | None = None
    output: str = ""
    pids: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def describe(self) -> str:
        """One line: `passed`, or the status and its detail."""
        return self.status if self.error is None else f"{self.status}: {self.error}"


def parse_records(data: bytes) -> list[dict[str, Any]]:
    """The JSON-object lines the launcher wrote (anything else is skipped)."""
    records = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def output_tail(path: Path, size: int) -> str:
    """The last `size` bytes of a program's output file, decoded leniently."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def verdict(
    records: list[dict[str, Any]], token: str, returncode: int | None, timed_out: bool
) -> tuple[str, str | None]:
    """(status, error) of a run from the launcher's records: passed only when the last
    record says so with this run's token and the process exited with status 0."""
    last = records[-1] if records else {}
    if timed_out:
        return "timeout", "wall-clock limit"
    if last.get("outcome") == "passed" and returncode == 0:
        if secrets.compare_digest(str(last.get("token", "")), token):
            return "passed", None
        return "exited", "the completion forged a result without the run's token"
    if last.get("outcome") == "failed":
        return "failed", str(last.get("error"))
    if returncode is not None and returncode < 0:
        try:
            sig = signal.Signals(-returncode)
            cause = _SIGNAL_CAUSES.get(sig, sig.name)
        except ValueError:
            cause = f"signal {-returncode}"
        return "exited", f"killed by a signal ({cause}) before the tests finished"
    return "exited", f"exited with status {returncode} before the tests finished"
