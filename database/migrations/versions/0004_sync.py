"""Subscription management and reconciliation state: watermarks, gaps, leases, job runs.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "sync_watermarks",
        sa.Column("business_id", sa.String(320), primary_key=True),
        sa.Column("complete_until", TIME, nullable=False),
        sa.Column("swept_at", TIME, nullable=False),
        sa.Column("appointments", sa.Integer, nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
    )
    op.create_table(
        "sync_gaps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.String(320), nullable=False, index=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(512)),
        sa.Column("start", TIME, nullable=False),
        sa.Column("end", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("filled_at", TIME, index=True),
    )
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("lease_until", TIME, nullable=False),
        sa.Column("heartbeat_at", TIME, nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(64), nullable=False, index=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    for table in ("job_runs", "job_leases", "sync_gaps", "sync_watermarks"):
        op.drop_table(table)
