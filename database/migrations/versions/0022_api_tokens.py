"""API tokens for /api/v1 (state/api_tokens.py).

Revision ID: 0022_api_tokens
Revises: 0021_verification

A new table only: each token by its public id, the secret as a SHA-256 hash, never the token itself.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_api_tokens"
down_revision = "0021_verification"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("last_used_at", TIME, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
