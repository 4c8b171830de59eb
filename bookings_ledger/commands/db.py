"""`bookings-ledger db upgrade`: apply the ledger's migrations, as the schema owner, and grant the runtime role."""
from __future__ import annotations

import click


@click.group()
def command() -> None:
    """Database schema."""


@command.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration as DATABASE_OWNER_URL (safe to run again), then grant DATABASE_URL's role."""
    from bookings_ledger.migration_steps import data_steps
    from config import load_settings
    from database.engine import create_ledger_engine, schema_revisions, upgrade
    from database.roles import grant_runtime_role, runtime_role

    settings = load_settings()
    owner_url = settings.database_owner_url
    engine = create_ledger_engine(owner_url)
    try:
        before, head = schema_revisions(engine)
        upgrade(engine, data_steps=data_steps(settings, report=click.echo))
        role = runtime_role(settings.DATABASE_URL, owner_url)
        if role is not None:
            grant_runtime_role(engine, role)
    finally:
        engine.dispose()
    granted = "" if role is None else f"; role {role} may only append to the chain and the checkpoints"
    click.echo(f"database at revision {head}" + ("" if before == head else f" (was {before or 'empty'})") + granted)

