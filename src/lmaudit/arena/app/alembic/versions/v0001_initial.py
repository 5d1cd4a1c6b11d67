"""Initial arena schema: sessions, battles, answers, votes (one vote per battle).

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "battles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_battles_session_id", "battles", ["session_id"])
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "battle_id",
            sa.String(64),
            sa.ForeignKey("battles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("side", sa.String(1), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("finish_reason", sa.String(32), nullable=False),
        sa.UniqueConstraint("battle_id", "side", name="uq_answers_battle_side"),
    )
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "battle_id",
            sa.String(64),
            sa.ForeignKey("battles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("battle_id", name="uq_votes_battle"),
    )
    op.create_index("ix_votes_session_id", "votes", ["session_id"])


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("votes")
    op.drop_table("answers")
    op.drop_table("battles")
    op.drop_table("sessions")
