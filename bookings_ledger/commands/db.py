"""`bookings-ledger db upgrade`: apply the ledger's migrations to DATABASE_URL."""
from __future__ import annotations

from functools import partial
from typing import Any

import click


@click.group()
def command() -> None:
    """Database schema."""


@command.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration (safe to run again)."""
    from config import load_settings
    from database.engine import create_ledger_engine, schema_revisions, upgrade

    settings = load_settings()
    engine = create_ledger_engine(settings.DATABASE_URL)
    try:
        before, head = schema_revisions(engine)
        upgrade(engine, data_key_mover=partial(_move_data_keys, settings))
    finally:
        engine.dispose()
    click.echo(f"database at revision {head}" + ("" if before == head else f" (was {before or 'empty'})"))


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
