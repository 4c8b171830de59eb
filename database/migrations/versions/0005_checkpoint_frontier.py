"""The Merkle compact range (frontier) of each checkpoint, so the next one extends from it.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: checkpoints made before this revision have none; the next checkpoint after them
    # recomputes the root from every entry hash once and stores its frontier.
    op.add_column("checkpoints", sa.Column("frontier", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("frontier")
