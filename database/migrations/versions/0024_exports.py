"""Access and portability archives (state/exports.py) and the certificates of requests (ledger/certificates.py).

Revision ID: 0024_exports
Revises: 0023_request_runs

No personal data in either: an export row holds ids, the path of an encrypted file, sizes,
digests and times (its key is in the key store); a certificate is a signed JSON document of ids,
codes, counts, times and ledger entries, which carry no values either.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_exports"
down_revision = "0023_request_runs"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("export_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("key_subject", REF, nullable=False),
        sa.Column("key_category", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subjects", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("destroyed_at", TIME, nullable=True),
    )
    for column in ("request_id", "key_subject", "expires_at"):
        op.create_index(f"ix_exports_{column}", "exports", [column])
    op.create_table(
        "certificates",
        sa.Column("certificate_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("issued_at", TIME, nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    for column in ("request_id", "key_subject", "expires_at"):
        op.drop_index(f"ix_exports_{column}", "exports")
    op.drop_table("exports")
