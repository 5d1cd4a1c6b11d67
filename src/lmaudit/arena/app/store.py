"""Queries of the arena database: sessions, battles, answers, votes, export rows.

Every function takes a `sessionmaker` and commits before it returns, so what it reports as
stored is on disk (SQLite `synchronous=FULL`; PostgreSQL with fsync and `synchronous_commit=on`,
which `db.make_engine` asks for). The vote, the hot path, is one prepared statement on
PostgreSQL (see `cast_vote`).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import DateTime, String, bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lmaudit.arena.app.db import VOTES, Answer, ArenaSession, Battle, Vote, utcnow, writer
from lmaudit.arena.style import style_counts

P = ParamSpec("P")
R = TypeVar("R")
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


def reconnecting(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, run once more when its pooled connection was found broken.

    The engine does not ping a connection before each use (a round trip per request); when
    the database server restarted, the first use of an old connection fails, SQLAlchemy
    invalidates the pool, and the second try gets a new connection. Only for functions that
    are safe to repeat.
    """

    @functools.wraps(function)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return function(*args, **kwargs)

    return retried


def new_id() -> str:
    """A random URL-safe identifier (128 bits)."""
    return secrets.token_urlsafe(16)


def _insert(engine: Engine, table: Any) -> Any:
    """The dialect's INSERT for `table` (it has ON CONFLICT DO NOTHING)."""
    return (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(table)


@reconnecting
def create_battle(
    maker: sessionmaker[Session], session_id: str, prompt: str, model_a: str, model_b: str
) -> str:
    """Store a new battle (and its session row if new) in one transaction; return its id."""
    engine = maker.kw["bind"]
    battle_id = new_id()
    now = utcnow()
    with _writing(maker), engine.begin() as connection:
        connection.execute(
            _insert(engine, ArenaSession).values(id=session_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[ArenaSession.id])
        )
        connection.execute(insert(Battle).values(
            id=battle_id, session_id=session_id, prompt=prompt, model_a=model_a,
            model_b=model_b, created_at=now,
        ))
    return battle_id


@reconnecting
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


@reconnecting
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


def _vote_statements() -> tuple[Any, Any]:
    """(PostgreSQL's one-statement vote, SQLite's vote insert), built once with bind params.

    Both insert `SELECT` the battle row only when it belongs to the session and has its two
    answers, and do nothing on a conflict with the UNIQUE battle_id (a vote is already there).
    """
    owned = (Battle.id == bindparam("battle_id")) & (Battle.session_id == bindparam("session_id"))
    answered = (
        select(func.count()).select_from(Answer).where(Answer.battle_id == Battle.id)
        .scalar_subquery()
    )
    source = select(
        Battle.id, bindparam("session_id", type_=String()), bindparam("choice", type_=String()),
        bindparam("created_at", type_=DateTime(timezone=True)),
    ).where(owned, answered == 2)
    columns = [Vote.battle_id, Vote.session_id, Vote.choice, Vote.created_at]
    added = (
        pg_insert(Vote).from_select(columns, source)
        .on_conflict_do_nothing(index_elements=[Vote.battle_id])
        .returning(Vote.battle_id).cte("added")
    )
    postgres = select(
        Battle.model_a, Battle.model_b, select(added.c.battle_id).exists()
    ).where(owned)
    sqlite = (
        sqlite_insert(Vote).from_select(columns, source)
        .on_conflict_do_nothing(index_elements=[Vote.battle_id])
        .returning(Vote.battle_id)
    )
    return postgres, sqlite


_PG_VOTE, _SQLITE_VOTE = _vote_statements()
_MODELS = select(Battle.model_a, Battle.model_b).where(Battle.id == bindparam("battle_id"))


def cast_vote(
    maker: sessionmaker[Session], battle_id: str, session_id: str, choice: str
) -> tuple[str, str]:
    """Commit a session's vote and return (model_a, model_b); one statement on PostgreSQL.

    On PostgreSQL the vote is a single autocommitted statement (a CTE whose INSERT ... ON
    CONFLICT DO NOTHING adds the vote and whose SELECT returns the model names): one round
    trip, committed when it returns. On SQLite it is the insert and a read of the names in one
    transaction under the writer lock. The UNIQUE constraint decides between racing votes.
    Raises `NoSuchBattle` (not this session's battle), `AnswersPending`, or `AlreadyVoted`.
    """
    if choice not in VOTES:
        raise ValueError(f"vote must be one of {', '.join(VOTES)}")
    params = {"battle_id": battle_id, "session_id": session_id, "choice": choice,
              "created_at": utcnow()}
    return _cast(maker, params)


@reconnecting  # safe to repeat: a vote committed by the broken try makes it AlreadyVoted
def _cast(maker: sessionmaker[Session], params: dict[str, Any]) -> tuple[str, str]:
    engine = maker.kw["bind"]
    battle_id, session_id = params["battle_id"], params["session_id"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            row = connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                _PG_VOTE, params
            ).first()
            if row is None or not row[2]:
                raise _refusal(connection, battle_id, session_id)
            return str(row[0]), str(row[1])
    with _writing(maker), engine.begin() as connection:
        if connection.execute(_SQLITE_VOTE, params).first() is None:
            raise _refusal(connection, battle_id, session_id)
        model_a, model_b = connection.execute(_MODELS, params).one()
        return str(model_a), str(model_b)


def _refusal(connection: Connection, battle_id: str, session_id: str) -> Exception:
    """Why no vote was added: the battle is not the session's, unanswered, or voted."""
    owner = connection.scalar(select(Battle.session_id).where(Battle.id == battle_id))
    if owner != session_id:
        return NoSuchBattle(battle_id)
    answered = connection.scalar(
        select(func.count()).select_from(Answer).where(Answer.battle_id == battle_id)
    )
    return AnswersPending(battle_id) if answered != 2 else AlreadyVoted(battle_id)


@reconnecting
def delete_session_votes(maker: sessionmaker[Session], session_id: str) -> int:
    """Delete every vote cast by a session; return how many were deleted."""
    with _writing(maker), maker() as db:
        result = db.execute(delete(Vote).where(Vote.session_id == session_id))
        db.commit()
        return int(getattr(result, "rowcount", 0) or 0)


@reconnecting
def vote_count(maker: sessionmaker[Session]) -> int:
    """How many votes are stored."""
    with maker() as db:
        return int(db.scalar(select(func.count()).select_from(Vote)) or 0)


@reconnecting
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
