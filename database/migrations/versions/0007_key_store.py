"""Data keys leave the main database for the key store (KEYSTORE_URL); unfinished erasures get a table.

Existing data is re-encrypted, not copied: each subject's old per-subject key is unwrapped, every
category its rows have gets a fresh key in the key store, and each row is re-encrypted under the
key of its own category. (Copying the old key to every category would leave one category's
ciphertexts readable with another category's key, so destroying one category would destroy
nothing.) The work is done by the `move_data_keys` step that `bookings-ledger db upgrade` passes in
(it needs the master key and the key store, which a migration does not reach); with rows to move
and no mover, the migration stops with the command to run. `data_keys` is then dropped and the
main database VACUUMed after the commit (`vacuum_after`), so the old wrapped keys leave its file.

The migration does not depend on any other after 0006: it touches `data_keys`, `personal_data`'s
foreign key, and creates `erasure_intents`.

Revision ID: 0007_key_store
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007_key_store"
down_revision = "0006"
branch_labels = None
depends_on = None

REF = sa.String(64)
TIME = sa.String(32)
NAME = sa.String(64)
UPGRADE_COMMAND = "bookings-ledger db upgrade"


def upgrade() -> None:
    op.create_table(
        "erasure_intents",
        sa.Column("id", REF, primary_key=True),
        sa.Column("subject_ref", REF, nullable=False, index=True),
        sa.Column("category", NAME, nullable=True),
        sa.Column("reason", NAME, nullable=False),
        sa.Column("refs", sa.Text, nullable=False),
        sa.Column("tombstones", sa.Text, nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM data_keys")).scalar():
        mover = context.config.attributes["data_steps"].get("move_data_keys")
        if mover is None:
            raise RuntimeError(
                f"data keys must move to the key store: run `{UPGRADE_COMMAND}` with LEDGER_MASTER_KEY and KEYSTORE_URL set"
            )
        mover(bind)
    _drop_personal_data_foreign_key(bind.dialect.name)
    op.drop_table("data_keys")
    context.config.attributes["vacuum_after"] = True


def _drop_personal_data_foreign_key(dialect: str) -> None:
    if dialect != "sqlite":
        op.drop_constraint("personal_data_subject_ref_fkey", "personal_data", type_="foreignkey")
        return
    # SQLite cannot drop a constraint, and 0001's is unnamed: rebuild the table from its definition without it.
    definition = sa.Table(
        "personal_data", sa.MetaData(),
        sa.Column("id", REF, primary_key=True),
        sa.Column("subject_ref", REF, nullable=False, index=True),
        sa.Column("field", NAME, nullable=False),
        sa.Column("category", NAME, nullable=False),
        sa.Column("purpose", NAME, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("subject_ref", "field", name="personal_data_one_value_per_field"),
    )
    with op.batch_alter_table("personal_data", copy_from=definition, recreate="always"):
        pass


def downgrade() -> None:
    raise RuntimeError("0007_key_store cannot be undone: the data keys live in the key store now")
