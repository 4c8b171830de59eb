"""Request runs and subject restrictions (state/request_runs.py, state/subject_restrictions.py).

Revision ID: 0023_request_runs
Revises: 0022_api_tokens

New tables only: the officer's queued runs with their per-appointment choices, each run's
persisted steps, and the subjects under restriction, objection or opt-out. Ids, codes and times.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_request_runs"
down_revision = "0022_api_tokens"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "request_runs",
        sa.Column("request_id", REF, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queued_by", sa.String(64), nullable=False),
        sa.Column("queued_at", TIME, nullable=False),
        sa.Column("choices", sa.Text, nullable=False),
        sa.Column("detail", sa.String(200)),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_request_runs_state", "request_runs", ["state"])
    op.create_table(
        "request_run_steps",
        sa.Column("request_id", REF, primary_key=True),
        sa.Column("step", sa.String(600), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "subject_restrictions",
        sa.Column("subject_ref", REF, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("purpose", sa.String(64), primary_key=True),
        sa.Column("request_id", REF),
        sa.Column("since", TIME, nullable=False),
        sa.Column("lifted_at", TIME),
    )


def downgrade() -> None:
    op.drop_table("subject_restrictions")
    op.drop_table("request_run_steps")
    op.drop_index("ix_request_runs_state", "request_runs")
    op.drop_table("request_runs")
