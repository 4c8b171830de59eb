"""Data-subject requests: the request projection gains its regime, deadlines, verification and links.

Revision ID: 0018_requests
Revises: 0017_view_audit

Every column is derived from the request's ledger entries (ledger/requests.py), so the table
stays a projection `rebuild_projections` can recompute. No personal data: ids, types, states,
dates and the names of the data points a verification matched.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_requests"
down_revision = "0017_view_audit"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)
COLUMNS = (
    ("regime", sa.String(8)), ("channel", sa.String(20)), ("requester_ref", REF),
    ("due_at", TIME), ("first_due_at", TIME), ("confirm_by", TIME), ("extended_at", TIME),
    ("verification", sa.String(20)), ("verified_at", TIME), ("verification_wait_seconds", sa.BigInteger),
    ("duplicate_of", sa.String(64)), ("subjects", sa.Text), ("outcome", sa.String(20)),
    ("certificate_id", sa.String(64)), ("started_at", TIME),
)


def upgrade() -> None:
    with op.batch_alter_table("requests") as table:
        # "awaiting-verification" is longer than the 20 characters the first schema allowed.
        table.alter_column("state", type_=sa.String(32), existing_nullable=False)
        for name, column_type in COLUMNS:
            table.add_column(sa.Column(name, column_type, nullable=True))
    op.create_index("ix_requests_state", "requests", ["state"])
    op.create_index("ix_requests_requester_ref", "requests", ["requester_ref"])


def downgrade() -> None:
    op.drop_index("ix_requests_requester_ref", "requests")
    op.drop_index("ix_requests_state", "requests")
    with op.batch_alter_table("requests") as table:
        for name, _type in reversed(COLUMNS):
            table.drop_column(name)
        table.alter_column("state", type_=sa.String(20), existing_nullable=False)
