"""Run untrusted Python programs: one process each, in a fresh temporary directory.

Each program runs under `launcher.py`, in a child forked for it by the slot's zygote
(`lmaudit.sandbox.zygote`; a freshly started launcher when there is none), in a new session
so that its whole process group can be killed, with the limits of `SandboxLimits`, its
stdin at /dev/null and its output in a file bounded by RLIMIT_FSIZE. It passes only when
the launcher reports, on a private pipe, that the program ran to its end and echoes this
run's random token; exiting early (even with status 0), being killed by a limit, or
hanging past `wall_s` is a failure.

The program runs in its own network and PID namespaces where the kernel allows
(`unshare`, with a user namespace when not root): no network, nothing outside visible or
signalable, and every process it started dies with it. As root, each run also drops to an
unprivileged uid (`SANDBOX_UID_BASE + slot`, one per parallel slot) under an interpreter
that uid can read, so the OS stops writes outside the directory and fork bombs
(RLIMIT_NPROC); without a PID namespace, or after a timeout, every process left under that
uid is killed. When no such interpreter exists, or lmaudit is not root, runs keep the
caller's uid and `SandboxInfo.notes` says so; `ExecutionResult.network` and `.pids` say
which namespaces took.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lmaudit.sandbox.launcher import settings_text
from lmaudit.sandbox.limits import SandboxLimits
from lmaudit.sandbox.outcome import ExecutionResult, output_tail, parse_records, verdict
from lmaudit.sandbox.zygote import discard, zygote_for

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
SANDBOX_UID_BASE = 1_500_000_000
_KILL = shutil.which("kill") or "/bin/kill"


@dataclass(frozen=True)
class SandboxInfo:
    """How programs will run here: the interpreter, whether runs drop to a sandbox uid,
    and notes on every protection that is missing."""

    interpreter: str
    drop_uid: bool
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "interpreter": self.interpreter,
            "drop_uid": self.drop_uid,
            "notes": list(self.notes),
        }


def _readable_by(interpreter: str, uid: int) -> bool:
    """Whether `uid` can start `interpreter` and import compiled stdlib modules."""
    try:
        done = subprocess.run(
            [interpreter, "-I", "-c", "import math, json, collections, re, hashlib"],
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.cache
def sandbox_info() -> SandboxInfo:
    """Probe once per process: as root, the first of this interpreter, `python3` on PATH
    and /usr/bin/python3 that a sandbox uid can run; otherwise the caller's uid."""
    if os.geteuid() != 0:
        return SandboxInfo(
            sys.executable,
            False,
            (
                "not root: programs run under your uid; RLIMIT_NPROC counts all your processes "
                "and only the guard stops writes outside the directory and signals to lmaudit",
            ),
        )
    candidates = [sys.executable, shutil.which("python3") or "", "/usr/bin/python3"]
    for interpreter in dict.fromkeys(c for c in candidates if c):
        if _readable_by(interpreter, SANDBOX_UID_BASE):
            notes = (
                ()
                if interpreter == sys.executable
                else (
                    f"{sys.executable} is not readable by an unprivileged uid; programs run "
                    f"under {interpreter}",
                )
            )
            return SandboxInfo(interpreter, True, notes)
    return SandboxInfo(
        sys.executable,
        False,
        (
            "root, and no interpreter an unprivileged uid can read: programs run as root "
            "(RLIMIT_NPROC is not enforced; only the guard stops writes outside the directory)",
        ),
    )


