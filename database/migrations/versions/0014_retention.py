"""Retention: what each due date is computed from, the businesses' time zones, the policy's versions.

`retention_due` gains the business, the clock's start and the period in force for each row, so a
stricter policy or a business's time zone re-dates held data without Graph (a `cancellation` clock
not yet started is due at the greatest time, state.retention_dues.NEVER); `expired_at` marks the rows a `retention-expired` entry
covers, and a partial index of the pending rows' due dates keeps each evaluation's range scan to
what is newly due. Rows from before this revision keep their UTC due date (their clock start is
unknown) until their record is next ingested; their business comes from the Bookings mirror.
New tables: `business_time_zones`, `retention_policy_versions`.

Revision ID: 0014_retention
Revises: 0013_legal_holds
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_retention"
down_revision = "0013_legal_holds"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    for column in (sa.Column("business_id", sa.String(320), nullable=True), sa.Column("clock_start", TIME, nullable=True),
                   sa.Column("period", sa.String(32), nullable=True), sa.Column("expired_at", TIME, nullable=True)):
        op.add_column("retention_due", column)
    op.execute("UPDATE retention_due SET business_id = (SELECT b.business_id FROM booking_appointments b "
               "WHERE b.appointment_id = retention_due.object_id) WHERE object_type = 'appointment'")
    op.execute("UPDATE retention_due SET business_id = (SELECT MIN(c.business_id) FROM booking_customers c "
               "WHERE c.customer_id = retention_due.object_id) WHERE object_type = 'customer'")
    op.create_index("ix_retention_due_business_id", "retention_due", ["business_id"])
    op.create_index("ix_retention_due_category", "retention_due", ["category"])
    op.create_index("ix_retention_due_pending", "retention_due", ["due_at"],
                    sqlite_where=sa.text("expired_at IS NULL"), postgresql_where=sa.text("expired_at IS NULL"))
    op.create_table(
        "business_time_zones",
        sa.Column("business_id", sa.String(320), primary_key=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("graph_name", sa.String(128), nullable=False),
        sa.Column("read_at", TIME, nullable=False),
    )
    op.create_table(
        "retention_policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("effective_from", TIME, nullable=False),
        sa.Column("periods", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_policy_versions")
    op.drop_table("business_time_zones")
    op.drop_index("ix_retention_due_pending", "retention_due")
    op.drop_index("ix_retention_due_category", "retention_due")
    op.drop_index("ix_retention_due_business_id", "retention_due")
    # batch mode: SQLite cannot drop a column in place.
    with op.batch_alter_table("retention_due") as batch:
        batch.drop_column("expired_at")
        batch.drop_column("period")
        batch.drop_column("clock_start")
        batch.drop_column("business_id")
