"""The stored delta link of each business's scheduling-mailbox calendar (calendarView/delta).

Revision ID: 0012_calendar_delta_links
Revises: 0011_client_state_hash

A new table only, so it does not depend on what other revisions after 0006 change.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_calendar_delta_links"
down_revision = "0011_client_state_hash"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "calendar_delta_links",
        sa.Column("business_id", sa.String(320), primary_key=True),
        # Graph's link is opaque and unbounded in length (the window and state are in its token).
        sa.Column("delta_link", sa.Text, nullable=False),
        sa.Column("window_start", TIME, nullable=False),
        sa.Column("window_end", TIME, nullable=False),
        sa.Column("round_started", TIME, nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_delta_links")
