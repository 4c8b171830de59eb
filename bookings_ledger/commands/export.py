"""`bookings-ledger export DIR`: the ledger for an auditor, with the standalone verifier."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Write entries (JSONL), checkpoints, the public key and the verifier to an empty DIR.

    The export ends with a fresh checkpoint that covers every exported entry: it holds the entries
    up to that checkpoint's size, so the checkpoint's own `checkpoint` entry (and anything appended
    meanwhile) waits for the next export, where a later checkpoint covers it.
    """
    from sqlalchemy.orm import Session

    from config import load_settings
    from ledger.transactions import utc_now
    from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint, stored_checkpoints
    from database.engine import open_migrated, read_only
    from ledger.entries import append_entry, stream_rows
    from ledger.core.auditor_verifier import write_export

    settings = load_settings()
    signer = CheckpointSigner.from_settings(settings)
    engine = open_migrated(settings.DATABASE_URL)
    try:
        record = publish_checkpoint(engine, signer, utc_now(), settings.CHECKPOINT_DIR)
        size = record.size
        with read_only(engine) as connection:
            notes = [row.note for row in stored_checkpoints(connection) if row.size <= size]
            try:
                write_export(directory, stream_rows(connection, upto=size), notes, signer.verifier_key)
            except FileExistsError as exc:
                raise click.UsageError(str(exc)) from None
        with Session(engine) as session, session.begin():
            details = {"entries": size, "checkpoints": len(notes), "checkpoint_size": record.size}
            append_entry(session, "exported", utc_now(), details)
    finally:
        engine.dispose()
    click.echo(f"exported {size} entries and {len(notes)} checkpoints to {directory}")
