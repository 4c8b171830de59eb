"""Outgoing mail sent at most once (state/outgoing_mail.py) and the privacy notice's versions
(state/notice_versions.py).

Revision ID: 0020_outgoing_mail
Revises: 0019_mailbox_intake

New tables only.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_outgoing_mail"
down_revision = "0019_mailbox_intake"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(200), nullable=False, unique=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("recipient_ref", sa.String(64)),
        sa.Column("notice_version", sa.String(64)),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("draft_id", sa.String(512)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(200)),
        sa.Column("claimed_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("sent_at", TIME),
    )
    op.create_index("ix_outgoing_mail_request_id", "outgoing_mail", ["request_id"])
    op.create_index("ix_outgoing_mail_state", "outgoing_mail", ["state", "created_at"])
    op.create_index("ix_outgoing_mail_notice", "outgoing_mail", ["notice_version", "state"])
    op.create_table(
        "notice_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("registered_at", TIME, nullable=False),
        sa.Column("material", sa.Boolean, nullable=False),
    )
    op.create_index("ix_notice_versions_registered_at", "notice_versions", ["registered_at"])


def downgrade() -> None:
    op.drop_index("ix_notice_versions_registered_at", "notice_versions")
    op.drop_table("notice_versions")
    op.drop_index("ix_outgoing_mail_notice", "outgoing_mail")
    op.drop_index("ix_outgoing_mail_state", "outgoing_mail")
    op.drop_index("ix_outgoing_mail_request_id", "outgoing_mail")
    op.drop_table("outgoing_mail")
