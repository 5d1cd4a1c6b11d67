"""Zygotes: one started launcher per parallel slot that forks a fresh child per program.

Starting an interpreter costs more than most HumanEval programs take to run; a fork of a
small interpreter that has already started (and never runs untrusted code itself) does
not. Each child then does exactly what a freshly started launcher does (namespaces,
limits, dropped uid, guard, token), so the isolation is the same: the zygote is an
optimisation, and `lmaudit.sandbox.execute` falls back to starting the launcher per
program whenever a zygote cannot be used.

Protocol (`launcher._serve`): over a SOCK_SEQPACKET socketpair the parent sends a run's
settings with two descriptors (output file, result pipe); the zygote answers the child's
pid, then its exit status (negative: killed by that signal).
"""

from __future__ import annotations

import atexit
import contextlib
import select
import socket
import subprocess
import threading
from pathlib import Path

_LOCK = threading.Lock()
_ZYGOTES: dict[tuple[str, int], Zygote] = {}


class ZygoteError(OSError):
    """The zygote is gone or answered out of protocol: start the launcher instead."""


class Zygote:
    """One zygote process (root, never running a program) and the socket to it."""

    def __init__(self, interpreter: str, launcher: Path) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [interpreter, "-I", str(launcher), "--zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        finally:
            theirs.close()

    def _answer(self, timeout_s: float | None) -> int | None:
        if timeout_s is not None:
            ready, _, _ = select.select([self.sock], [], [], timeout_s)
            if not ready:
                return None
        data = self.sock.recv(64)
        try:
            return int(data)
        except ValueError:
            raise ZygoteError(f"zygote answered {data!r:.40}") from None

    def start(self, settings: str, output_fd: int, result_fd: int) -> int:
        """Fork a child for one run; its pid (also its process group)."""
        socket.send_fds(self.sock, [settings.encode()], [output_fd, result_fd])
        pid = self._answer(30.0)
        if pid is None or pid <= 0:
            raise ZygoteError("zygote did not start the run")
        return pid

    def wait(self, timeout_s: float | None) -> int | None:
        """The child's exit status, or None when `timeout_s` passes first."""
        return self._answer(timeout_s)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.process.kill()
            self.process.wait(timeout=5)


def zygote_for(interpreter: str, launcher: Path, slot: int) -> Zygote:
    """The slot's zygote, started on first use (callers use one slot from one thread)."""
    key = (interpreter, slot)
    with _LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is None or zygote.process.poll() is not None:
            zygote = _ZYGOTES[key] = Zygote(interpreter, launcher)
        return zygote


def discard(interpreter: str, slot: int) -> None:
    """Close the slot's zygote (after a protocol error); the next run starts a new one."""
    with _LOCK:
        zygote = _ZYGOTES.pop((interpreter, slot), None)
    if zygote is not None:
        zygote.close()


@atexit.register
def _close_all() -> None:
    with _LOCK:
        zygotes = list(_ZYGOTES.values())
        _ZYGOTES.clear()
    for zygote in zygotes:
        zygote.close()
