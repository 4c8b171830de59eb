"""Ingestion projections: the appointments and customers the ledger holds (ledger/bookings_projection.py).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "booking_appointments",
        sa.Column("appointment_id", sa.String(512), primary_key=True),
        sa.Column("business_id", sa.String(320), nullable=False),
        sa.Column("start_at", TIME),
        sa.Column("end_at", TIME),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("subjects", sa.Text, nullable=False),
        sa.Column("digests", sa.Text, nullable=False),
        sa.Column("retention_until", TIME),
        sa.Column("graph_version", sa.String(64)),
        sa.Column("event_id", sa.String(512)),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_booking_appointments_business_id", "booking_appointments", ["business_id"])
    op.create_index("ix_booking_appointments_start_at", "booking_appointments", ["start_at"])
    op.create_index("ix_booking_appointments_event_id", "booking_appointments", ["event_id"])
    op.create_table(
        "booking_customers",
        sa.Column("business_id", sa.String(320), primary_key=True),
        sa.Column("customer_id", sa.String(512), primary_key=True),
        sa.Column("subject_ref", sa.String(64), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_booking_customers_subject_ref", "booking_customers", ["subject_ref"])


def downgrade() -> None:
    op.drop_index("ix_booking_customers_subject_ref", "booking_customers")
    op.drop_table("booking_customers")
    op.drop_index("ix_booking_appointments_event_id", "booking_appointments")
    op.drop_index("ix_booking_appointments_start_at", "booking_appointments")
    op.drop_index("ix_booking_appointments_business_id", "booking_appointments")
    op.drop_table("booking_appointments")
