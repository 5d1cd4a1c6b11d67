"""The arena without JavaScript: HTML forms with a CSRF field, answers sanitized, one vote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from arena_app_fixtures import make_client, make_pool


def token_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def test_form_flow_without_javascript(tmp_path: Path) -> None:
    pool = make_pool(evil="<script>alert(1)</script><img src=x onerror=alert(2)> *hi*",
                     calm="Calm **answer**.")
    client = make_client(f"sqlite:///{tmp_path / 'a.db'}", pool=pool)
    home = client.get("/")
    assert 'action="/battle"' in home.text and 'name="csrf_token"' in home.text
    token = token_of(home.text)
    assert client.post("/battle", data={"prompt": "hello"}).status_code == 403  # no CSRF field
    bad = client.post("/battle", data={"prompt": "hello", "csrf_token": "forged"})
    assert bad.status_code == 403 and "Traceback" not in bad.text
    created = client.post("/battle", data={"prompt": "hello", "csrf_token": token},
                          follow_redirects=False)
    assert created.status_code == 303
    url = created.headers["location"]
    page = client.get(url).text
    assert "&lt;script&gt;" in page and "<em>hi</em>" in page and "<strong>answer</strong>" in page
    assert "<script>alert" not in page and "<img" not in page
    assert "evil" not in page and "calm" not in page  # names hidden before the vote
    voted = client.post(f"{url}/vote", data={"choice": "b", "csrf_token": token_of(page)})
    assert voted.status_code == 200 and "Vote recorded: b" in voted.text
    assert "(evil)" in voted.text and "(calm)" in voted.text
    again = client.post(f"{url}/vote", data={"choice": "a", "csrf_token": token})
    assert again.status_code == 409 and "already has a vote" in again.text
    assert client.get("/api/leaderboard").json()["votes"] == 1


def test_form_errors_and_other_sessions(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    client = make_client(db, max_prompt_chars=10)
    token = token_of(client.get("/").text)
    assert client.post("/battle", data={"prompt": " ", "csrf_token": token}).status_code == 422
    long = client.post("/battle", data={"prompt": "x" * 11, "csrf_token": token})
    assert long.status_code == 413
    url = client.post("/battle", data={"prompt": "hi", "csrf_token": token},
                      follow_redirects=False).headers["location"]
    stranger = make_client(db)
    their = token_of(stranger.get("/").text)
    assert stranger.get(url).status_code == 404
    assert stranger.post(f"{url}/vote", data={"choice": "a", "csrf_token": their}).status_code \
        == 404
    bad = client.post(f"{url}/vote", data={"choice": "x", "csrf_token": token})
    assert bad.status_code == 422


def test_chunked_form_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    # no Content-Length and the CSRF token in the header: the guard cannot check the length
    # up front, so it must stop the body while the form route reads it
    client = make_client(f"sqlite:///{tmp_path / 'a.db'}", max_body_bytes=2000)
    token = token_of(client.get("/").text)

    def body() -> Iterator[bytes]:
        yield b"prompt=hi&padding="
        for _ in range(100):
            yield b"x" * 100

    refused = client.post("/battle", content=body(), follow_redirects=False, headers={
        "X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 413 and "request too large" in refused.text
    assert "Traceback" not in refused.text
    small = client.post("/battle", content=iter([b"prompt=hi"]), follow_redirects=False,
                        headers={"X-CSRF-Token": token,
                                 "Content-Type": "application/x-www-form-urlencoded"})
    assert small.status_code == 303  # a chunked body under the limit still passes
