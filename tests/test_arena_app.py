"""The arena web app on SQLite: API flow, one vote per battle, CSRF, rate limits, sanitizing,
admin token, generic errors, leaderboard via `lmaudit.arena`, and `arena export`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from arena_app_fixtures import (
    ADMIN,
    ScriptedBackend,
    battle,
    csrf,
    make_client,
    make_pool,
    racing_vote_codes,
)
from lmaudit.arena.app.db import make_engine
from lmaudit.arena.app.models import ModelPool
from lmaudit.arena.battle_files import read_battle_file


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.db'}"


def test_migrations_create_schema_with_wal(db_url: str) -> None:
    make_client(db_url)
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    assert {"sessions", "battles", "answers", "votes", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    make_client(db_url)  # a second start upgrades nothing and keeps working


def test_battle_flow_hides_names_until_vote(db_url: str) -> None:
    client = make_client(db_url)
    headers = csrf(client)
    battle_id, stream = battle(client, headers, "What is 2+2?")
    events = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: ")]
    assert {e["side"] for e in events if "html" in e} == {"a", "b"}
    shown = client.get(f"/api/battles/{battle_id}").json()
    assert "model_a" not in shown and shown["vote"] is None
    assert set(shown["answers"]) == {"a", "b"}
    hidden = stream + json.dumps(shown)
    assert not any(name in hidden for name in ("alpha", "beta", "gamma"))
    voted = client.post(f"/api/battles/{battle_id}/vote", json={"choice": "a"}, headers=headers)
    assert voted.status_code == 200
    assert {voted.json()["model_a"], voted.json()["model_b"]} <= {"alpha", "beta", "gamma"}
    assert voted.json()["model_a"] != voted.json()["model_b"]
    again = client.get(f"/api/battles/{battle_id}").json()
    assert again["vote"] == "a" and again["model_a"] == voted.json()["model_a"]


def test_other_sessions_cannot_see_or_vote(db_url: str) -> None:
    owner = make_client(db_url)
    battle_id, _ = battle(owner, csrf(owner))
    other = make_client(db_url)
    headers = csrf(other)
    assert other.get(f"/api/battles/{battle_id}").status_code == 404
    response = other.post(f"/api/battles/{battle_id}/vote", json={"choice": "a"}, headers=headers)
    assert response.status_code == 404


def test_second_vote_refused_and_database_constraint(db_url: str) -> None:
    client = make_client(db_url)
    headers = csrf(client)
    battle_id, _ = battle(client, headers)
    url = f"/api/battles/{battle_id}/vote"
    assert client.post(url, json={"choice": "tie"}, headers=headers).status_code == 200
    second = client.post(url, json={"choice": "b"}, headers=headers)
    assert second.status_code == 409
    engine = make_engine(db_url)
    with pytest.raises(IntegrityError), engine.begin() as connection:  # the DB itself refuses
        connection.execute(
            text("INSERT INTO votes (battle_id, session_id, choice, created_at) "
                 "VALUES (:b, 'x', 'a', CURRENT_TIMESTAMP)"),
            {"b": battle_id},
        )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM votes")).scalar() == 1


def test_vote_before_answers_and_bad_choice(db_url: str) -> None:
    client = make_client(db_url)
    headers = csrf(client)
    battle_id = client.post("/api/battles", json={"prompt": "x"}, headers=headers).json()[
        "battle_id"
    ]
    url = f"/api/battles/{battle_id}/vote"
    assert client.post(url, json={"choice": "a"}, headers=headers).status_code == 409
    client.get(f"/api/battles/{battle_id}/stream")
    assert client.post(url, json={"choice": "A"}, headers=headers).status_code == 422
    assert client.post(url, json={"choice": "both_bad"}, headers=headers).status_code == 200


def test_csrf_required(db_url: str) -> None:
    client = make_client(db_url)
    assert client.post("/api/battles", json={"prompt": "x"}).status_code == 403
    csrf(client)
    bad = client.post("/api/battles", json={"prompt": "x"}, headers={"X-CSRF-Token": "forged"})
    assert bad.status_code == 403
    other = make_client(db_url)  # a valid token of another session does not work here
    stolen = csrf(other)
    assert client.post("/api/battles", json={"prompt": "x"}, headers=stolen).status_code == 403


def test_session_cookie_flags(db_url: str) -> None:
    client = make_client(db_url)
    cookie = client.get("/").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    tampered = make_client(db_url)
    tampered.cookies.set("arena_session", "forged.value")
    assert "set-cookie" in tampered.get("/").headers  # a bad signature gets a new session


def test_rate_limit_per_session(db_url: str) -> None:
    client = make_client(db_url, rate_capacity=3, rate_per_s=0.001)
    headers = csrf(client)
    codes = [
        client.post("/api/battles", json={"prompt": "x"}, headers=headers).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_size_limits(db_url: str) -> None:
    pool = ModelPool({"long": ScriptedBackend("y" * 500), "short": ScriptedBackend("ok")},
                     max_answer_chars=100)
    client = make_client(db_url, pool=pool, max_prompt_chars=50, max_body_bytes=2000)
    headers = csrf(client)
    too_long = client.post("/api/battles", json={"prompt": "x" * 51}, headers=headers)
    assert too_long.status_code == 413
    huge = client.post("/api/battles", json={"prompt": "x" * 5000}, headers=headers)
    assert huge.status_code == 413
    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"prompt": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    streamed = client.post("/api/battles", content=chunked(),
                           headers={**headers, "Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json() == {"error": "request too large"}
    battle_id, _ = battle(client, headers)
    answers = client.get(f"/api/battles/{battle_id}").json()["answers"]
    assert max(len(a["text"]) for a in answers.values()) == 100


def test_hostile_output_sanitized_and_csp(db_url: str) -> None:
    pool = make_pool(evil="<script>alert(1)</script><img src=x onerror=alert(2)> **b**",
                     good="fine")
    client = make_client(db_url, pool=pool)
    headers = csrf(client)
    battle_id, _ = battle(client, headers)
    answers = client.get(f"/api/battles/{battle_id}").json()["answers"]
    html = " ".join(a["html"] for a in answers.values())
    assert "<script" not in html and "<img" not in html and "<strong>b</strong>" in html
    assert "&lt;script&gt;" in html
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text  # no inline script on the page


def test_admin_endpoints_need_token(db_url: str) -> None:
    client = make_client(db_url)
    headers = csrf(client)
    battle_id, _ = battle(client, headers)
    client.post(f"/api/battles/{battle_id}/vote", json={"choice": "b"}, headers=headers)
    assert client.get("/api/admin/export").status_code == 403
    wrong = client.get("/api/admin/export", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    ok = client.get("/api/admin/export", headers={"Authorization": f"Bearer {ADMIN}"})
    rows = [json.loads(line) for line in ok.text.splitlines()]
    assert len(rows) == 1 and rows[0]["winner"] == "model_b" and "tokens_a" in rows[0]
    session_id = rows[0]["judge"]
    url = f"/api/admin/sessions/{session_id}/votes"
    assert client.delete(url).status_code == 403
    deleted = client.delete(url, headers={"Authorization": f"Bearer {ADMIN}"})
    assert deleted.json() == {"deleted": 1}
    disabled = make_client(db_url, admin_token=None)
    bearer = {"Authorization": "Bearer "}
    assert disabled.get("/api/admin/export", headers=bearer).status_code == 403


def test_errors_are_generic(db_url: str) -> None:
    pool = ModelPool({"x": ScriptedBackend("a", fail=True), "y": ScriptedBackend("b", fail=True)})
    client = make_client(db_url, pool=pool)
    headers = csrf(client)
    _, stream = battle(client, headers)
    assert "secret" not in stream and "Traceback" not in stream and '"error"' in stream
    missing = client.get("/api/battles/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "no such battle"}
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "Traceback" not in page.text


def test_crash_gives_generic_500(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmaudit.arena.app import web

    def explode(*_args: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/app.py line 7")

    monkeypatch.setattr(web.CachedLeaderboard, "__call__", explode)
    client = make_client(db_url)
    for path in ("/api/leaderboard", "/leaderboard"):
        response = client.get(path)
        assert response.status_code == 500
        assert "hunter2" not in response.text and "Traceback" not in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_leaderboard_and_export_roundtrip(db_url: str, tmp_path: Path) -> None:
    client = make_client(db_url, rate_capacity=100)
    headers = csrf(client)
    for i in range(12):
        battle_id, _ = battle(client, headers, f"q{i}")
        choice = ("a", "b", "tie", "both_bad")[i % 4]
        client.post(f"/api/battles/{battle_id}/vote", json={"choice": choice}, headers=headers)
    board = client.get("/api/leaderboard").json()
    assert board["votes"] == 12 and sum(board["counts"].values()) == 24
    assert {r["model"] for r in board["rows"]} == {"alpha", "beta", "gamma"}
    for row in board["rows"]:
        assert row["ci_low"] < row["rating"] < row["ci_high"]
    page = client.get("/leaderboard")
    assert "Bradley-Terry" in page.text and "alpha" in page.text
    from lmaudit.cli import main

    out = tmp_path / "battles.jsonl"
    assert main(["arena", "export", "--db", db_url, "--out", str(out)]) == 0
    battles = read_battle_file(out)
    assert battles.n_battles == 12
    assert battles.has_columns(["tokens_a", "tokens_b", "prompt_id", "judge"])
    assert main(["arena", "rank", str(out), "--intervals", "sandwich"]) == 0


def test_rate_limit_per_address(db_url: str) -> None:
    from fastapi.testclient import TestClient

    app = make_client(db_url, rate_capacity=2, rate_per_s=0.001).app
    codes = []
    for _ in range(7):  # new sessions, one address: the address bucket holds 5 x 2
        client = TestClient(app)
        headers = csrf(client)
        codes += [
            client.post("/api/battles", json={"prompt": "x"}, headers=headers).status_code
            for _ in range(2)
        ]
    assert codes.count(200) == 10 and codes[-4:] == [429] * 4


def test_style_controlled_leaderboard_updates_live(db_url: str) -> None:
    pool = ModelPool({
        "terse": ScriptedBackend("{prompt}"),
        "listy": ScriptedBackend("{prompt}\n- extra\n- **more**"),
        "plain": ScriptedBackend("Answer: {prompt} {prompt}"),
    })
    client = make_client(db_url, pool=pool, rate_capacity=200)
    headers = csrf(client)
    seen = []
    for i in range(40):
        prompt = "- item\n" * (1 + i % 4) + "**b** " * (i % 3) + "word " * (i % 5)
        battle_id, _ = battle(client, headers, prompt)
        choice = ("a", "b", "tie", "a", "b")[i % 5]
        client.post(f"/api/battles/{battle_id}/vote", json={"choice": choice}, headers=headers)
        if i in (19, 39):
            seen.append(client.get("/api/leaderboard").json())
    assert [b["votes"] for b in seen] == [20, 40]
    assert seen[0]["rows"] != seen[1]["rows"]  # refitted as votes arrived
    styled = {r["model"] for r in seen[1]["style_rows"]}
    assert styled == {"terse", "listy", "plain"}, seen[1]["note"]
    fragment = client.get("/leaderboard/board").text
    assert "style-ratings" in fragment and ">40<" in fragment


def test_migration_matches_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lmaudit.arena.app.db import Base

    make_client(db_url)
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_racing_votes_one_wins(db_url: str) -> None:
    _, codes = racing_vote_codes(db_url)
    assert sorted(codes) == [200] + [409] * (len(codes) - 1)  # one vote per battle
    with make_engine(db_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM votes")).scalar() == 1


def test_base_model_gets_plain_prompts() -> None:
    base = ScriptedBackend("base says {prompt}", chat=False)
    pool = ModelPool({"base": base, "chat": ScriptedBackend("chat says {prompt}")})
    assert pool.answer("base", "hi").text == "base says hi"
    assert pool.answer("base", "again").text == "base says again"
    assert pool.answer("chat", "yo").text == "chat says yo"
    assert base.prompts == ["hi", "again"]
