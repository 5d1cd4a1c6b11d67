"""API answers are cached under the served model's identity (its /v1/models entry and the
responses' system_fingerprint): another model under the same name gets no stale answer,
a wrong key is noticed with a full cache, and no credential in a URL is stored or shown."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.cli import main

N = 6


def _task(root: Path) -> Path:
    with (root / "sums.jsonl").open("w") as handle:
        for i in range(N):
            handle.write(json.dumps({"q": f"{i} + {2 * i} =", "answer": str(3 * i)}) + "\n")
    path = root / "sums.yaml"
    path.write_text(
        "name: sums\ntype: generate\ndataset: {path: sums.jsonl}\n"
        'prompt: "{q}"\ntarget: answer\nscorer: numeric\nmax_tokens: 8\n'
    )
    return path


def _run(spec: str, task: Path, out: Path, cache: Path) -> int:
    argv = ["run", "--model", spec, "--task", str(task), "--out", str(out)]
    return main([*argv, "--cache-dir", str(cache), "--no-progress"])


@pytest.fixture(autouse=True)
def _no_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_another_model_under_the_same_name_gets_no_cached_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task, cache = _task(tmp_path), tmp_path / "cache"
    with FakeOpenAIServer(models={"fake": {"root": "/weights/x"}}) as server:
        spec = f"openai:fake@{server.base_url}"
        assert _run(spec, task, tmp_path / "a", cache) == 0
        assert _run(spec, task, tmp_path / "b", cache) == 0
        assert server.requests_received == N  # the second run came from the cache
        assert server.model_list_requests == 2  # one authenticated call per run
        server.models = {"fake": {"root": "/weights/y"}}
        with caplog.at_level(logging.WARNING):
            assert _run(spec, task, tmp_path / "c", cache) == 0
        assert server.requests_received == 2 * N  # no stale answer
    assert [r.getMessage() for r in caplog.records] == [
        f"fake@{server.base_url} now serves another model (its GET /models entry changed): "
        f"{N} cached answers of the previous one deleted, every request is asked again"
    ]
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())
    third = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert first["served_model"]["root"] == "/weights/x"
    assert third["served_model"]["root"] == "/weights/y"
    assert first["model_fingerprint"] != third["model_fingerprint"]


def test_a_wrong_key_fails_at_start_even_when_every_answer_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    task, cache = _task(tmp_path), tmp_path / "cache"
    with FakeOpenAIServer(api_key="right-key") as server:
        spec = f"openai:fake@{server.base_url}#MY_KEY"
        monkeypatch.setenv("MY_KEY", "right-key")
        assert _run(spec, task, tmp_path / "a", cache) == 0
        monkeypatch.setenv("MY_KEY", "wrong-key")
        capsys.readouterr()
        assert _run(spec, task, tmp_path / "b", cache) == 2
        assert server.requests_received == N
    err = capsys.readouterr().err
    assert err == (
        "lmaudit: error: the server refused the API key (checked at start with GET "
        f"{server.base_url}/models): 401 from {server.base_url}/models: bad key\n"
    )
    assert not (tmp_path / "b").exists()


def test_a_changed_system_fingerprint_drops_the_cached_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task, cache = _task(tmp_path), tmp_path / "cache"
    with FakeOpenAIServer(system_fingerprint="fp_a") as server:
        spec = f"openai:fake@{server.base_url}"
        assert _run(spec, task, tmp_path / "a", cache) == 0
        assert _run(spec, task, tmp_path / "b", cache) == 0
        assert server.requests_received == N + 1  # one cached request asked again to check
        server.system_fingerprint = "fp_b"
        with caplog.at_level(logging.WARNING):
            assert _run(spec, task, tmp_path / "c", cache) == 0
        assert server.requests_received == 2 * N + 1  # the check, then every other request
        assert _run(spec, task, tmp_path / "d", cache) == 0
        assert server.requests_received == 2 * N + 2  # cached again under fp_b
    assert [r.getMessage() for r in caplog.records] == [
        f"fake@{server.base_url} answers with system_fingerprint fp_b, not fp_a as when its "
        f"answers were cached: {N} cached answers deleted, every request is asked again"
    ]
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in "abcd"]
    assert len({json.dumps(r["metrics"], sort_keys=True) for r in results}) == 1


def test_a_server_without_a_model_list_is_not_cached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task, cache = _task(tmp_path), tmp_path / "cache"
    with FakeOpenAIServer(models=None) as server:
        spec = f"openai:fake@{server.base_url}"
        with caplog.at_level(logging.WARNING):
            assert _run(spec, task, tmp_path / "a", cache) == 0
            assert _run(spec, task, tmp_path / "b", cache) == 0
        assert server.requests_received == 2 * N
    assert caplog.records[0].getMessage() == (
        f"{server.base_url}/models answered 404: the served model cannot be identified, so "
        "its answers are not cached"
    )


def test_no_credential_in_the_run_directory_or_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    task, cache = _task(tmp_path), tmp_path / "cache"
    monkeypatch.chdir(tmp_path)
    secrets = ("pw-5ecret", "q-5ecret", "t-5ecret")
    with FakeOpenAIServer() as server:
        url = server.base_url.replace("http://", "http://alice:pw-5ecret@")
        spec = f"openai:fake@{url}?api_key=q-5ecret&token=t-5ecret&mode=x"
        argv = ["run", "--model", spec, "--task", str(task), "--cache-dir", str(cache)]
        assert main(argv) == 0
        assert server.requests_received == N
    out, err = capsys.readouterr()
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    written += [p for p in cache.rglob("*") if p.is_file()]
    assert len(written) >= 6
    for text in [out, err, *(p.read_bytes().decode("utf-8", "replace") for p in written)]:
        assert not any(secret in text for secret in secrets)
    assert not any(secret in str(p) for p in written for secret in secrets)
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model_spec"] == (
        f"openai:fake@http://***@127.0.0.1:{server.port}/v1?api_key=***&token=***&mode=x"
    )
    # resuming needs the spec again: the stored one has no credential
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "held a credential, which is never stored; give it again" in capsys.readouterr().err


def test_the_identity_leaves_out_what_changes_per_call() -> None:
    from lmaudit.backends.openai_identity import CLOCK_WINDOW_S, answer_time, stable_entry

    now = 1_700_000_000.0
    entry = {
        "id": "m",
        "created": int(now) - 5,
        "owned_by": "vllm",
        "root": "/w",
        "permission": [{"id": "x"}],
    }
    assert stable_entry(entry, now) == {"id": "m", "owned_by": "vllm", "root": "/w"}
    old = {**entry, "created": int(now - CLOCK_WINDOW_S - 1)}
    assert stable_entry(old, now)["created"] == int(now - CLOCK_WINDOW_S - 1)
    assert answer_time("Tue, 14 Nov 2023 22:13:20 GMT") == now
    assert abs(answer_time("not a date") - time.time()) < 5
    assert abs(answer_time(None) - time.time()) < 5
