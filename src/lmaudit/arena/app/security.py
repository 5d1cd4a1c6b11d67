"""Safety of the arena app: signed session cookies, CSRF tokens, rate limits, sanitized output.

- Session: the cookie holds a random session id signed with `itsdangerous` (HMAC-SHA1 keyed by
  the app secret, salt "arena-session"); it is HttpOnly, SameSite=Lax, Secure when asked.
- CSRF: the token is the session id signed with another salt; every POST must carry it in the
  `X-CSRF-Token` header or a `csrf_token` form field, and it must belong to the cookie's session.
- Rate limits: token buckets per session and per client address (capacity, refill per second).
- Output: model text is rendered as Markdown (raw HTML in it stays text) and then cleaned by
  `nh3` to a small allow-list; pages carry a strict Content-Security-Policy.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

import nh3
from itsdangerous import BadSignature, URLSafeSerializer
from markdown_it import MarkdownIt

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
    """Per-key token buckets: `capacity` requests at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._state[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._state) > 100_000:  # forget idle keys so memory stays bounded
                self._state = {k: v for k, v in self._state.items() if now - v[1] < 3600}
            return allowed


def render_markdown(text: str) -> str:
    """Model output as safe HTML: Markdown with raw HTML kept as text, then nh3's allow-list."""
    return nh3.clean(_MARKDOWN.render(text), tags=_TAGS, attributes={}, url_schemes=set())
