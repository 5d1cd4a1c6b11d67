"""Alembic environment of the arena: runs online on the connection `db.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from lmaudit.arena.app.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the app always passes a connection
    raise RuntimeError("run migrations through lmaudit.arena.app.db.upgrade")
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
