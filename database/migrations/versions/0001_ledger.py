"""The ledger: chain, checkpoints, personal data, blind indexes, tombstones, projections.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)
NAME = sa.String(64)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER ledger_entries_refuse_{action.lower()} BEFORE {action} ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END"
    for action in ("UPDATE", "DELETE")
]
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION ledger_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP; END $$""",
    "CREATE TRIGGER ledger_entries_refuse_change BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change()",
    "CREATE TRIGGER ledger_entries_refuse_truncate BEFORE TRUNCATE ON ledger_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change()",
]


def upgrade() -> None:
    _create_chain()
    _create_evidence()
    _create_personal_data()
    _create_projections()
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def _create_chain() -> None:
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": bytes(32)}])
    op.create_table(
        "ledger_entries",
        # On SQLite an INTEGER PRIMARY KEY is the rowid: verify then reads the table in seq order
        # without an index lookup per row (SQLite integers are 64-bit, so nothing is lost).
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "entry_index",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("subject_ref", REF, index=True),
        sa.Column("time", TIME, nullable=False),
    )


def _create_evidence() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "verify_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("frontier", sa.LargeBinary, nullable=False),
        sa.Column("checkpoint_id", sa.Integer, nullable=False),
        sa.Column("verified_at", TIME, nullable=False),
    )


def _create_personal_data() -> None:
    op.create_table(
        "data_keys",
        sa.Column("subject_ref", REF, primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "personal_data",
        sa.Column("id", REF, primary_key=True),
        sa.Column("subject_ref", REF, sa.ForeignKey("data_keys.subject_ref"), nullable=False, index=True),
        sa.Column("field", NAME, nullable=False),
        sa.Column("category", NAME, nullable=False),
        sa.Column("purpose", NAME, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("subject_ref", "field", name="personal_data_one_value_per_field"),
    )
    op.create_table(
        "blind_indexes",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("digest", sa.LargeBinary, primary_key=True),
        sa.Column("subject_ref", REF, primary_key=True, index=True),
    )
    op.create_table(
        "tombstones",
        sa.Column("object_type", sa.String(40), primary_key=True),
        sa.Column("object_id", sa.String(255), primary_key=True),
        sa.Column("tombstoned_at", TIME, nullable=False),
    )


def _create_projections() -> None:
    op.create_table(
        "subjects",
        sa.Column("subject_ref", REF, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("on_hold", sa.Boolean, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("object_type", sa.String(40), primary_key=True),
        sa.Column("object_id", sa.String(255), primary_key=True),
        sa.Column("subject_ref", REF, index=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("subject_ref", REF, index=True),
        sa.Column("request_type", sa.String(40)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("completed_at", TIME),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's first migration cannot be undone: it would destroy evidence")
