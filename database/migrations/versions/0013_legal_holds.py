"""Legal holds (ledger/holds.py) and the privacy officer's alerts (state/officer_alerts.py);
the subject projection loses `on_hold`.

Revision ID: 0013_legal_holds
Revises: 0012_calendar_delta_links

`subjects.on_hold` went because one flag per subject cannot say whether it is held: a subject may
be covered by several holds (its own, its appointments', its business's) and a hold may lapse at
its end with no entry. Every check asks the `legal_holds` table instead (ledger/holds.py).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_legal_holds"
down_revision = "0012_calendar_delta_links"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)
NAME = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", REF, primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_by", NAME, nullable=False),
        sa.Column("placed_at", TIME, nullable=False),
        sa.Column("ends_at", TIME),
        sa.Column("released_at", TIME, index=True),
        sa.Column("released_by", NAME),
        sa.Column("release_reason", sa.Text),
    )
    op.create_table(
        "officer_alerts",
        sa.Column("id", REF, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject_ref", REF, index=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("acknowledged_at", TIME, index=True),
        sa.Column("raised_by", NAME, nullable=False),
        sa.Column("note", sa.Text),
    )
    with op.batch_alter_table("subjects") as batch:
        batch.drop_column("on_hold")


def downgrade() -> None:
    # Recomputed from the holds table: a subject with an unreleased subject-scoped hold is on hold.
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(sa.Column("on_hold", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute("UPDATE subjects SET on_hold = TRUE WHERE subject_ref IN "
               "(SELECT target FROM legal_holds WHERE scope = 'subject' AND released_at IS NULL)")
    op.drop_table("officer_alerts")
    op.drop_table("legal_holds")
