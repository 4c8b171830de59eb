"""The dashboard's server-side sessions (state/dashboard_sessions.py).

Revision ID: 0016_dashboard_sessions
Revises: 0015_anonymisation

A new table only: rows keyed by the SHA-256 of the cookie's token, never the token itself.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_dashboard_sessions"
down_revision = "0015_anonymisation"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("idle_expires_at", TIME, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])
    op.create_index("ix_dashboard_sessions_idle_expires_at", "dashboard_sessions", ["idle_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_idle_expires_at", "dashboard_sessions")
    op.drop_index("ix_dashboard_sessions_expires_at", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
