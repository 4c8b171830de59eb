"""The privacy mailbox's intake: which messages became requests (state/mailbox_intake.py).

Revision ID: 0019_mailbox_intake
Revises: 0018_requests

A new table only: Graph message ids, outcome codes and times, never a sender or a text.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_mailbox_intake"
down_revision = "0018_requests"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "mailbox_messages",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("message_id", sa.String(512), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("received_at", TIME, nullable=True),
        sa.Column("taken_at", TIME, nullable=False),
    )
    op.create_index("ix_mailbox_messages_taken_at", "mailbox_messages", ["taken_at"])


def downgrade() -> None:
    op.drop_index("ix_mailbox_messages_taken_at", "mailbox_messages")
    op.drop_table("mailbox_messages")
