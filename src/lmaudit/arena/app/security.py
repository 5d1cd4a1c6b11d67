"""Safety of the arena app: signed session cookies, CSRF tokens, rate limits, sanitized output.

- Session: the cookie holds a random session id signed with `itsdangerous` (HMAC-SHA1 keyed by
  the app secret, salt "arena-session"); it is HttpOnly, SameSite=Lax, Secure when asked.
- CSRF: the token is the session id signed with another salt; every POST must carry it in the
  `X-CSRF-Token` header or a `csrf_token` form field, and it must belong to the cookie's session.
- Rate limits: token buckets per session and per client address (capacity, refill per second).
  The address is the socket peer's; `X-Forwarded-For` counts only when the peer is one of the
  proxies listed in `TrustedProxies` (none by default), so a client cannot pick its own key.
- Output: model text is rendered as Markdown (raw HTML in it stays text) and then cleaned by
  `nh3` to a small allow-list; pages carry a strict Content-Security-Policy.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import nh3
from itsdangerous import BadSignature, URLSafeSerializer
from markdown_it import MarkdownIt

from lmaudit.core.types import LmauditError

COOKIE = "arena_session"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TAGS = {
    "p", "br", "pre", "code", "em", "strong", "ul", "ol", "li", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


class Signer:
    """Signs session ids for the cookie and derives their CSRF tokens."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeSerializer(secret, salt="arena-session")
        self._csrf = URLSafeSerializer(secret, salt="arena-csrf")

    def cookie(self, session_id: str) -> str:
        """The signed cookie value for a session id."""
        return str(self._session.dumps(session_id))

    def session_id(self, cookie: str | None) -> str | None:
        """The session id in a cookie, or None when it is missing or its signature is bad."""
        if not cookie:
            return None
        try:
            value = self._session.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session."""
        return str(self._csrf.dumps(session_id))

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        """Whether `token` is this session's CSRF token (constant-time comparison)."""
        if not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(session_id))


def new_session_id() -> str:
    """A random session id (128 bits)."""
    return secrets.token_urlsafe(16)


@dataclass
class TokenBucket:
    """Per-key token buckets: `capacity` requests at once, refilled at `rate` per second.

    A key whose bucket has refilled is forgotten (a new key starts full: the same thing), at
    most once each time the table doubles past `max_keys`, so memory follows the keys active
    within the last `capacity / rate` seconds and each call costs O(1) amortized.
    """

    capacity: float
    rate: float
    max_keys: int = 100_000
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _prune_at: int = field(default=0, init=False)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._state[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._state) > max(self.max_keys, self._prune_at):
                self._state = {k: (t, at) for k, (t, at) in self._state.items()
                               if t + (now - at) * self.rate < self.capacity}
                self._prune_at = 2 * len(self._state)
            return allowed


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address in `text` (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TrustedProxies:
    """Reverse proxies whose `X-Forwarded-For` header names the client; none by default."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str], option: str = "--trust-proxy") -> TrustedProxies:
        """Networks from addresses or CIDRs ("10.0.0.5", "10.0.0.0/8", "::1")."""
        networks = []
        for spec in specs:
            try:
                networks.append(ipaddress.ip_network(spec.strip(), strict=False))
            except ValueError:
                raise LmauditError(
                    f"{option}: {spec!r} is not an IP address or CIDR network"
                ) from None
        return cls(tuple(networks))

    def trusts(self, host: str) -> bool:
        """Whether `host` (an IP address) lies in one of the trusted networks."""
        address = _ip(host)
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The address to rate-limit: `peer`, unless `peer` is a trusted proxy.

        From a trusted proxy, the `X-Forwarded-For` hops (all header lines, comma-separated,
        the nearest last) are read from the right: the first hop that is not itself a trusted
        proxy is the client. A hop that is not an IP address stops the walk at the last
        trusted address, so a header cannot inject an arbitrary key.
        """
        if not self.networks or not self.trusts(peer):
            return peer
        client = peer
        hops = [hop for line in forwarded_for for hop in line.split(",")]
        for hop in reversed(hops):
            address = _ip(hop)
            if address is None:
                break
            client = str(address)
            if not any(address in net for net in self.networks):
                break
        return client


def render_markdown(text: str) -> str:
    """Model output as safe HTML: Markdown with raw HTML kept as text, then nh3's allow-list."""
    return nh3.clean(_MARKDOWN.render(text), tags=_TAGS, attributes={}, url_schemes=set())
