"""`bookings-ledger db upgrade`: apply the ledger's migrations, as the schema owner, and grant the runtime role."""
from __future__ import annotations

from functools import partial
from typing import Any

import click


@click.group()
def command() -> None:
    """Database schema."""


@command.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration as DATABASE_OWNER_URL (safe to run again), then grant DATABASE_URL's role."""
    from config import load_settings
    from database.engine import create_ledger_engine, schema_revisions, upgrade
    from database.roles import grant_runtime_role, runtime_role

    settings = load_settings()
    owner_url = settings.database_owner_url
    engine = create_ledger_engine(owner_url)
    try:
        before, head = schema_revisions(engine)
        upgrade(engine, data_key_mover=partial(_move_data_keys, settings))
        role = runtime_role(settings.DATABASE_URL, owner_url)
        if role is not None:
            grant_runtime_role(engine, role)
    finally:
        engine.dispose()
    granted = "" if role is None else f"; role {role} may only append to the chain and the checkpoints"
    click.echo(f"database at revision {head}" + ("" if before == head else f" (was {before or 'empty'})") + granted)


def _move_data_keys(settings: Any, connection: Any) -> None:
    """Migration 0007's mover: only when there are keys to move are the master key and key store needed."""
    from ledger.encryption import MasterKeys
    from ledger.key_store_migration import move_data_keys
    from ledger.keystore import keystore_from_settings

    master = MasterKeys(settings.key("LEDGER_MASTER_KEY"), tuple(settings.previous_master_keys))
    keystore = keystore_from_settings(settings, master)
    try:
        moved = move_data_keys(connection, keystore, master)
    finally:
        keystore.close()
    click.echo(f"moved the data keys of {moved} subjects to the key store (re-encrypted per category)")
