"""Anonymisation operations and their persisted steps (state/anonymisation.py).

Revision ID: 0015_anonymisation
Revises: 0014_retention

New tables only, so it does not depend on what the other revisions of issue 11 change.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_anonymisation"
down_revision = "0014_retention"
branch_labels = None
depends_on = None

TIME = sa.String(32)
OPEN = "state IN ('planned', 'running', 'held', 'verified')"


def upgrade() -> None:
    op.create_table(
        "anonymisation_operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("subject_ref", sa.String(64), nullable=False),
        sa.Column("business_id", sa.String(320), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(512), nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(200)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_anonymisation_operations_subject_ref", "anonymisation_operations", ["subject_ref"])
    op.create_index("ix_anonymisation_operations_state", "anonymisation_operations", ["state"])
    # One open operation per (object, subject): a partial unique index, so racing planners cannot make two.
    op.create_index("uq_anonymisation_open", "anonymisation_operations", ["object_type", "object_id", "subject_ref"],
                    unique=True, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_table(
        "anonymisation_steps",
        sa.Column("operation_id", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("anonymisation_steps")
    op.drop_index("uq_anonymisation_open", "anonymisation_operations")
    op.drop_index("ix_anonymisation_operations_state", "anonymisation_operations")
    op.drop_index("ix_anonymisation_operations_subject_ref", "anonymisation_operations")
    op.drop_table("anonymisation_operations")
