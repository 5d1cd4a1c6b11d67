"""One writer per run directory: an exclusive `fcntl.flock` on `RUN_DIR/run.lock`.

The lock is held while a run directory is written (`lmaudit run`, `lmaudit score`); a
second process that wants to write the same directory refuses at once, naming the holder
(pid, host, command line with credentials redacted, start time), which the holder writes
into the lock file. The operating system releases the lock when the holder exits, even by
`kill -9`, so a stale lock file never blocks anyone; the file itself stays (removing it
would let two processes lock two different files of the same name). The lock is advisory
and local: it does not protect a directory on a network file system shared by hosts whose
file system does not support `flock`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from types import TracebackType

from lmaudit.core.redact import redact
from lmaudit.core.types import LmauditError

LOCK_FILE = "run.lock"


def _holder() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": redact(" ".join(["lmaudit", *sys.argv[1:]])),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _describe(raw: str) -> str:
    try:
        info = json.loads(raw)
        return (
            f"pid {info['pid']} on {info['host']}, `{redact(str(info['command']))}`, "
            f"since {info['since']}"
        )
    except (ValueError, KeyError, TypeError):
        return "a process that did not say which"


class RunLock:
    """`with RunLock(run_dir):` holds the directory's lock (creating the directory)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock, or raise `LmauditError` naming the process that holds it."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise LmauditError(f"cannot lock {self.run_dir}: {error}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
                holder = _describe(handle.read(4096))
            raise LmauditError(
                f"{self.run_dir} is being written by another lmaudit process ({holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(_holder()) + "\n").encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the lock go (the file stays, emptied)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
