"""`lmaudit arena serve` wiring (backends from specs, config from the environment) and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from arena_app_fixtures import ScriptedBackend
from lmaudit.cli import main


def test_serve_builds_app_from_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded: list[tuple[str, dict[str, Any]]] = []
    served: dict[str, Any] = {}

    def load_backend(spec: str, options: dict[str, Any]) -> ScriptedBackend:
        loaded.append((spec, options))
        return ScriptedBackend(f"answer of {spec}")

    def run(app: Any, host: str, port: int, **settings: Any) -> None:
        served.update(app=app, host=host, port=port, settings=settings)

    monkeypatch.setattr("lmaudit.backends.registry.load_backend", load_backend)
    monkeypatch.setattr("uvicorn.run", run)
    monkeypatch.setenv("LMAUDIT_ARENA_ADMIN_TOKEN", "tok")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    code = main(["arena", "serve", "--model", "one=lab:demo", "--model", "two=openai:m@http://x",
                 "--db", db, "--port", "8123", "--secure-cookie", "--trust-proxy", "10.0.0.0/8"])
    assert code == 0 and served["port"] == 8123 and served["host"] == "127.0.0.1"
    assert served["settings"]["proxy_headers"] is False  # only the app reads X-Forwarded-For
    assert loaded == [("lab:demo", {"device": "auto"}), ("openai:m@http://x", {})]
    client = TestClient(served["app"])
    assert "secure" in client.get("/").headers["set-cookie"].lower()
    board = client.get("/api/leaderboard").json()
    assert board["counts"] == {"one": 0, "two": 0}
    assert client.get("/api/admin/export", headers={"Authorization": "Bearer tok"}).text == ""
    assert "2 models" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (["--model", "justname"], "NAME=SPEC"),
        (["--model", "a=x:y", "--model", "a=x:z"], "given twice"),
        (["--model", "a=x:y", "--model", "b=x:z", "--trust-proxy", "10.0.0.0/33"],
         "--trust-proxy: '10.0.0.0/33' is not an IP address or CIDR network"),
    ],
)
def test_serve_rejects_bad_models(
    models: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["arena", "serve", *models]) == 2
    assert message in capsys.readouterr().err


def test_serve_needs_two_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("lmaudit.backends.registry.load_backend",
                        lambda spec, options: ScriptedBackend("x"))
    assert main(["arena", "serve", "--model", "a=lab:x", "--db",
                 f"sqlite:///{tmp_path / 'a.db'}"]) == 2
    assert "at least two models" in capsys.readouterr().err


def test_export_empty_database(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "b.jsonl"
    assert main(["arena", "export", "--db", f"sqlite:///{tmp_path / 'e.db'}", "--out",
                 str(out)]) == 0
    assert out.read_text() == ""


def test_export_refuses_other_databases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arena", "export", "--db", "mysql://u@h/arena", "--out",
                 str(tmp_path / "b.jsonl")]) == 2
    assert "SQLite (sqlite:///FILE) or PostgreSQL" in capsys.readouterr().err


def test_a_database_that_cannot_be_opened_is_one_line_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded: list[str] = []
    monkeypatch.setattr("lmaudit.backends.registry.load_backend",
                        lambda spec, options: loaded.append(spec))
    db = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'a.db'}"
    assert main(["arena", "serve", "--model", "a=lab:demo", "--model", "b=lab:demo",
                 "--db", db]) == 2
    assert loaded == []
    err = capsys.readouterr().err
    assert f"--db {db}: cannot open the database (unable to open" in err
    assert "Traceback" not in err
    assert main(["arena", "export", "--db", db, "--out", str(tmp_path / "b.jsonl")]) == 2
    assert "cannot open the database" in capsys.readouterr().err
    refused = "postgresql://arena:hunter2@127.0.0.1:1/arena"  # port 1: connection refused
    assert main(["arena", "export", "--db", refused, "--out", str(tmp_path / "c.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "cannot open the database" in err and "hunter2" not in err
