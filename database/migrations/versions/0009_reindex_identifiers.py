"""Blind indexes recomputed under the one normalisation of `ledger.identifiers` (IDNA domains,
format characters stripped, case folding, phone extensions kept, invalid numbers refused).

A digest cannot be recomputed from a digest, so the re-index decrypts each subject's stored
`email` and `phone` values (`ledger.blind_index.reindex_all`, the `reindex_blind_indexes` step that
`bookings-ledger db upgrade` passes in: `database/` may not import the ledger); only then does it need keys,
taken from the settings (`LEDGER_MASTER_KEY`, `BLIND_INDEX_KEY`, `DEFAULT_PHONE_REGION`) and the
key store (`KEYSTORE_URL`, which holds the data keys since 0007_key_store). A
database without blind-index rows (a new one) migrates without any key. No schema change.

Revision ID: 0009_reindex_identifiers
Revises: 0008_chain_content
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

UPGRADE_COMMAND = "bookings-ledger db upgrade"

revision = "0009_reindex_identifiers"
down_revision = "0008_chain_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT 1 FROM blind_indexes LIMIT 1")).first() is None:
        return
    reindex = context.config.attributes["data_steps"].get("reindex_blind_indexes")
    if reindex is None:
        raise RuntimeError(f"blind indexes must be recomputed: run `{UPGRADE_COMMAND}` with the ledger's keys set")
    reindex(connection)


def downgrade() -> None:
    # The earlier normalisation's digests cannot be rebuilt without re-running it on plaintext;
    # the new digests stay. Under the older code, lookups of the variants it folded differently
    # (IDN domains, extensions) miss, exactly as they did before this revision.
    pass
