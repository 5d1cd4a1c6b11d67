"""The arena's FastAPI application: pages, the JSON API under `/api/`, admin endpoints.

Every response carries the security headers of `security.SECURITY_HEADERS`; a visitor gets a
signed session cookie on the first request; every POST needs the session's CSRF token and
passes the per-session and per-address rate limits; a failure answers a generic error (JSON
under `/api/`, an HTML page elsewhere) and never a traceback. A vote's 200 is sent only after
its transaction has committed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lmaudit.arena.app import pages, store
from lmaudit.arena.app.answering import SharedAnswers
from lmaudit.arena.app.db import VOTES, fill_pool, make_engine, upgrade
from lmaudit.arena.app.forms import add_form_routes
from lmaudit.arena.app.guard import Guard, GuardSettings, error_response
from lmaudit.arena.app.models import ModelPool, chunks
from lmaudit.arena.app.ratings import CachedLeaderboard
from lmaudit.arena.app.script import SCRIPT
from lmaudit.arena.app.security import Signer, TokenBucket, TrustedProxies, render_markdown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArenaConfig:
    """Settings of one arena server.

    `rate_capacity`/`rate_per_s`: token bucket of POSTs per session and per address.
    `admin_token`: bearer token of the admin endpoints (None: they are disabled).
    `trusted_proxies`: addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the
    client for the per-address limit; empty (the default): the header is ignored.
    """

    db_url: str = "sqlite:///arena.db"
    secret: str | None = None
    admin_token: str | None = None
    max_prompt_chars: int = 4000
    max_body_bytes: int = 64_000
    rate_capacity: float = 20.0
    rate_per_s: float = 1.0
    secure_cookie: bool = False
    trusted_proxies: tuple[str, ...] = ()


def create_app(pool: ModelPool, config: ArenaConfig = ArenaConfig()) -> FastAPI:
    """The arena application; brings the database to the newest schema (Alembic) first."""
    engine = make_engine(config.db_url)
    upgrade(engine)
    maker = sessionmaker(engine, expire_on_commit=False)
    signer = Signer(config.secret or secrets.token_urlsafe(32))
    board = CachedLeaderboard(maker, pool.names)
    answers = SharedAnswers(pool, maker)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(fill_pool, engine)  # the first requests find connections open
        yield
        engine.dispose()  # close pooled connections when the server stops

    app = FastAPI(
        title="lmaudit arena", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.maker = maker
    app.state.engine = engine

    app.add_middleware(Guard, settings=GuardSettings(
        signer=signer,
        by_session=TokenBucket(config.rate_capacity, config.rate_per_s),
        by_address=TokenBucket(config.rate_capacity * 5, config.rate_per_s * 5),
        proxies=TrustedProxies.parse(config.trusted_proxies),
        max_body_bytes=config.max_body_bytes,
        secure_cookie=config.secure_cookie,
    ))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return error_response(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _error_: RequestValidationError) -> Response:
        return error_response(request, 422, "invalid request")

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> Response:
        log.error("arena request failed: %s %s", request.url.path, type(error).__name__)
        return error_response(request, 500, "internal error")

    def owned(request: Request, battle_id: str) -> store.BattleView:
        battle = store.get_battle(maker, battle_id)
        if battle is None or battle.session_id != request.state.session_id:
            raise HTTPException(404, "no such battle")
        return battle

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        return pages.arena_page(signer.csrf_token(request.state.session_id),
                                config.max_prompt_chars)

    @app.get("/leaderboard", response_class=HTMLResponse)
    def leaderboard_page(request: Request) -> str:
        return pages.leaderboard_page(signer.csrf_token(request.state.session_id), board())

    @app.get("/leaderboard/board", response_class=HTMLResponse)
    def leaderboard_fragment() -> str:
        return pages.leaderboard_body(board())

    @app.get("/static/arena.js")
    def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/static/arena.css")
    def stylesheet() -> Response:
        return Response(pages.STYLESHEET, media_type="text/css")

    add_form_routes(app, pool, answers, maker, signer, config.max_prompt_chars)

    @app.get("/api/session")
    def session(request: Request) -> dict[str, str]:
        return {"csrf_token": signer.csrf_token(request.state.session_id)}

    @app.post("/api/battles")
    async def create_battle(request: Request) -> dict[str, str]:
        payload = await _json(request)
        prompt = payload.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise HTTPException(422, "prompt must be a non-empty string")
        if len(prompt) > config.max_prompt_chars:
            raise HTTPException(413, f"prompt longer than {config.max_prompt_chars} characters")
        model_a, model_b = pool.pair()
        battle_id = await run_in_threadpool(
            store.create_battle, maker, request.state.session_id, prompt, model_a, model_b
        )
        return {"battle_id": battle_id}

    @app.get("/api/battles/{battle_id}")
    def read_battle(request: Request, battle_id: str) -> dict[str, Any]:
        battle = owned(request, battle_id)
        shown: dict[str, Any] = {
            "battle_id": battle.id, "prompt": battle.prompt, "vote": battle.vote,
            "answers": {s: {"text": t, "html": render_markdown(t)}
                        for s, t in battle.answers.items()},
        }
        if battle.vote is not None:
            shown.update(model_a=battle.model_a, model_b=battle.model_b)
        return shown

    @app.get("/api/battles/{battle_id}/stream")
    def stream(request: Request, battle_id: str) -> StreamingResponse:
        battle = owned(request, battle_id)
        return StreamingResponse(
            _events(answers, battle), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/battles/{battle_id}/vote")
    async def vote(request: Request, battle_id: str) -> Response:
        payload = await _json(request)
        choice = payload.get("choice")
        if choice not in VOTES:
            raise HTTPException(422, f"choice must be one of {', '.join(VOTES)}")
        try:
            model_a, model_b = await run_in_threadpool(
                store.cast_vote, maker, battle_id, request.state.session_id, choice
            )
        except store.NoSuchBattle:
            return error_response(request, 404, "no such battle")
        except store.AnswersPending:
            return error_response(request, 409, "the answers are not finished yet")
        except store.AlreadyVoted:
            return error_response(request, 409, "this battle already has a vote")
        return JSONResponse(  # sent only after the vote's transaction committed
            {"battle_id": battle_id, "choice": choice, "model_a": model_a, "model_b": model_b}
        )

    @app.get("/api/leaderboard")
    def api_leaderboard() -> dict[str, Any]:
        return board()

    def admin(request: Request) -> None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {config.admin_token}" if config.admin_token else None
        if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(403, "admin token required")

    @app.get("/api/admin/export")
    def export(request: Request) -> Response:
        admin(request)
        lines = "".join(json.dumps(r) + "\n" for r in store.battle_records(maker))
        return Response(lines, media_type="application/x-ndjson")

    @app.delete("/api/admin/sessions/{session_id}/votes")
    def delete_votes(request: Request, session_id: str) -> dict[str, int]:
        admin(request)
        return {"deleted": store.delete_session_votes(maker, session_id)}

    return app


async def _json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (the guard stops a body over the size limit with a 413)."""
    try:
        payload = json.loads(await request.body())
    except ValueError:
        raise HTTPException(422, "the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise HTTPException(422, "the body must be a JSON object")
    return payload


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def _events(answers: SharedAnswers, battle: store.BattleView) -> AsyncIterator[bytes]:
    """Server-sent events: `{side, delta}` pieces, then `{side, html}` per finished answer."""
    models = {"a": battle.model_a, "b": battle.model_b}

    async def answer(side: str) -> tuple[str, str]:
        if side in battle.answers:
            return side, battle.answers[side]
        return side, await answers(battle.id, side, models[side], battle.prompt)

    try:
        for finished in asyncio.as_completed([answer("a"), answer("b")]):
            side, text = await finished
            for piece in chunks(text):
                yield _event({"side": side, "delta": piece})
            yield _event({"side": side, "html": render_markdown(text)})
    except Exception as error:  # the stream has started: report in-band, no details
        log.error("arena answer failed: %s", type(error).__name__)
        yield _event({"error": "a model failed to answer; start a new battle"})
