"""The arena's rate-limit buckets: forgetting refilled keys changes no decision and keeps the
table small; the guard consults the address bucket before it adds a session's bucket."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from lmaudit.arena.app.guard import Guard, GuardSettings
from lmaudit.arena.app.security import COOKIE, Signer, TokenBucket, TrustedProxies


def test_forgetting_refilled_keys_changes_no_decision() -> None:
    rng = random.Random(7)
    pruned = TokenBucket(3, 0.5, max_keys=8)
    reference = TokenBucket(3, 0.5, max_keys=10**9)  # never forgets
    now, largest, refused = 0.0, 0, 0
    for _ in range(5000):
        now += rng.expovariate(20.0)  # 20 requests per second from 6 users who change
        key = f"user{int(now // 10)}-{rng.randrange(6)}"  # every 10 s (old ones go idle)
        allowed = pruned.allow(key, now)
        assert allowed == reference.allow(key, now)
        refused += not allowed
        largest = max(largest, len(pruned._state))
    assert refused > 100  # the limits did bite
    assert len(reference._state) > 100
    assert largest <= 2 * 18  # about 3 users' windows (6 s to refill), not all 150 keys

def test_a_table_of_active_keys_is_pruned_only_when_it_doubles() -> None:
    bucket = TokenBucket(2, 1e-6, max_keys=100)  # nothing refills: every key stays
    for i in range(1000):
        bucket.allow(f"k{i}", now=float(i))
    # pruned (to no effect) at 101, 203, 407 and 815 keys: four passes for 1000 calls
    assert len(bucket._state) == 1000 and bucket._prune_at == 2 * 815


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_address_over_its_limit_adds_no_session_buckets() -> None:
    signer = Signer("secret")
    settings = GuardSettings(signer, by_session=TokenBucket(5, 1e-6),
                             by_address=TokenBucket(2, 1e-6), proxies=TrustedProxies(),
                             max_body_bytes=1000, secure_cookie=False)
    codes = []
    for i in range(6):  # a new session each time, all from one address
        client = TestClient(Guard(ok, settings))
        client.cookies.set(COOKIE, signer.cookie(f"session-{i}"))
        response = client.post("/x", headers={"X-CSRF-Token": signer.csrf_token(f"session-{i}")})
        codes.append(response.status_code)
    assert codes == [200, 200, 429, 429, 429, 429]
    assert sorted(settings.by_session._state) == ["session-0", "session-1"]
