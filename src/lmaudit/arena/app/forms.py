"""The arena without JavaScript: plain HTML forms that do what the script does.

`POST /battle` (fields `prompt`, `csrf_token`) creates a battle, waits for both answers and
redirects to `GET /battle/{id}`, which shows the sanitized answers and a vote form (four
submit buttons named `choice`); `POST /battle/{id}/vote` records the vote and redirects back,
where the model names are now shown. The CSRF field is checked by the app's middleware.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lmaudit.arena.app import pages, store
from lmaudit.arena.app.answering import SharedAnswers
from lmaudit.arena.app.db import VOTES
from lmaudit.arena.app.models import ModelPool
from lmaudit.arena.app.security import Signer

FORM_TYPE = "application/x-www-form-urlencoded"


def is_form(request: Request) -> bool:
    """Whether the request body is an URL-encoded HTML form."""
    return request.headers.get("content-type", "").split(";")[0].strip() == FORM_TYPE


def form_fields(body: bytes) -> dict[str, str]:
    """The first value of each field of an URL-encoded form body (bad UTF-8 replaced)."""
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def add_form_routes(
    app: FastAPI,
    pool: ModelPool,
    answers: SharedAnswers,
    maker: sessionmaker[Session],
    signer: Signer,
    max_prompt_chars: int,
) -> None:
    """Register the form-based battle and vote routes on `app`."""

    @app.post("/battle")
    async def create(request: Request) -> Response:
        prompt = form_fields(await request.body()).get("prompt", "")
        if not prompt.strip():
            raise HTTPException(422, "write a prompt first")
        if len(prompt) > max_prompt_chars:
            raise HTTPException(413, f"prompt longer than {max_prompt_chars} characters")
        model_a, model_b = pool.pair()
        battle_id = await run_in_threadpool(
            store.create_battle, maker, request.state.session_id, prompt, model_a, model_b
        )
        await asyncio.gather(answers(battle_id, "a", model_a, prompt),
                             answers(battle_id, "b", model_b, prompt))
        return RedirectResponse(f"/battle/{battle_id}", status_code=303)

    @app.get("/battle/{battle_id}", response_class=HTMLResponse)
    def show(request: Request, battle_id: str) -> str:
        battle = store.get_battle(maker, battle_id)
        if battle is None or battle.session_id != request.state.session_id:
            raise HTTPException(404, "no such battle")
        return pages.battle_page(signer.csrf_token(request.state.session_id), _view(battle))

    @app.post("/battle/{battle_id}/vote")
    async def vote(request: Request, battle_id: str) -> Response:
        choice = form_fields(await request.body()).get("choice")
        if choice not in VOTES:
            raise HTTPException(422, f"choice must be one of {', '.join(VOTES)}")
        try:
            await run_in_threadpool(
                store.cast_vote, maker, battle_id, request.state.session_id, choice
            )
        except store.NoSuchBattle:
            raise HTTPException(404, "no such battle") from None
        except store.AnswersPending:
            raise HTTPException(409, "the answers are not finished yet") from None
        except store.AlreadyVoted:
            raise HTTPException(409, "this battle already has a vote") from None
        return RedirectResponse(f"/battle/{battle_id}", status_code=303)


def _view(battle: store.BattleView) -> dict[str, Any]:
    from lmaudit.arena.app.security import render_markdown

    return {
        "id": battle.id,
        "prompt": battle.prompt,
        "answers": {s: render_markdown(t) for s, t in battle.answers.items()},
        "vote": battle.vote,
        "models": (battle.model_a, battle.model_b) if battle.vote else None,
    }
