"""Identity challenges and single-use links of the public privacy page (state/verification.py,
state/portal_links.py).

Revision ID: 0021_verification
Revises: 0020_outgoing_mail

Working state, not the chain: hashes of codes and tokens, request ids, states and times; no
personal data.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_verification"
down_revision = "0020_outgoing_mail"
branch_labels = None
depends_on = None

TIME = sa.String(32)
REF = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "verification_challenges",
        sa.Column("challenge_id", sa.String(64), primary_key=True),
        sa.Column("request_id", REF, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("link_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("issued_at", TIME, nullable=True),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("used_at", TIME, nullable=True),
    )
    op.create_index("ix_verification_challenges_request_id", "verification_challenges", ["request_id"])
    op.create_index("ix_verification_challenges_state", "verification_challenges", ["state"])
    op.create_table(
        "portal_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("request_id", REF, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
    )
    op.create_index("ix_portal_links_request_id", "portal_links", ["request_id"])
    op.create_index("ix_portal_links_expires_at", "portal_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_links_expires_at", "portal_links")
    op.drop_index("ix_portal_links_request_id", "portal_links")
    op.drop_table("portal_links")
    op.drop_index("ix_verification_challenges_state", "verification_challenges")
    op.drop_index("ix_verification_challenges_request_id", "verification_challenges")
    op.drop_table("verification_challenges")
