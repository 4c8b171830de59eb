"""`bookings-ledger keys generate | rotate`: fresh key values, and re-wrapping the key store's data keys."""
from __future__ import annotations

import click


@click.group()
def command() -> None:
    """Keys of the ledger."""


@command.command("generate")
def generate_command() -> None:
    """Print fresh values for every key setting (the verifier key under CHECKPOINT_ORIGIN), as env lines."""
    from bookings_ledger.keys import generate_all_keys
    from config import load_settings

    for name, value in generate_all_keys(load_settings().CHECKPOINT_ORIGIN).items():
        click.echo(f"{name}={value}")


@command.command("rotate")
def rotate_command() -> None:
    """Re-wrap every key-store data key under a previous master key with LEDGER_MASTER_KEY (idempotent)."""
    from bookings_ledger.wiring import opened_ledger
    from config import load_settings
    from ledger.key_rotation import rotate_master_key

    with opened_ledger(load_settings()) as ledger:
        master_id = ledger.keys.master.current_id
        report = rotate_master_key(ledger.engine, ledger.keystore, master_id, ledger.clock)
    click.echo(f"re-wrapped {report.rewrapped} data keys in the key store under master key {master_id}"
               f" ({len(report.entry_seqs)} key-rotated entries)")
    if report.unknown:
        click.echo(f"{report.unknown} data keys are wrapped by master keys not configured in settings", err=True)
        raise click.exceptions.Exit(1)
