"""When each inbox row was processed (processing latency in /metrics), and the ledger's view
of Bookings customer records (reconciliation compares it with Graph's customers list).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    # Nullable: rows processed before this revision have no time, and pending rows none yet.
    op.add_column("inbox", sa.Column("processed_at", TIME, nullable=True))
    # /metrics reads the rows processed in the last minutes: an index keeps that scrape cheap.
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    # Nullable: a customer id learnt from an appointment's customers[] has no record seen yet.
    op.add_column("booking_customers", sa.Column("state", sa.String(16), nullable=True))
    op.add_column("booking_customers", sa.Column("digest", sa.String(64), nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("booking_customers") as batch:
        batch.drop_column("digest")
        batch.drop_column("state")
    op.drop_index("ix_inbox_processed_at", "inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("processed_at")
