"""The arena in a real browser: Debian's headless Chromium driven by Selenium, by real clicks.

A uvicorn server runs the app on a free localhost port in a thread (SQLite in a temp dir).
Checks: the vote flow (prompt, streamed answers, vote, names revealed), hostile model output
shown as inert text, a second vote on the same battle refused, the leaderboard showing the
vote (live: a vote from another client appears without a reload), no CSP violation in the
console, and the rate limit enforced.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from browser_support import make_driver, require_browser

require_browser()

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from arena_app_fixtures import make_pool  # noqa: E402
from lmaudit.arena.app.web import ArenaConfig, create_app  # noqa: E402

EVIL = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> **evil**"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("arena_browser")
    pool = make_pool(evil=EVIL, plain="Plain *answer*.")
    config = ArenaConfig(db_url=f"sqlite:///{root / 'arena.db'}", secret="s", rate_capacity=5,
                         rate_per_s=0.001)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(pool, config), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    chrome = make_driver(tmp_path_factory.mktemp("profile"))
    yield chrome
    chrome.quit()


def test_vote_flow_by_clicks(server: str, driver: webdriver.Chrome) -> None:
    wait = WebDriverWait(driver, 20)
    driver.get(server + "/")
    driver.find_element(By.ID, "prompt").send_keys("Say something")
    driver.find_element(By.ID, "send").click()
    wait.until(lambda d: d.find_element(By.ID, "vote-a").is_enabled())
    panes = " ".join(driver.find_element(By.ID, f"answer-{s}").text for s in ("a", "b"))
    assert "<script>window.pwned=1</script>" in panes  # the hostile answer shown as text
    assert "evil" in panes and "Plain" in panes
    assert driver.find_elements(By.CSS_SELECTOR, "#battle img, #battle script") == []
    assert driver.execute_script("return window.pwned === undefined")
    assert driver.find_element(By.ID, "name-a").text == ""  # names hidden before the vote
    driver.find_element(By.ID, "vote-a").click()
    wait.until(lambda d: d.find_element(By.ID, "name-a").text != "")
    names = {driver.find_element(By.ID, f"name-{s}").text for s in ("a", "b")}
    assert names == {"(evil)", "(plain)"}
    assert "Vote recorded" in driver.find_element(By.ID, "status").text

    second = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        fetch(performance.getEntriesByType('resource').map(e => e.name)
                .find(n => n.endsWith('/vote')),
              {method: 'POST', headers: {'Content-Type': 'application/json',
               'X-CSRF-Token': csrf}, body: JSON.stringify({choice: 'b'})})
          .then(r => done(r.status));"""
    )
    assert second == 409  # the same battle cannot be voted twice

    messages = [entry["message"] for entry in driver.get_log("browser")]
    broken = [m for m in messages if "Content Security Policy" in m or "Uncaught" in m]
    assert broken == []  # the page's own script and styles pass the strict CSP

    driver.get(server + "/leaderboard")
    assert driver.find_element(By.ID, "vote-total").text == "1"
    counts = driver.find_element(By.ID, "counts").text
    assert "evil: 1" in counts and "plain: 1" in counts

    with httpx.Client(base_url=server) as other:  # another voter; the open page updates itself
        headers = {"X-CSRF-Token": other.get("/api/session").json()["csrf_token"]}
        battle_id = other.post("/api/battles", json={"prompt": "q"}, headers=headers).json()[
            "battle_id"
        ]
        other.get(f"/api/battles/{battle_id}/stream")
        vote = other.post(f"/api/battles/{battle_id}/vote", json={"choice": "tie"},
                          headers=headers)
        assert vote.status_code == 200
    wait.until(lambda d: d.find_element(By.ID, "vote-total").text == "2")


def test_rate_limit_in_browser(server: str, driver: webdriver.Chrome) -> None:
    wait = WebDriverWait(driver, 20)
    driver.get(server + "/")
    status = driver.find_element(By.ID, "status")
    for _ in range(8):
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.ID, "prompt").send_keys("again")
        wait.until(lambda d: d.find_element(By.ID, "send").is_enabled())
        driver.find_element(By.ID, "send").click()
        wait.until(lambda d: d.find_element(By.ID, "send").is_enabled())
        if "too many requests" in status.text:
            break
    assert "too many requests" in status.text
