"""Subscriptions keep a keyed hash of their clientState, not a ciphertext under the master key;
the mailbox's directory id (for the receiver's resource check) and a rotated subscription's deadline.

Existing rows are converted: each clientState is decrypted with LEDGER_MASTER_KEY (or one of
LEDGER_PREVIOUS_MASTER_KEYS) and hashed under CLIENT_STATE_KEY, both read from the settings
(environment, `.env`, BOOKINGS_LEDGER_CONFIG) only when there are rows to convert. The old
envelope (12-byte nonce ‖ AES-256-GCM, associated data ["client_state", id]) is decoded here,
not through `ledger.encryption`, so this revision keeps working whatever that module becomes.

Revision ID: 0011_client_state_hash
Revises: 0010_chain_guards
"""
from __future__ import annotations

import hashlib
import hmac
import json

import sqlalchemy as sa
from alembic import op

revision = "0011_client_state_hash"
down_revision = "0010_chain_guards"
branch_labels = None
depends_on = None

TIME = sa.String(32)
_NONCE = 12
_DOMAIN = b"bookings-ledger client-state v1\x00"   # as state.client_states: a hash must match it


def upgrade() -> None:
    # Hashed before the schema changes: a missing key then stops the upgrade with nothing altered.
    hashed = _hashed_client_states()
    op.add_column("graph_subscriptions", sa.Column("client_state_hash", sa.LargeBinary, nullable=True))
    op.add_column("graph_subscriptions", sa.Column("client_state_key_id", sa.String(16), nullable=True))
    op.add_column("graph_subscriptions", sa.Column("mailbox_user_id", sa.String(64), nullable=True))
    op.add_column("graph_subscriptions", sa.Column("accept_until", TIME, nullable=True))
    for values in hashed:
        op.get_bind().execute(
            sa.text("UPDATE graph_subscriptions SET client_state_hash = :digest, client_state_key_id = :key_id "
                    "WHERE subscription_id = :id"), values)
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("graph_subscriptions") as batch:
        batch.drop_column("client_state")
        batch.drop_column("master_key_id")
        batch.alter_column("client_state_hash", existing_type=sa.LargeBinary, nullable=False)
        batch.alter_column("client_state_key_id", existing_type=sa.String(16), nullable=False)


def _hashed_client_states() -> list[dict[str, object]]:
    """{id, digest, key_id} of every stored row; the settings are read only when there are rows."""
    rows = op.get_bind().execute(
        sa.text("SELECT subscription_id, client_state, master_key_id FROM graph_subscriptions")).all()
    if not rows:
        return []   # a fresh database needs no keys at all
    from config import load_settings

    settings = load_settings()
    hash_key = settings.key("CLIENT_STATE_KEY")
    master_keys = {_master_key_id(key): key
                   for key in (*settings.previous_master_keys, settings.key("LEDGER_MASTER_KEY"))}
    hash_key_id = hashlib.sha256(b"client-state-key\x00" + hash_key).digest()[:8].hex()
    hashed = []
    for subscription_id, sealed, master_key_id in rows:
        client_state = _decrypt(master_keys, master_key_id, bytes(sealed), subscription_id)
        digest = hmac.new(hash_key, _DOMAIN + client_state.encode("utf-8"), hashlib.sha256).digest()
        hashed.append({"id": subscription_id, "digest": digest, "key_id": hash_key_id})
    return hashed


def _master_key_id(key: bytes) -> str:
    return hashlib.sha256(key).digest()[:8].hex()


def _decrypt(master_keys: dict[str, bytes], master_key_id: str, sealed: bytes, subscription_id: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = master_keys.get(master_key_id)
    if key is None:
        raise RuntimeError(f"subscription {subscription_id}: its clientState is under master key {master_key_id}, "
                           "which is in neither LEDGER_MASTER_KEY nor LEDGER_PREVIOUS_MASTER_KEYS")
    context = json.dumps(["client_state", subscription_id]).encode()
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], context).decode("utf-8")
    except InvalidTag:
        raise RuntimeError(f"subscription {subscription_id}: its clientState does not decrypt") from None


def downgrade() -> None:
    # A hash cannot be turned back into a secret: only an empty table can go back.
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT COUNT(*) FROM graph_subscriptions")).scalar():
        raise RuntimeError("graph_subscriptions holds hashed clientStates; delete the subscriptions before downgrading")
    with op.batch_alter_table("graph_subscriptions") as batch:
        batch.drop_column("accept_until")
        batch.drop_column("mailbox_user_id")
        batch.drop_column("client_state_key_id")
        batch.drop_column("client_state_hash")
        batch.add_column(sa.Column("client_state", sa.LargeBinary, nullable=False))
        batch.add_column(sa.Column("master_key_id", sa.String(16), nullable=False))
