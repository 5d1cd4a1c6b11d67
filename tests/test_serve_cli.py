"""`lmaudit serve` as a subprocess: announces its URL, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmaudit.cli import main
from test_serve_support import http

pytest.importorskip("torch")


def _read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            break
    raise AssertionError(f"no output from `lmaudit serve` (exit code {process.poll()})")


@pytest.mark.slow
def test_serve_subprocess_announces_answers_and_stops(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from test_backends_hf_tiny import build_model

    directory = build_model(tmp_path_factory.mktemp("serve-cli"), "gpt2")
    spec = f"hf:{directory}"
    env = {**os.environ, "SERVE_TEST_KEY": "k3y", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "lmaudit", "serve", "--model", spec, "--port", "0"]
    command += ["--served-name", "tiny", "--device", "cpu", "--api-key-env", "SERVE_TEST_KEY"]
    log = (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        line = _read_line(process, time.monotonic() + 120)
        log.flush()
        assert line, (tmp_path / "stderr.log").read_text()
        match = re.fullmatch(
            rf"serving {re.escape(spec)} as tiny on (http://127\.0\.0\.1:\d+/v1)\n", line
        )
        assert match, line
        url = match.group(1)
        origin = url.removesuffix("/v1")
        assert http(f"{origin}/health").json() == {"status": "ok"}
        body = {"model": "tiny", "prompt": "The capital of", "max_tokens": 3, "temperature": 0}
        assert http(f"{url}/completions", body).status == 401
        reply = http(f"{url}/completions", body, headers={"Authorization": "Bearer k3y"})
        assert reply.status == 200, reply.data
        assert reply.json()["usage"]["completion_tokens"] <= 3
        assert http(f"{origin}/lmaudit/stats").status == 401  # behind the key too
        stats = http(f"{origin}/lmaudit/stats", headers={"Authorization": "bearer k3y"})
        assert stats.json()["requests_completed"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def test_missing_api_key_variable_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVE_TEST_MISSING", raising=False)
    code = main(["serve", "--model", "hf:/nonexistent", "--api-key-env", "SERVE_TEST_MISSING"])
    assert code == 2
    err = capsys.readouterr().err
    assert "SERVE_TEST_MISSING" in err and "--api-key-env" in err
    code = main(["serve", "--model", "hf:/nonexistent", "--fault-rate", "0.1", "--faults", "418"])
    assert code == 2
    assert "unknown fault kind" in capsys.readouterr().err
