"""The arena's database: SQLAlchemy 2 models, the engine (SQLite WAL or PostgreSQL), migrations.

The schema is owned by Alembic (`alembic/versions`); `upgrade` brings a database to head and is
called when the app starts. One vote per battle is a UNIQUE constraint on `votes.battle_id`, so
the database refuses a second vote even when two requests race.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lmaudit.arena.app import DEFAULT_URL
from lmaudit.core.types import LmauditError

VOTES: tuple[str, ...] = ("a", "b", "tie", "both_bad")
ALEMBIC_DIR = Path(__file__).with_name("alembic")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the arena tables."""


class ArenaSession(Base):
    """A visitor, known by the id inside the signed session cookie."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Battle(Base):
    """One prompt answered by two distinct models, shown as A and B."""

    __tablename__ = "battles"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Answer(Base):
    """One side's finished answer; (battle_id, side) is unique."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("battle_id", "side", name="uq_answers_battle_side"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("battles.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(1))
    text: Mapped[str] = mapped_column(Text)
    finish_reason: Mapped[str] = mapped_column(String(32))


class Vote(Base):
    """The one vote of a battle: a, b, tie or both_bad (UNIQUE battle_id)."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("battle_id", name="uq_votes_battle"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("battles.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    choice: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed vote survives SIGKILL and power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


POOL_SIZE = 16


def make_engine(url: str = DEFAULT_URL, pool_size: int = POOL_SIZE) -> Engine:
    """An engine for `url`; SQLite gets WAL, full sync, foreign keys and a busy timeout.

    A server database keeps `pool_size` connections open and opens no more (a request waits
    for a free one instead of paying for a new connection and backend process), and every
    connection asks for `synchronous_commit=on`: a commit returns only once its WAL record is
    flushed, whatever the server's default, so an acknowledged vote survives a crash of the
    database server or the machine, not only of the app. There is no ping before each use (a
    round trip per request): a connection found broken invalidates the pool, so the requests
    after it reconnect, and the store's functions retry once on a fresh connection. Other
    databases are refused: the vote relies on SQLite's and PostgreSQL's ON CONFLICT.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    url = with_default_driver(url)
    if not url.startswith("postgresql"):
        raise LmauditError(
            f"--db {url.split('://')[0]}://...: the arena keeps its votes in SQLite "
            "(sqlite:///FILE) or PostgreSQL (postgresql://...)"
        )
    if url.startswith("postgresql+psycopg://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise LmauditError(f"--db {url.split('@')[-1]}: PostgreSQL needs psycopg 3: "
                               "pip install 'lmaudit[app]'")
    return create_engine(
        url, pool_size=pool_size, max_overflow=0,
        connect_args={"options": "-c synchronous_commit=on"},
    )


def fill_pool(engine: Engine) -> None:
    """Open all of a server database's pooled connections now (a no-op on SQLite)."""
    if engine.dialect.name == "sqlite":
        return
    with ExitStack() as stack:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]
            stack.enter_context(engine.connect())


def with_default_driver(url: str) -> str:
    """`url` with psycopg 3 as the PostgreSQL driver when it names none (`postgresql://`)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if sep and scheme in ("postgresql", "postgres") else url


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer(engine: Engine) -> AbstractContextManager[Any]:
    """A lock that serializes this process's write transactions on SQLite (a no-op elsewhere).

    SQLite allows one writer; without the lock, concurrent writers wait in SQLite's busy
    handler, which sleeps in growing steps and makes the tail latency long under load.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITERS.get(engine)
    if lock is None:
        lock = _WRITERS.setdefault(engine, threading.Lock())
    return lock


def upgrade(engine: Engine) -> None:
    """Run Alembic's `upgrade head` on the engine's database; a database that cannot be
    opened is one error naming `--db` (password hidden)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as error:  # unreachable server, bad path, wrong password, ...
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise LmauditError(f"--db {shown_url(engine)}: cannot open the database ({reason})"
                           ) from None


def shown_url(engine: Engine) -> str:
    """The engine's database URL with its password hidden (for messages)."""
    return engine.url.render_as_string(hide_password=True)
