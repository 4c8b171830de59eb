"""Nothing derived from a person in the chain: retention due dates move to a mutable table, and an
erased customer row loses its subject (state/retention_dues.py, state/bookings_mirror.py).

Format 1 entries carried `retention_until` per category; format 2 entries carry the policy's
period and clock instead, and `retention_due` holds the dates. `booking_appointments.retention_until`
(the earliest deadline, never read) goes: the per-category rows replace it. Independent of the
other revisions after 0006: it touches only these two mirror tables and its own new one.

Revision ID: 0008_chain_content
Revises: 0007_key_store
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_chain_content"
down_revision = "0007_key_store"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "retention_due",
        sa.Column("object_type", sa.String(40), primary_key=True),
        sa.Column("object_id", sa.String(512), primary_key=True),
        sa.Column("subject_ref", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("due_at", TIME, nullable=False),
    )
    # The retention job asks "what is due before now?": a range scan on this index.
    op.create_index("ix_retention_due_due_at", "retention_due", ["due_at"])
    op.create_index("ix_retention_due_subject_ref", "retention_due", ["subject_ref"])
    # batch mode: SQLite cannot alter or drop a column in place.
    with op.batch_alter_table("booking_customers") as batch:
        batch.alter_column("subject_ref", existing_type=sa.String(64), nullable=True)
    with op.batch_alter_table("booking_appointments") as batch:
        batch.drop_column("retention_until")


def downgrade() -> None:
    with op.batch_alter_table("booking_appointments") as batch:
        batch.add_column(sa.Column("retention_until", TIME))
    op.execute("DELETE FROM booking_customers WHERE subject_ref IS NULL")
    with op.batch_alter_table("booking_customers") as batch:
        batch.alter_column("subject_ref", existing_type=sa.String(64), nullable=False)
    op.drop_index("ix_retention_due_subject_ref", "retention_due")
    op.drop_index("ix_retention_due_due_at", "retention_due")
    op.drop_table("retention_due")
