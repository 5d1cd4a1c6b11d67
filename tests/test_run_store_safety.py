"""Nothing of a run is lost: run directories are locked while written, never overwritten
across kinds or when unfinished, a finished run's command prints its results, and damaged
files give one line naming the file."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.cli import main
from lmaudit.core.cache import CACHE_FILE, RequestCache
from lmaudit.core.runlock import RunLock
from lmaudit.core.store import load_run
from lmaudit.core.types import LmauditError


def _responses(root: Path) -> Path:
    path = root / "responses.jsonl"
    rows = [{"id": str(i), "response": f"so {i}", "target": str(i)} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _score(responses: Path, out: Path) -> int:
    return main(["score", "--task", "sums", "--scorer", "numeric", "--responses", str(responses),
                 "--out", str(out)])  # fmt: skip


def _task(root: Path) -> Path:
    (root / "sums.jsonl").write_text(
        "".join(json.dumps({"q": f"{i} + 1 =", "answer": str(i + 1)}) + "\n" for i in range(4))
    )
    path = root / "sums.yaml"
    path.write_text(
        "name: sums\ntype: generate\ndataset: {path: sums.jsonl}\n"
        'prompt: "{q}"\ntarget: answer\nscorer: numeric\nmax_tokens: 8\n'
    )
    return path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def _no_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_score_never_overwrites_an_unfinished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"kind": "run", "task": "sums"}))
    (run_dir / "responses.jsonl").write_text('{"k": "a", "r": {"t": "g", "x": "1"}}\n')
    before = _snapshot(run_dir)
    assert _score(_responses(tmp_path), run_dir) == 2
    assert capsys.readouterr().err == (
        f"lmaudit: error: {run_dir} holds an `lmaudit run` run, not an `lmaudit score` run; "
        "it is left untouched: choose another --out\n"
    )
    assert _snapshot(run_dir) == before


def test_a_foreign_directory_is_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    assert _score(_responses(tmp_path), foreign) == 2
    assert capsys.readouterr().err == (
        f"lmaudit: error: {foreign} is not empty and holds no lmaudit run (no manifest.json); "
        "it is left untouched: choose another --out\n"
    )
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]


def test_a_second_writer_refuses_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scored"
    with RunLock(out):
        assert _score(_responses(tmp_path), out) == 2
        err = capsys.readouterr().err
    assert err.startswith(
        f"lmaudit: error: {out} is being written by another lmaudit process (pid {os.getpid()} "
        f"on {socket.gethostname()}, `lmaudit "
    )
    assert err.endswith("wait for it to finish or choose another --out\n")
    assert not (out / "manifest.json").exists()
    assert _score(_responses(tmp_path), out) == 0  # released: the directory is usable


def test_a_locked_run_directory_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task, out = _task(tmp_path), tmp_path / "run"
    with FakeOpenAIServer() as server:
        argv = ["run", "--model", f"openai:fake@{server.base_url}", "--task", str(task),
                "--out", str(out), "--no-cache", "--no-progress"]  # fmt: skip
        with RunLock(out):
            assert main(argv) == 2
        assert server.requests_received == 0
        assert "is being written by another lmaudit process" in capsys.readouterr().err
        assert main(argv) == 0
        assert server.requests_received == 4
        first = capsys.readouterr().out
        # the same command again: the stored results, nothing sent, exit 0
        assert main(argv) == 0
        assert server.requests_received == 4
        again = capsys.readouterr().out
        assert again.splitlines()[1:-1] == first.splitlines()[1:-1]  # metrics and usage
        assert again.endswith(
            f"finished earlier: results stored in {out} (nothing was run again)\n"
        )
        # another command on the finished run: refused, nothing overwritten
        before = _snapshot(out)
        assert main(["run", "--resume", str(out), "--no-progress"]) == 0
        assert server.requests_received == 4
        assert capsys.readouterr().out.endswith("(nothing was run again)\n")
        assert main([*argv, "--limit", "2"]) == 2
        assert capsys.readouterr().err == (
            f"lmaudit: error: {out} already holds a finished run of another command (its "
            "invocation differs); it is left untouched: choose another --out\n"
        )
        assert _snapshot(out) == before


def test_a_finished_score_run_prints_its_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    responses, out = _responses(tmp_path), tmp_path / "scored"
    assert _score(responses, out) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert _score(responses, out) == 0
    assert "finished earlier: results stored in" in capsys.readouterr().out
    assert _snapshot(out) == before


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"kind": "score", ', "not valid JSON (Expecting property name enclosed in double"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deep to read"),
        (b'{"n": ' + b"9" * 5000 + b"}", "Exceeds the limit (4300 digits)"),
    ],
)
@pytest.mark.parametrize("name", ["manifest.json", "results.json"])
def test_damaged_run_files_give_one_line(
    tmp_path: Path, name: str, content: bytes, detail: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scored"
    assert _score(_responses(tmp_path), out) == 0
    (out / name).write_bytes(content)
    with pytest.raises(LmauditError) as error:
        load_run(out)
    assert str(error.value).startswith(f"{out / name} is damaged: ")
    assert detail in str(error.value) and "\n" not in str(error.value)
    capsys.readouterr()
    assert main(["compare", str(out), str(out)]) == 2
    assert capsys.readouterr().err == f"lmaudit: error: {error.value}\n"


def test_resume_with_a_damaged_manifest_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text('{"invocation": {"model": ')
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err.startswith(
        f"lmaudit: error: {run_dir / 'manifest.json'} is damaged: not valid JSON ("
    )


def _damage_inside(path: Path) -> None:
    with RequestCache(path.parent) as cache:
        cache.record_served("m", "m@1", None)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\x07" * (4096 - 100)  # the header's tail and the schema page
    path.write_bytes(bytes(data))


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE answers (question TEXT, votes INTEGER)")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"this is not a database" * 100),
        _damage_inside,
        _foreign,
    ],
    ids=["garbage", "damaged-inside", "foreign-schema"],
)
def test_a_damaged_cache_is_named_and_cache_clear_removes_exactly_it(
    tmp_path: Path, damage: object, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    path = directory / CACHE_FILE
    damage(path)  # type: ignore[operator]
    (directory / "notes.txt").write_text("mine")
    assert main(["cache", "info", "--cache-dir", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lmaudit: error: the request cache {path} is not readable as an ")
    assert err.endswith(
        f"delete it with `lmaudit cache clear --cache-dir {directory}`, or run with --no-cache\n"
    )
    assert main(["cache", "clear", "--cache-dir", str(directory)]) == 0
    assert capsys.readouterr().out.startswith(f"deleted the damaged cache file {path} (")
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    assert main(["cache", "info", "--cache-dir", str(directory)]) == 0
    assert capsys.readouterr().out == f"{path}: 0 cached answers\n"
