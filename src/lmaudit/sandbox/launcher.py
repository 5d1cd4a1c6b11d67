"""The sandbox's child side: isolate this process, then run one untrusted program.

Run as `python -I launcher.py` by `lmaudit.sandbox.execute` (standard library only; it
never imports lmaudit). Its stdin carries one JSON line of settings:

    {"token": str, "program": path, "result_fd": int, "uid": int | null,
     "result_path": path (instead of result_fd: the container runner's channel),
     "limits": {"cpu_s": int, "memory_bytes": int, "file_size_bytes": int,
                "open_files": int, "processes": int},
     "isolate_network": bool}

Order: read the settings, point stdin at /dev/null, leave the network namespace
(`unshare(CLONE_NEWNET)`, plus `CLONE_NEWUSER` when not root), set the resource limits,
drop to `uid` (root only), read the program, disable dangerous functions (`_guard`), then
`exec` the program. One JSON line goes to `result_fd` before the program runs (how the
isolation went) and one after: `{"outcome": "passed", "token": ...}` only when the
program ran to its end, else `{"outcome": "failed", "error": ...}`. Anything that ends
the process early (os._exit, a signal, a limit) leaves no outcome line: the parent counts
that as a failure.

The token is a secret only against accidents and reward hacking by early exit: code in
this interpreter could read it from memory. The OS limits, the dropped uid and the
network namespace are the boundary; the guard only stops the obvious calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import resource
import sys
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def _unshare_network() -> str:
    """Enter a fresh network namespace (only a loopback, down). Returns "isolated" or why
    not."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError as error:
        return f"not isolated: no libc ({error})"
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        return f"not isolated: unshare failed ({os.strerror(ctypes.get_errno())})"
    return "isolated"


def _set_limits(limits: dict[str, int]) -> None:
    """Soft and hard limits; CPU gets a one-second grace between SIGXCPU and SIGKILL."""
    pairs = {
        resource.RLIMIT_CPU: (limits["cpu_s"], limits["cpu_s"] + 1),
        resource.RLIMIT_AS: (limits["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (limits["file_size_bytes"],) * 2,
        resource.RLIMIT_NOFILE: (limits["open_files"],) * 2,
        resource.RLIMIT_NPROC: (limits["processes"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, value in pairs.items():
        resource.setrlimit(which, value)


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _refuse(name: str) -> Any:
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(f"{name} is disabled in the lmaudit sandbox")

    return refused


_OS_REFUSED = [
    *("system", "popen", "kill", "killpg", "fork", "forkpty", "setsid", "setpgid"),
    *("setuid", "setgid", "setreuid", "setregid", "putenv", "unsetenv"),
    *("remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace"),
    *("truncate", "ftruncate", "chmod", "fchmod", "lchmod", "chown", "fchown", "lchown"),
    *("chroot", "chdir", "fchdir", "chflags", "lchflags", "link", "symlink", "mkfifo"),
    *("mknod", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp"),
    *("execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve"),
    *("spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp"),
]


def _guard(workdir: str) -> None:
    """Disable the calls a careless or reward-hacking completion reaches for first: process
    creation and signals, file removal and permission changes, `exit`/`quit`, writing
    outside `workdir`, and a few modules. Not a sandbox: ctypes reaches around it."""
    import builtins
    import faulthandler
    import io
    import shutil
    import subprocess

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _OS_REFUSED:
        if hasattr(os, name):
            setattr(os, name, _refuse(f"os.{name}"))
    for name in ("rmtree", "move", "chown"):
        setattr(shutil, name, _refuse(f"shutil.{name}"))
    subprocess.Popen = _refuse("subprocess.Popen")  # type: ignore[misc]
    for name in ("exit", "quit", "help"):
        setattr(builtins, name, _refuse(name))
    original_open = builtins.open
    root = os.path.realpath(workdir)

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        writing = any(flag in mode for flag in "wax+")
        if writing and not isinstance(file, int):
            target = os.path.realpath(os.fspath(file))
            if os.path.commonpath([root, target]) != root:
                raise PermissionError(f"writing {target} (outside the sandbox directory)")
        return original_open(file, mode, *args, **kwargs)

    builtins.open = guarded_open
    io.open = guarded_open
    for module in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[module] = None  # type: ignore[assignment]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # a closed or replaced stream
            stream.flush()


def main() -> None:
    settings = json.loads(sys.stdin.readline())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    write, exit_now = os.write, os._exit
    result_fd: int = settings.get("result_fd") or os.open(
        settings["result_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    token: str = settings["token"]
    network = _unshare_network() if settings["isolate_network"] else "not requested"
    _set_limits(settings["limits"])
    if settings["uid"] is not None:
        _drop_privileges(settings["uid"])
    with open(settings["program"], encoding="utf-8") as handle:
        source = handle.read()
    setup = {"network": network, "uid": os.getuid()}
    write(result_fd, (json.dumps(setup) + "\n").encode())
    dumps = json.dumps
    _guard(os.getcwd())
    try:
        code = compile(source, "<sample>", "exec")
        exec(code, {"__name__": "__sample__", "__builtins__": __builtins__})
    except BaseException as error:  # SystemExit too: an early exit fails
        detail = f"{type(error).__name__}: {error}"[:500]
        write(result_fd, (dumps({"outcome": "failed", "error": detail}) + "\n").encode())
        _flush()
        exit_now(1)
    _flush()
    write(result_fd, (dumps({"outcome": "passed", "token": token}) + "\n").encode())
    exit_now(0)


if __name__ == "__main__":
    main()
