"""`bookings-ledger checkpoint export FILE | verify FILE [--key VKEY]`."""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def command() -> None:
    """Signed checkpoints of the ledger."""


@command.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_command(file: Path) -> None:
    """Sign a checkpoint of the ledger as it stands, store it, and write it to FILE."""
    from config import load_settings
    from ledger.transactions import utc_now
    from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint
    from database.engine import open_migrated

    settings = load_settings()
    signer = CheckpointSigner.from_settings(settings)
    engine = open_migrated(settings.DATABASE_URL)
    try:
        record = publish_checkpoint(engine, signer, utc_now(), settings.CHECKPOINT_DIR)
    finally:
        engine.dispose()
    file.write_text(record.note, encoding="utf-8")
    click.echo(f"checkpoint of {record.size} entries written to {file} (verifier key {signer.verifier_key})")


@command.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "verifier_key", help="The verifier key string; default: CHECKPOINT_VERIFIER_KEY.")
def verify_command(file: Path, verifier_key: str | None) -> None:
    """Check a checkpoint FILE's signature and that the database's entries, re-hashed, produce its root."""
    from config import load_settings
    from ledger.checkpoint_store import CheckpointMismatch, check_against_ledger, verifier_key_from_settings
    from database.engine import open_migrated, read_only

    settings = load_settings()
    verifier_key = verifier_key or verifier_key_from_settings(settings)
    engine = open_migrated(settings.DATABASE_URL)
    try:
        with read_only(engine) as connection:
            checkpoint = check_against_ledger(connection, file.read_text(encoding="utf-8"), verifier_key)
    except CheckpointMismatch as exc:
        where = f"first bad seq {exc.bad_seq}: " if exc.bad_seq is not None else ""
        click.echo(f"checkpoint verification FAILED: {where}{exc}")
        raise click.exceptions.Exit(1) from None
    finally:
        engine.dispose()
    click.echo(f"checkpoint of {checkpoint.size} entries matches the ledger")
