"""The webhook inbox and the service's Graph subscriptions.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(512), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("resource", sa.String(2048), nullable=False),
        sa.Column("resource_id", sa.String(512)),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", TIME, nullable=False),
        sa.Column("lease_until", TIME),
        sa.Column("last_error", sa.String(512)),
    )
    op.create_index("ix_inbox_state", "inbox", ["state"])
    op.create_index("ix_inbox_not_before", "inbox", ["not_before"])
    op.create_table(
        "graph_subscriptions",
        sa.Column("subscription_id", sa.String(512), primary_key=True),
        sa.Column("business_id", sa.String(320), nullable=False, index=True),
        sa.Column("resource", sa.String(1024), nullable=False),
        sa.Column("client_state", sa.LargeBinary, nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("graph_subscriptions")
    op.drop_index("ix_inbox_not_before", "inbox")
    op.drop_index("ix_inbox_state", "inbox")
    op.drop_table("inbox")
