"""The sandbox's child side: isolate this process, then run one untrusted program.

Run as `python -I launcher.py` by `lmaudit.sandbox.execute` (standard library only; it
never imports lmaudit, and imports as little as it can: every run pays for it). Its
stdin carries the settings, one `key=value` a line, then an empty line (`settings_text`):
`token`, `program` (path), `result_fd` (or `result_path`, the container runner's channel),
`uid` (empty: keep), `cpu_s`, `memory_bytes`, `file_size_bytes`, `open_files`,
`processes`, `isolate_network` (1 or 0).

Order: read the settings, point stdin at /dev/null, leave the network and PID namespaces
(`unshare(CLONE_NEWNET | CLONE_NEWPID)`, plus `CLONE_NEWUSER` when not root; the program
then runs in a child of the namespace's PID 1, see `_run_as_init`), set the limits,
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

import os
import resource
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
LIMIT_KEYS = ("cpu_s", "memory_bytes", "file_size_bytes", "open_files", "processes")


def _unshare(network: bool) -> tuple[str, bool]:
    """Enter fresh namespaces: a network one (only a loopback, down) when `network`, and
    a PID one (`_run_as_init`). Returns (network status, whether the PID one took), trying
    both, then the network one alone."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own libc symbols
    except (ImportError, OSError) as error:
        return f"not isolated: no libc ({error})", False
    user = 0 if os.geteuid() == 0 else CLONE_NEWUSER
    net = CLONE_NEWNET if network else 0
    if libc.unshare(user | net | CLONE_NEWPID) == 0:
        return ("isolated" if network else "not requested"), True
    why = os.strerror(ctypes.get_errno())
    if network and libc.unshare(user | net) == 0:
        return "isolated", False
    return (f"not isolated: unshare failed ({why})" if network else "not requested"), False


def _relay(pid: int) -> None:
    """Wait for child `pid` and end this process the way it ended (a signal as exit
    status 128 + N in PID 1, which cannot kill itself with most signals)."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if os.getpid() != 1:
            import signal

            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    code = os.waitstatus_to_exitcode(status)
    if code > 128 and os.getpid() != 1:  # PID 1 relayed a signal: end by it here
        import signal

        signal.signal(code - 128, signal.SIG_DFL)
        os.kill(os.getpid(), code - 128)
    os._exit(code)


def _run_as_init() -> None:
    """After unshare(CLONE_NEWPID): fork PID 1 of the new namespace, which forks the
    program's process and exits when it does. The kernel then kills every process left
    in the namespace (detached or not), and none of them can see or signal anything
    outside it. Returns only in the program's process."""
    pid = os.fork()
    if pid:
        _relay(pid)  # the launcher, outside the namespace
    pid = os.fork()
    if pid:
        _relay(pid)  # PID 1


def settings_text(settings: Mapping[str, object]) -> str:
    """The settings as this launcher reads them (used by the parent)."""
    lines = []
    for key, value in settings.items():
        text = "" if value is None else str(int(value) if isinstance(value, bool) else value)
        if "\n" in text:
            raise ValueError(f"sandbox setting {key} holds a newline")
        lines.append(f"{key}={text}\n")
    return "".join(lines) + "\n"


def _read_settings() -> dict[str, str]:
    settings = {}
    for line in sys.stdin:
        if line == "\n":
            break
        key, _, value = line.rstrip("\n").partition("=")
        settings[key] = value
    return settings


def _json_line(record: dict[str, str]) -> bytes:
    """One JSON object of string values, without importing json."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:  # a Python without the C accelerator
        from json import dumps as quote
    body = ", ".join(f"{quote(k)}: {quote(v)}" for k, v in record.items())
    return ("{" + body + "}\n").encode("ascii")


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
    import _posixsubprocess
    import builtins
    import faulthandler
    import io

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _OS_REFUSED:
        if hasattr(os, name):
            setattr(os, name, _refuse(f"os.{name}"))
    # subprocess.Popen starts every child through this one C function; shutil's rmtree,
    # move and chown go through the os functions refused above.
    _posixsubprocess.fork_exec = _refuse("subprocess")
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
        try:  # noqa: SIM105 - contextlib would cost an import on every run
            stream.flush()
        except BaseException:  # a closed or replaced stream
            pass


def _run(settings: dict[str, str], result_fd: int) -> None:
    """Isolate this process, run the program, report on `result_fd`; never returns."""
    write, exit_now, json_line = os.write, os._exit, _json_line
    token = settings["token"]
    network, own_pids = _unshare(settings.get("isolate_network") == "1")
    if own_pids:
        _run_as_init()
    _set_limits({key: int(settings[key]) for key in LIMIT_KEYS})
    if settings.get("uid"):
        _drop_privileges(int(settings["uid"]))
    with open(settings["program"], encoding="utf-8") as handle:
        source = handle.read()
    pids = "isolated" if own_pids else "shared"
    write(result_fd, json_line({"network": network, "pids": pids, "uid": str(os.getuid())}))
    _guard(os.getcwd())
    try:
        code = compile(source, "<sample>", "exec")
        exec(code, {"__name__": "__sample__", "__builtins__": __builtins__})
    except BaseException as error:  # SystemExit too: an early exit fails
        detail = f"{type(error).__name__}: {error}"[:500]
        write(result_fd, json_line({"outcome": "failed", "error": detail}))
        _flush()
        exit_now(1)
    _flush()
    write(result_fd, json_line({"outcome": "passed", "token": token}))
    exit_now(0)


def _parse_settings(text: str) -> dict[str, str]:
    settings = {}
    for line in text.split("\n"):
        if line:
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def _serve(fd: int) -> None:
    """The zygote (`lmaudit.sandbox.zygote`): on the SOCK_SEQPACKET socket `fd`, each
    message is one run's settings (with `workdir`) carrying two descriptors, the output
    file and the result pipe. Fork a child per run (a new session, in `workdir`, output on
    stdout and stderr) that `_run`s it; answer its pid, then its exit status (negative:
    killed by that signal). This process never runs a program itself."""
    import _posixsubprocess  # noqa: F401 - imported once here, not in every child
    import ctypes  # noqa: F401
    import faulthandler  # noqa: F401
    import socket

    server = socket.socket(fileno=fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(server, 1 << 16, 2)
        except OSError:
            return
        if not message or len(fds) != 2:
            return
        pid = os.fork()
        if pid == 0:
            server.close()
            output, result_fd = fds
            os.setsid()
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.close(output)
            settings = _parse_settings(message.decode())
            os.chdir(settings["workdir"])
            os.environ["HOME"] = settings["workdir"]
            _run(settings, result_fd)
        for descriptor in fds:
            os.close(descriptor)
        server.send(str(pid).encode())
        _, status = os.waitpid(pid, 0)
        server.send(str(os.waitstatus_to_exitcode(status)).encode())


def main() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    if sys.argv[1:2] == ["--zygote"]:
        os.dup2(devnull, 0)
        _serve(int(sys.argv[2]))
        return
    settings = _read_settings()
    os.dup2(devnull, 0)
    os.close(devnull)
    if settings.get("result_fd"):
        result_fd = int(settings["result_fd"])
    else:
        result_fd = os.open(settings["result_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    _run(settings, result_fd)


if __name__ == "__main__":
    main()
