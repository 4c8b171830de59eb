"""The audit of views of personal data: one row per view, mapping its viewer to the view's subject (ledger/views.py).

Revision ID: 0017_view_audit
Revises: 0016_dashboard_sessions

The viewer's IP address, user agent and reason are not here: they are the view subject's personal
data, encrypted in `personal_data` under the category usage.audit.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_view_audit"
# Chained after AUTH's 0016_dashboard_sessions (the contract's chain).
down_revision = "0016_dashboard_sessions"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "view_audit",
        sa.Column("view_id", REF, primary_key=True),
        sa.Column("viewer_subject", REF, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("viewed_subject", REF, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("viewed_at", TIME, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    for column in ("viewer_subject", "actor", "viewed_subject"):
        op.create_index(f"ix_view_audit_{column}", "view_audit", [column])


def downgrade() -> None:
    for column in ("viewer_subject", "actor", "viewed_subject"):
        op.drop_index(f"ix_view_audit_{column}", "view_audit")
    op.drop_table("view_audit")
