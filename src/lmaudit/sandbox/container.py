"""The container runner: each program in a throwaway podman or docker container.

For code nobody should trust (`--task-option sandbox=container`). The program runs under
the same launcher as the process runner (token-checked pass), inside

    ENGINE run --rm -i --name NAME --network none --read-only --cap-drop ALL
        --security-opt no-new-privileges --user 65534:65534 --pids-limit P
        --memory M --memory-swap M --cpus 1 --ulimit cpu=C --ulimit fsize=F
        --ulimit nofile=N --tmpfs /tmp:size=64m -v WORKDIR:/sandbox -w /sandbox
        IMAGE python -I /sandbox/launcher.py

so the filesystem outside /sandbox and /tmp is read-only, there is no network, and the
kernel's cgroup limits bound memory and processes. The image needs a `python` on its
PATH (default `python:3.11-slim`, pulled by the engine on first use). The engine must be
installed and answering (`podman info` / `docker info`); otherwise `find_engine` raises
an error that says so, before any program runs.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from lmaudit.core.types import LmauditError
from lmaudit.sandbox.execute import LAUNCHER
from lmaudit.sandbox.launcher import settings_text
from lmaudit.sandbox.limits import SandboxLimits
from lmaudit.sandbox.outcome import ExecutionResult, output_tail, parse_records, verdict

ENGINES = ("podman", "docker")
DEFAULT_IMAGE = "python:3.11-slim"
CONTAINER_DIR = "/sandbox"


def find_engine(preferred: str | None = None) -> str:
    """The path of a working container engine (`preferred`, else podman, else docker).
    Raises `LmauditError` naming what was tried when none is installed and answering."""
    names = (preferred,) if preferred else ENGINES
    tried = []
    for name in names:
        path = shutil.which(name)
        if path is None:
            tried.append(f"{name}: not installed")
            continue
        try:
            info = subprocess.run([path, "info"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as error:
            tried.append(f"{name}: {error}")
            continue
        if info.returncode == 0:
            return path
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        tried.append(f"{name}: installed but not answering ({reason[:200]})")
    raise LmauditError(
        "the container sandbox needs podman or docker, installed and running; "
        + "; ".join(tried)
        + ". Use the process sandbox (the default) or install an engine."
    )


def container_command(
    engine: str, image: str, workdir: Path, limits: SandboxLimits, name: str
) -> list[str]:
    """The `run` command line for one program in `workdir` (mounted at /sandbox)."""
    memory = str(limits.memory_bytes)
    return [
        engine, "run", "--rm", "-i", "--name", name,
        "--network", "none", "--read-only", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--user", "65534:65534",
        "--pids-limit", str(limits.processes),
        "--memory", memory, "--memory-swap", memory, "--cpus", "1",
        "--ulimit", f"cpu={limits.cpu_s}:{limits.cpu_s + 1}",
        "--ulimit", f"fsize={limits.file_size_bytes}",
        "--ulimit", f"nofile={limits.open_files}",
        "--tmpfs", "/tmp:size=64m",
        "-v", f"{workdir}:{CONTAINER_DIR}", "-w", CONTAINER_DIR,
        image, "python", "-I", f"{CONTAINER_DIR}/launcher.py",
    ]  # fmt: skip


def run_in_container(
    program: str,
    limits: SandboxLimits | None = None,
    *,
    engine: str,
    image: str = DEFAULT_IMAGE,
) -> ExecutionResult:
    """Run one program in a fresh container (see the module docstring). The wall-clock
    limit covers the container's start; on timeout the container is killed by name."""
    limits = limits or SandboxLimits()
    token = secrets.token_hex(16)
    name = f"lmaudit-sandbox-{secrets.token_hex(6)}"
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lmaudit-container-") as work:
        workdir = Path(work)
        workdir.chmod(0o777)  # the container's user 65534 writes here
        (workdir / "program.py").write_text(program, encoding="utf-8")
        shutil.copyfile(LAUNCHER, workdir / "launcher.py")
        settings = {
            "token": token, "program": f"{CONTAINER_DIR}/program.py", "result_fd": None,
            "result_path": f"{CONTAINER_DIR}/result.jsonl", "uid": None,
            **limits.child_limits(), "isolate_network": False,
        }  # fmt: skip
        command = container_command(engine, image, workdir, limits, name)
        output_path = workdir / "output.txt"
        timed_out = False
        with open(output_path, "wb") as output:
            try:
                done = subprocess.run(
                    command, input=settings_text(settings).encode(),
                    stdout=output, stderr=subprocess.STDOUT, timeout=limits.wall_s,
                )  # fmt: skip
                returncode: int | None = done.returncode
            except subprocess.TimeoutExpired:
                timed_out, returncode = True, None
                subprocess.run([engine, "kill", name], capture_output=True, timeout=30)
            except OSError as failure:
                return ExecutionResult("error", f"the container sandbox could not start: {failure}")
        result_file = workdir / "result.jsonl"
        records = parse_records(result_file.read_bytes()) if result_file.is_file() else []
        status, error = verdict(records, token, returncode, timed_out)
        return ExecutionResult(
            status, error, returncode, round(time.monotonic() - start, 4), "container",
            output_tail(output_path, limits.output_bytes),
        )  # fmt: skip


def run_all_in_containers(
    programs: Sequence[str],
    limits: SandboxLimits | None = None,
    *,
    engine: str,
    image: str = DEFAULT_IMAGE,
    workers: int | None = None,
) -> list[ExecutionResult]:
    """`run_in_container` for each program, `workers` at a time; results in input order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, workers or 1)) as pool:
        return list(
            pool.map(lambda p: run_in_container(p, limits, engine=engine, image=image), programs)
        )