def _reap_uid(uid: int) -> None:
    """Kill every process of `uid` (what a program left behind, in any process group):
    `kill -9 -1` run as that uid signals all its processes but itself."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [_KILL, "-9", "-1"],
            user=uid,
            group=uid,
            extra_groups=[],
            timeout=10,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _wait(process: subprocess.Popen[bytes], seconds: float) -> int | None:
    """The exit status, or None after `seconds`. Waits on a pidfd where Linux has them:
    `Popen.wait(timeout)` polls with sleeps growing to 50 ms, which would add tens of
    milliseconds to every short program."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            return process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(seconds * 1000):
            return None
    finally:
        os.close(pidfd)
    return process.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_pipe(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _launch(
    interpreter: str, slot: int, settings: str, output: BinaryIO, result_fd: int, wall_s: float
) -> tuple[int | None, bool]:
    """Start one run (through the slot's zygote, else a freshly started launcher), wait at
    most `wall_s`, then kill its process group. Returns (exit status, timed out)."""
    try:
        zygote = zygote_for(interpreter, LAUNCHER, slot)
        pid = zygote.start(settings, output.fileno(), result_fd)
    except OSError:
        discard(interpreter, slot)
    else:
        try:
            returncode = zygote.wait(wall_s)
            _kill_group(pid)
            if returncode is None:
                return zygote.wait(30.0), True
            return returncode, False
        except OSError:
            _kill_group(pid)
            discard(interpreter, slot)
            raise
    process = subprocess.Popen(
        [interpreter, "-I", str(LAUNCHER)],
        stdin=subprocess.PIPE,
        stdout=output,
        stderr=subprocess.STDOUT,
        cwd=_workdir(settings),
        pass_fds=(result_fd,),
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": _workdir(settings)},
    )
    try:
        assert process.stdin is not None
        process.stdin.write(settings.encode())
        process.stdin.close()
    except BrokenPipeError:
        pass
    returncode = _wait(process, wall_s)
    _kill_group(process.pid)
    if returncode is None:
        return process.wait(), True
    return returncode, False


def _workdir(settings: str) -> str:
    return next(line[8:] for line in settings.splitlines() if line.startswith("workdir="))


def run_program(
    program: str,
    limits: SandboxLimits | None = None,
    *,
    slot: int = 0,
    isolate_network: bool = True,
) -> ExecutionResult:
    """Run one Python program in the sandbox and say how it ended (never raises for
    anything the program does). `slot` picks the sandbox uid (one per parallel worker)."""
    limits = limits or SandboxLimits()
    info = sandbox_info()
    uid = SANDBOX_UID_BASE + slot if info.drop_uid else None
    token = secrets.token_hex(16)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lmaudit-sandbox-") as work:
        workdir = Path(work)
        (workdir / "program.py").write_text(program, encoding="utf-8")
        if uid is not None:
            os.chown(workdir, uid, uid)
            os.chown(workdir / "program.py", uid, uid)
        read_fd, write_fd = os.pipe()
        settings = {
            "token": token,
            "program": str(workdir / "program.py"),
            "result_fd": write_fd,
            "uid": uid,
            **limits.child_limits(),
            "isolate_network": isolate_network,
        }
        output_path = workdir / "output.txt"
        timed_out, returncode = False, None
        try:
            with open(output_path, "wb") as output:
                text = settings_text({**settings, "workdir": work})
                returncode, timed_out = _launch(info.interpreter, slot, text, output, write_fd,
                                                limits.wall_s)  # fmt: skip
            records = parse_records(_read_pipe(read_fd))
            own_pids = any(r.get("pids") == "isolated" for r in records)
            if uid is not None and (timed_out or not own_pids):
                # without a PID namespace nothing takes the leftovers down; after a
                # timeout its PID 1 may still be tearing down (a fork bomb's thousands)
                _reap_uid(uid)
        except OSError as failure:
            return ExecutionResult("error", f"the sandbox could not run it: {failure}")
        finally:
            os.close(read_fd)
            os.close(write_fd)
        status, error = verdict(records, token, returncode, timed_out)
        network = next((str(r["network"]) for r in records if "network" in r), None)
        return ExecutionResult(
            status,
            error,
            returncode,
            round(time.monotonic() - start, 4),
            network,
            output_tail(output_path, limits.output_bytes),
            "isolated" if own_pids else "shared",
        )


def run_programs(
    programs: Sequence[str],
    limits: SandboxLimits | None = None,
    *,
    workers: int | None = None,
    isolate_network: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[ExecutionResult]:
    """Run programs in parallel, at most `workers` at a time (default: the CPU count),
    each in its own slot (own sandbox uid); results in input order."""
    workers = max(1, min(workers or os.cpu_count() or 1, max(1, len(programs))))
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def one(program: str) -> ExecutionResult:
        slot = slots.get()
        try:
            return run_program(program, limits, slot=slot, isolate_network=isolate_network)
        finally:
            slots.put(slot)
            if progress is not None:
                progress(1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, programs))
