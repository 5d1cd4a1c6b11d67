"""The arena's request guard: a plain ASGI middleware in front of every route.

For each HTTP request it reads the signed session cookie (a new session when it is missing or
forged), refuses a body over the size limit (413: at once when the Content-Length says so, while
the app reads it when the body is chunked), and on every POST outside `/api/admin/`
checks the session's CSRF token (header `X-CSRF-Token`, or the `csrf_token` field of an HTML
form) and the per-session and per-address rate limits. Every response it passes on gets the
security headers, and a new session's response its cookie. It is pure ASGI, not Starlette's
`BaseHTTPMiddleware`, which costs an extra task and memory stream per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmaudit.arena.app import pages
from lmaudit.arena.app.forms import form_fields, is_form
from lmaudit.arena.app.security import (
    COOKIE,
    SECURITY_HEADERS,
    Signer,
    TokenBucket,
    TrustedProxies,
    new_session_id,
)


def error_response(request: Request, status: int, message: str) -> Response:
    """A generic error: JSON `{"error": message}` under /api/, else a page; no details."""
    response: Response
    if request.url.path.startswith("/api/"):
        response = JSONResponse({"error": message}, status_code=status)
    else:
        response = HTMLResponse(pages.error_page(status, message), status_code=status)
    response.headers.update(SECURITY_HEADERS)  # a 500 bypasses the guard that adds them
    return response


@dataclass(frozen=True)
class GuardSettings:
    """What the guard enforces: body limit (bytes), rate buckets, trusted proxies, cookie."""

    signer: Signer
    by_session: TokenBucket
    by_address: TokenBucket
    proxies: TrustedProxies
    max_body_bytes: int
    secure_cookie: bool


class Guard:
    """ASGI middleware: session cookie, body limit, CSRF and rate limits, security headers."""

    def __init__(self, app: ASGIApp, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        receive = _limited(receive, settings.max_body_bytes)
        request = Request(scope, receive)
        known = settings.signer.session_id(request.cookies.get(COOKIE))
        session_id = known or new_session_id()
        scope.setdefault("state", {})["session_id"] = session_id
        cookie = None if known else self._cookie(session_id)

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if cookie is not None:
                    headers.append("set-cookie", cookie)
            await send(message)

        refusal: Response | None = None
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            refusal = error_response(request, 413, "request too large")
        elif scope["method"] == "POST" and not scope["path"].startswith("/api/admin/"):
            refusal, receive = await self._check_post(request, receive, session_id, known)
        if refusal is not None:
            await refusal(scope, receive, send_guarded)
        else:
            await self.app(scope, receive, send_guarded)

    def _cookie(self, session_id: str) -> str:
        """The Set-Cookie value of a new session: signed, HttpOnly, SameSite=Lax."""
        response = Response()
        response.set_cookie(
            COOKIE, self.settings.signer.cookie(session_id), httponly=True, samesite="lax",
            secure=self.settings.secure_cookie, path="/",
        )
        return response.headers["set-cookie"]

    async def _check_post(
        self, request: Request, receive: Receive, session_id: str, known: str | None
    ) -> tuple[Response | None, Receive]:
        """(a refusal or None, the receive channel the app must read the body from)."""
        settings = self.settings
        token = request.headers.get("x-csrf-token")
        if token is None and is_form(request):  # a plain HTML form: the token is a field
            if request.headers.get("content-length") is None:
                return error_response(request, 411, "a form needs a Content-Length"), receive
            body = await request.body()  # at most max_body_bytes: the length was checked
            token = form_fields(body).get("csrf_token")
            receive = _replay(body, receive)
        if known is None or not settings.signer.csrf_ok(session_id, token):
            return error_response(request, 403, "missing or invalid CSRF token"), receive
        peer = request.client.host if request.client else "unknown"
        address = settings.proxies.client(peer, request.headers.getlist("x-forwarded-for"))
        # the address first: a refused address adds no session bucket (sessions are free)
        if not (settings.by_address.allow(address) and settings.by_session.allow(session_id)):
            return error_response(request, 429, "too many requests; slow down"), receive
        return None, receive


def _limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises a 413 once the body passed `limit` bytes (a chunked body)."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, "request too large")
        return message

    return limited


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the already-read body to the app once, then `receive`."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay
