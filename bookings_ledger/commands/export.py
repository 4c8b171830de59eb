"""`bookings-ledger export DIR`: the ledger for an auditor, with the standalone verifier."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Write entries (JSONL), checkpoints, the public key and the verifier to an empty DIR."""
    from sqlalchemy.orm import Session

    from config import load_settings
    from ledger.transactions import utc_now
    from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint, stored_checkpoints
    from database.engine import open_migrated, read_only
    from ledger.entries import append_entry, head, stream_rows
    from ledger.core.auditor_verifier import write_export

    settings = load_settings()
    signer = CheckpointSigner.from_settings(settings)
    engine = open_migrated(settings.DATABASE_URL)
    try:
        # A fresh checkpoint first, so every exported entry is covered by a signed root.
        record = publish_checkpoint(engine, signer, utc_now(), settings.CHECKPOINT_DIR)
        with read_only(engine) as connection:
            size, _hash = head(connection)
            notes = [row.note for row in stored_checkpoints(connection)]
            try:
                write_export(directory, stream_rows(connection), notes, signer.verifier_key)
            except FileExistsError as exc:
                raise click.UsageError(str(exc)) from None
        with Session(engine) as session, session.begin():
            details = {"entries": size, "checkpoints": len(notes), "checkpoint_size": record.size}
            append_entry(session, "exported", utc_now(), details)
    finally:
        engine.dispose()
    click.echo(f"exported {size} entries and {len(notes)} checkpoints to {directory}")
