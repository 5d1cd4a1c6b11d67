"""The per-address rate limit behind a reverse proxy: X-Forwarded-For only from trusted proxies.

Unit checks of `TrustedProxies.client` (which hop is the client), then the app itself through
Starlette's TestClient with the socket address a server would report set in the ASGI scope: a
spoofed header from an untrusted client is ignored, a trusted proxy's header keys the limit on
the real client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from arena_app_fixtures import csrf, make_client
from lmaudit.arena.app.security import TrustedProxies
from lmaudit.core.types import LmauditError

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "192.0.2.1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.9", ["203.0.113.5"], "198.51.100.9"),  # not a proxy: header ignored
        ("10.1.2.3", [], "10.1.2.3"),  # a proxy without the header is the client
        ("10.1.2.3", ["203.0.113.5"], "203.0.113.5"),
        ("10.1.2.3", ["6.6.6.6, 203.0.113.5"], "203.0.113.5"),  # left entry spoofed by client
        ("10.1.2.3", ["203.0.113.5, 192.0.2.1"], "203.0.113.5"),  # two trusted proxies
        ("10.1.2.3", ["203.0.113.5", "192.0.2.1"], "203.0.113.5"),  # header given twice
        ("10.1.2.3", ["192.0.2.1, 10.9.9.9"], "192.0.2.1"),  # all trusted: the farthest
        ("10.1.2.3", ["evil, 192.0.2.1"], "192.0.2.1"),  # not an address: stop at a proxy
        ("::ffff:10.1.2.3", [" 203.0.113.5 "], "203.0.113.5"),  # IPv4-mapped peer
        ("10.1.2.3", ["2001:db8::7"], "2001:db8::7"),
    ],
)
def test_client_is_rightmost_untrusted_hop(peer: str, forwarded: list[str], client: str) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_no_proxies_by_default_and_bad_spec() -> None:
    assert TrustedProxies().client("10.1.2.3", ["203.0.113.5"]) == "10.1.2.3"
    with pytest.raises(LmauditError, match=r"--trust-proxy: 'proxy\.local' is not an IP"):
        TrustedProxies.parse(["proxy.local"])


def connected_from(app: Any, address: str) -> Any:
    """`app` as reached from `address`: the ASGI scope's `client`, as a server sets it."""

    async def peer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["client"] = (address, 40000)
        await app(scope, receive, send)

    return peer


def post_codes(app: Any, address: str, forwarded: str, sessions: int) -> list[int]:
    """Vote POSTs (one per new session, so only the address bucket limits) from `address`."""
    codes = []
    for _ in range(sessions):
        client = TestClient(connected_from(app, address))
        headers = {**csrf(client), "X-Forwarded-For": forwarded}
        response = client.post("/api/battles/none/vote", json={"choice": "a"}, headers=headers)
        codes.append(response.status_code)  # 404: passed the limits; 429: limited
    return codes


def test_spoofed_header_from_untrusted_client_is_ignored(tmp_path: Path) -> None:
    # the address bucket holds 5 x rate_capacity = 5 requests
    app = make_client(f"sqlite:///{tmp_path / 'a.db'}", rate_capacity=1, rate_per_s=1e-6).app
    codes = [post_codes(app, "198.51.100.9", f"203.0.113.{i}", 1)[0] for i in range(7)]
    assert codes == [404] * 5 + [429] * 2  # a new forged address each time did not help


def test_trusted_proxy_header_names_the_client(tmp_path: Path) -> None:
    app = make_client(f"sqlite:///{tmp_path / 'a.db'}", rate_capacity=1, rate_per_s=1e-6,
                      trusted_proxies=("10.0.0.0/8",)).app
    assert post_codes(app, "10.0.0.2", "203.0.113.5", 6) == [404] * 5 + [429]
    # the same user forging a left-hand entry is still keyed by what the proxy appended
    assert post_codes(app, "10.0.0.2", "1.2.3.4, 203.0.113.5", 1) == [429]
    # another user behind the same proxy has a bucket of its own
    assert post_codes(app, "10.0.0.2", "203.0.113.6", 1) == [404]
    # a client that reaches the app directly cannot use the header at all
    assert post_codes(app, "198.51.100.9", "203.0.113.7", 6) == [404] * 5 + [429]
