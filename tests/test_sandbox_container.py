"""The container runner: the command line it builds, and a clear error without an engine."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.sandbox import SandboxLimits
from lmaudit.sandbox.container import container_command, find_engine, run_in_container


def _fake_engine(directory: Path, name: str, *, answers: bool) -> Path:
    script = directory / name
    script.write_text(
        "#!/bin/sh\n"
        + ("exit 0\n" if answers else "echo 'Cannot connect to the daemon' >&2\nexit 1\n")
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_command_line_isolates_the_program(tmp_path: Path) -> None:
    limits = SandboxLimits(cpu_s=4, memory_bytes=256 << 20, processes=16, open_files=32)
    command = container_command("/usr/bin/podman", "python:3.11-slim", tmp_path, limits, "n1")
    joined = " ".join(command)
    assert command[:4] == ["/usr/bin/podman", "run", "--rm", "-i"]
    for expected in (
        "--network none",
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--user 65534:65534",
        "--pids-limit 16",
        f"--memory {256 << 20} --memory-swap {256 << 20}",
        "--ulimit cpu=4:5",
        f"--ulimit fsize={limits.file_size_bytes}",
        "--ulimit nofile=32",
        f"-v {tmp_path}:/sandbox -w /sandbox",
        "--name n1",
    ):
        assert expected in joined
    assert command[-4:] == ["python:3.11-slim", "python", "-I", "/sandbox/launcher.py"]


def test_no_engine_installed_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LmauditError) as error:
        find_engine()
    message = str(error.value)
    assert "needs podman or docker" in message
    assert "podman: not installed" in message and "docker: not installed" in message


def test_an_engine_that_does_not_answer_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_engine(tmp_path, "docker", answers=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LmauditError, match="docker: installed but not answering"):
        find_engine()


def test_a_working_engine_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _fake_engine(tmp_path, "podman", answers=True)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_engine() == str(script)
    with pytest.raises(LmauditError, match="docker: not installed"):
        find_engine("docker")


def _local_engine(directory: Path) -> Path:
    """A stand-in for docker: `info` answers; `run ... -v DIR:/sandbox ...` runs the
    launcher here on DIR, with /sandbox in its settings rewritten to DIR."""
    script = directory / "docker"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = info ] || [ "$1" = kill ]; then exit 0; fi\n'
        'src=""; prev=""\n'
        'for arg in "$@"; do\n'
        '  if [ "$prev" = "-v" ]; then src="${arg%%:/sandbox}"; fi\n'
        '  prev="$arg"\n'
        "done\n"
        'cd "$src" || exit 97\n'
        f'sed "s#/sandbox#$src#g" | exec {sys.executable} -I "$src/launcher.py"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize(
    ("program", "status"),
    [
        ("assert sum([1, 2]) == 3\n", "passed"),
        ("assert sum([1, 2]) == 4\n", "failed"),
        ("import os\nos._exit(0)\n", "exited"),
        ("import sys\nsys.exit(0)\n", "failed"),
    ],
)
def test_container_runner_reads_the_launchers_verdict(
    program: str, status: str, tmp_path: Path
) -> None:
    engine = _local_engine(tmp_path)
    result = run_in_container(program, SandboxLimits(wall_s=10), engine=str(engine))
    assert result.status == status, result.describe()
    assert result.network == "container"


def test_settings_refuse_a_newline() -> None:
    from lmaudit.sandbox.launcher import settings_text

    assert settings_text({"a": 1, "b": None, "c": True}) == "a=1\nb=\nc=1\n\n"
    with pytest.raises(ValueError, match="newline"):
        settings_text({"program": "/tmp/x\ntoken=forged"})


def test_verdict_needs_the_token_and_a_clean_exit() -> None:
    from lmaudit.sandbox.outcome import verdict

    good = [{"network": "isolated"}, {"outcome": "passed", "token": "abc"}]
    assert verdict(good, "abc", 0, False) == ("passed", None)
    assert verdict(good, "xyz", 0, False)[0] == "exited"  # forged
    assert verdict(good, "abc", 1, False)[0] == "exited"  # passed, then a non-zero exit
    assert verdict(good, "abc", 0, True)[0] == "timeout"
    assert verdict([], "abc", -24, False)[1] == (
        "killed by a signal (CPU time limit) before the tests finished"
    )
    assert verdict([{"network": "isolated"}], "abc", 0, False)[0] == "exited"
