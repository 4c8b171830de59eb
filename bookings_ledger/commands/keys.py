"""`bookings-ledger keys generate | rotate`: fresh key values, and re-wrapping data keys."""
from __future__ import annotations

import click


@click.group()
def command() -> None:
    """Keys of the ledger."""


@command.command("generate")
def generate_command() -> None:
    """Print fresh values for every key setting, as lines for an env file."""
    from bookings_ledger.keys import generate_all_keys

    for name, value in generate_all_keys().items():
        click.echo(f"{name}={value}")


@command.command("rotate")
def rotate_command() -> None:
    """Re-wrap every data key under a previous master key with LEDGER_MASTER_KEY (idempotent)."""
    from config import load_settings
    from ledger.transactions import utc_now
    from database.engine import open_migrated
    from ledger.key_rotation import rotate_master_key
    from ledger.encryption import MasterKeys

    settings = load_settings()
    master = MasterKeys(settings.key("LEDGER_MASTER_KEY"), tuple(settings.previous_master_keys))
    engine = open_migrated(settings.DATABASE_URL)
    try:
        report = rotate_master_key(engine, master, utc_now)
    finally:
        engine.dispose()
    click.echo(f"re-wrapped {report.rewrapped} data keys under master key {master.current_id}")
    if report.unknown:
        click.echo(f"{report.unknown} data keys are wrapped by master keys not configured in settings", err=True)
        raise click.exceptions.Exit(1)
