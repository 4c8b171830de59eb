"""`bookings-ledger db upgrade`: apply the ledger's migrations to DATABASE_URL."""
from __future__ import annotations

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
        upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database at revision {head}" + ("" if before == head else f" (was {before or 'empty'})"))
