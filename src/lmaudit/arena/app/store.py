"""Queries of the arena database: sessions, battles, answers, votes, export rows.

Every function takes a `sessionmaker` and commits before it returns, so what it reports as
stored is on disk (SQLite `synchronous=FULL`, PostgreSQL's default fsync).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lmaudit.arena.app.db import VOTES, Answer, ArenaSession, Battle, Vote, writer
from lmaudit.arena.style import style_counts

# The winner label `lmaudit arena rank` reads for each vote.
WINNER_OF_VOTE = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


class AlreadyVoted(Exception):
    """The battle already has its vote (the database's UNIQUE constraint said so)."""


class NoSuchBattle(Exception):
    """No battle with that id belongs to the voting session."""


class AnswersPending(Exception):
    """The battle's two answers are not both stored yet."""


@dataclass(frozen=True)
class BattleView:
    """A battle as its owner may see it; model names only once voted."""

    id: str
    session_id: str
    prompt: str
    model_a: str
    model_b: str
    answers: dict[str, str]
    vote: str | None


def _writing(maker: sessionmaker[Session]) -> AbstractContextManager[Any]:
    """The database's writer lock (see `db.writer`)."""
    return writer(maker.kw["bind"])


def new_id() -> str:
    """A random URL-safe identifier (128 bits)."""
    return secrets.token_urlsafe(16)


def ensure_session(maker: sessionmaker[Session], session_id: str) -> None:
    """Insert the session row if it is not there yet."""
    with _writing(maker), maker() as db:
        if db.get(ArenaSession, session_id) is None:
            db.add(ArenaSession(id=session_id))
            try:
                db.commit()
            except IntegrityError:  # created by a concurrent request
                db.rollback()


def create_battle(
    maker: sessionmaker[Session], session_id: str, prompt: str, model_a: str, model_b: str
) -> str:
    """Store a new battle and return its id."""
    ensure_session(maker, session_id)
    battle_id = new_id()
    with _writing(maker), maker() as db:
        db.add(
            Battle(
                id=battle_id, session_id=session_id, prompt=prompt, model_a=model_a,
                model_b=model_b,
            )
        )
        db.commit()
    return battle_id


def get_battle(maker: sessionmaker[Session], battle_id: str) -> BattleView | None:
    """The battle with its stored answers and vote, or None."""
    with maker() as db:
        battle = db.get(Battle, battle_id)
        if battle is None:
            return None
        answers = db.scalars(select(Answer).where(Answer.battle_id == battle_id)).all()
        vote = db.scalar(select(Vote.choice).where(Vote.battle_id == battle_id))
        return BattleView(
            battle.id, battle.session_id, battle.prompt, battle.model_a, battle.model_b,
            {a.side: a.text for a in answers}, vote,
        )


def save_answer(
    maker: sessionmaker[Session], battle_id: str, side: str, text: str, finish_reason: str
) -> str:
    """Store one side's answer; if it is already stored, keep and return the stored text."""
    with _writing(maker), maker() as db:
        db.add(Answer(battle_id=battle_id, side=side, text=text, finish_reason=finish_reason))
        try:
            db.commit()
            return text
        except IntegrityError:
            db.rollback()
            stored = db.scalar(
                select(Answer.text).where(Answer.battle_id == battle_id, Answer.side == side)
            )
            return stored if stored is not None else text


def cast_vote(
    maker: sessionmaker[Session], battle_id: str, session_id: str, choice: str
) -> tuple[str, str]:
    """Check and commit a session's vote in one transaction; return (model_a, model_b).

    Raises `NoSuchBattle` (not this session's battle), `AnswersPending`, or `AlreadyVoted`
    (the UNIQUE constraint refused a second vote, even from a concurrent request).
    """
    if choice not in VOTES:
        raise ValueError(f"vote must be one of {', '.join(VOTES)}")
    with _writing(maker), maker() as db:
        battle = db.get(Battle, battle_id)
        if battle is None or battle.session_id != session_id:
            raise NoSuchBattle(battle_id)
        answered = db.scalar(
            select(func.count()).select_from(Answer).where(Answer.battle_id == battle_id)
        )
        if answered != 2:
            raise AnswersPending(battle_id)
        db.add(Vote(battle_id=battle_id, session_id=session_id, choice=choice))
        try:
            db.commit()
        except IntegrityError as error:
            db.rollback()
            raise AlreadyVoted(battle_id) from error
        return battle.model_a, battle.model_b


def delete_session_votes(maker: sessionmaker[Session], session_id: str) -> int:
    """Delete every vote cast by a session; return how many were deleted."""
    with _writing(maker), maker() as db:
        result = db.execute(delete(Vote).where(Vote.session_id == session_id))
        db.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def vote_count(maker: sessionmaker[Session]) -> int:
    """How many votes are stored."""
    with maker() as db:
        return int(db.scalar(select(func.count()).select_from(Vote)) or 0)


def vote_signature(maker: sessionmaker[Session]) -> tuple[int, int]:
    """(number of votes, largest vote id): changes whenever a vote is added or deleted."""
    with maker() as db:
        count, largest = db.execute(select(func.count(Vote.id), func.max(Vote.id))).one()
        return int(count or 0), int(largest or 0)


def battle_records(maker: sessionmaker[Session]) -> Iterator[dict[str, Any]]:
    """Voted battles as `lmaudit arena rank` rows, oldest vote first.

    Keys: model_a, model_b, winner, prompt_id (the battle id), judge (the session id),
    timestamp (ISO 8601 UTC) and the style statistics of both answers (`tokens_a`, ...).
    """
    with maker() as db:
        rows = db.execute(
            select(Battle, Vote).join(Vote, Vote.battle_id == Battle.id).order_by(Vote.id)
        ).all()
        answers: dict[tuple[str, str], str] = {
            (a.battle_id, a.side): a.text for a in db.scalars(select(Answer)).all()
        }
    for battle, vote in rows:
        record: dict[str, Any] = {
            "model_a": battle.model_a,
            "model_b": battle.model_b,
            "winner": WINNER_OF_VOTE[vote.choice],
            "prompt_id": battle.id,
            "judge": vote.session_id,
            "timestamp": vote.created_at.isoformat(),
        }
        for side in ("a", "b"):
            for name, value in style_counts(answers.get((battle.id, side), "")).items():
                record[f"{name}_{side}"] = value
        yield record
